/**
 * The fleet's concurrency limit: one fair semaphore on Redis for every instance that shares
 * REDIS_URL and an ElevenLabs key (ELEVENLABS_MAX_CONCURRENCY is then the limit of them all).
 *
 * - Slots are leases (a sorted set scored by expiry, Redis' clock): each instance renews its own
 *   every leaseMs/3; the slots of an instance that dies are free again within leaseMs.
 * - Waiting phrases queue in Redis too, and a freed slot goes to the waiting call, of any
 *   instance, that was served least recently (round-robin, as FairLimiter does in-process).
 *   A release publishes on a channel so the waiters ask again at once; they also poll.
 * - The limit follows the account: maximum-concurrent-requests caps it, and a 429
 *   too_many_concurrent_requests lowers it for the whole pool for a while (redis-scripts.ts).
 * - Redis down or slow (a command over timeoutMs): the instance takes slots from its share,
 *   the limit divided by the live instances last seen, in an in-process FairLimiter; logged,
 *   counted (voicemask_limiter_fallback_total), and those slots are written to Redis as leases
 *   as soon as it answers again, so the pool counts them. ioredis reconnects by itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { AccountLimit } from '../voice/resilience/account-limit.js';
import { FairLimiter, type ConcurrencyLimiter, type Release } from '../voice/resilience/fair-limiter.js';
import { abortedError } from '../voice/errors.js';
import { ACQUIRE, LOWER, POOL_KEYS, RELEASE, RENEW } from './redis-scripts.js';

export interface RedisLimiterOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// */
  url: string;
  /** ELEVENLABS_MAX_CONCURRENCY: the limit of the whole pool. */
  limit: number;
  /** Names the pool: instances with the same one share the limit (default: a hash of the ElevenLabs key). */
  pool: string;
  log: Logger;
  /** A lease not renewed for this long is freed (default 3000 ms). */
  leaseMs?: number;
  /** Longest wait for Redis before a phrase uses the local share (default 25 ms). */
  timeoutMs?: number;
  /** Waiters ask again at least this often (default 100 ms), besides the release messages. */
  pollMs?: number;
  /** How long a 429 lowers the limit (default 30 s). */
  lowerForMs?: number;
  instanceId?: string;
  /** Extra ioredis options (tests). */
  redis?: RedisOptions;
}

/** The pool name for an ElevenLabs key and host: never the key itself. */
export function poolName(apiKey: string, baseUrl: string): string {
  return createHash('sha256').update(`${baseUrl}\n${apiKey}`).digest('hex').slice(0, 16);
}

interface Waiter {
  id: string;
  key: string;
  since: number;
  polling: boolean;
  settled: boolean;
  grant(release: Release, source: 'redis'): void;
  fail(err: Error): void;
  /** Continue in the local share (Redis went away while waiting). */
  degrade(): void;
}

type Scripted = Redis & {
  vmAcquire(...args: Array<string | number>): Promise<number[]>;
  vmRenew(...args: Array<string | number>): Promise<number[]>;
  vmRelease(...args: Array<string | number>): Promise<number>;
  vmLower(...args: Array<string | number>): Promise<number>;
};

/**
 * p, or a rejection after ms. The deadline is checked after the event loop has read the sockets
 * (setImmediate runs after the poll phase): an answer that arrived while this process was busy
 * counts as in time, so a stalled event loop is not mistaken for a slow Redis.
 */
export function timed<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new Error(`Redis did not answer within ${ms} ms`));
        }),
      ms,
    );
    p.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

export class RedisFairLimiter implements ConcurrencyLimiter {
  readonly kind = 'redis';
  readonly instanceId: string;
  private readonly redis: Scripted;
  private readonly sub: Redis;
  private readonly keys: string[];
  private readonly channel: string;
  private readonly account: AccountLimit;
  /** The fallback: this instance's share of the limit. */
  private readonly local: FairLimiter;
  private readonly held = new Set<string>();
  /** Of those, granted by Redis (the rest came from the share). */
  private viaRedis = 0;
  private readonly waiters = new Set<Waiter>();
  private liveInstances = 0;
  private poolLimit: number;
  private seq = 0;
  private degradedUntil = 0;
  private up: boolean | undefined;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly renewTimer: NodeJS.Timeout;
  private readonly pollTimer: NodeJS.Timeout;
  private closed = false;
  private learnedSent: number | undefined;

  constructor(private readonly opts: RedisLimiterOptions) {
    this.instanceId = opts.instanceId ?? randomBytes(6).toString('hex');
    this.leaseMs = opts.leaseMs ?? 3000;
    this.timeoutMs = opts.timeoutMs ?? 25;
    this.account = new AccountLimit({ configured: opts.limit, lowerForMs: opts.lowerForMs ?? 30_000 });
    this.poolLimit = this.account.value;
    // Slots still held through Redis when it went away count against the share.
    this.local = new FairLimiter(() => this.share - this.viaRedis);
    const prefix = `voicemask:limiter:{${opts.pool}}:`;
    this.keys = POOL_KEYS.map((k) => prefix + k);
    this.channel = `${prefix}freed`;
    const common: RedisOptions = {
      connectTimeout: 1000,
      retryStrategy: (n) => Math.min(100 * n, 1000),
      ...opts.redis,
    };
    // Timeouts are ours (timed below), not ioredis' commandTimeout: see timed().
    this.redis = new Redis(opts.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0 }) as Scripted;
    for (const [name, lua] of [
      ['vmAcquire', ACQUIRE],
      ['vmRenew', RENEW],
      ['vmRelease', RELEASE],
      ['vmLower', LOWER],
    ] as const) {
      this.redis.defineCommand(name, { numberOfKeys: name === 'vmRelease' ? 3 : this.keys.length, lua });
    }
    // The subscriber may queue its SUBSCRIBE until connected; ioredis re-subscribes on reconnect.
    this.sub = new Redis(opts.url, { ...common, maxRetriesPerRequest: null });
    this.sub.on('message', () => this.pollAll());
    this.sub.on('error', () => {}); // the main connection reports the state
    this.sub.subscribe(this.channel).catch(() => {});
    this.redis.on('ready', () => void this.renew());
    this.redis.on('error', (err: Error) => this.setUp(false, err.message));
    this.redis.on('close', () => this.setUp(false, 'connection closed'));
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.leaseMs / 3))).unref();
    this.pollTimer = setInterval(() => this.pollAll(), opts.pollMs ?? 100).unref();
    metrics.concurrencyLimit.set({ scope: 'pool' }, this.poolLimit);
  }

  /** Slots this instance holds, through Redis or its share. */
  get inFlight(): number {
    return this.held.size;
  }

  get queued(): number {
    return this.waiters.size + this.local.queued;
  }

  /** The pool's limit as Redis last said it. */
  get limit(): number {
    return this.poolLimit;
  }

  /** This instance's share while Redis is away: the limit over the live instances last seen. */
  get share(): number {
    return Math.max(1, Math.floor(this.account.value / Math.max(1, this.liveInstances)));
  }

  /** Whether the last exchange with Redis worked. */
  get redisUp(): boolean {
    return this.up === true;
  }

  learnLimit(max: number): void {
    const changed = this.account.learn(max);
    if (changed) this.local.poke();
    if (max === this.learnedSent || !this.ready()) return;
    this.learnedSent = max;
    this.redis.set(this.keys[5]!, String(max), 'PX', 600_000).catch(() => (this.learnedSent = undefined));
  }

  refused(): void {
    // Locally (the share while Redis is away): one fewer than this instance holds, as a share.
    const live = Math.max(1, this.liveInstances);
    this.account.lower(this.held.size * live - (live - 1));
    if (!this.ready()) return;
    this.redis.vmLower(...this.keys, this.opts.limit, this.opts.lowerForMs ?? 30_000).then(
      (v) => {
        this.poolLimit = v;
        metrics.concurrencyLimit.set({ scope: 'pool' }, v);
        this.opts.log.warn({ limit: v, instance: this.instanceId }, 'ElevenLabs answered 429 too_many_concurrent_requests: the pool limit is lowered for a while');
      },
      () => {},
    );
  }

  acquire(key: string, signal: AbortSignal, staleAt = Infinity, onStale?: () => Error): Promise<Release> {
    if (signal.aborted) return Promise.reject(abortedError());
    const since = performance.now();
    if (!this.ready()) return this.fromShare(key, signal, staleAt, onStale, since, this.up === undefined ? 'connecting' : 'down');
    const id = `${this.instanceId}:${++this.seq}`;
    return new Promise<Release>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        waiter.settled = true;
        this.waiters.delete(waiter);
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const leave = (err: Error) => {
        if (waiter.settled) return;
        cleanup();
        this.forget(id);
        reject(err);
      };
      const onAbort = () => leave(abortedError());
      const waiter: Waiter = {
        id,
        key,
        since,
        polling: false,
        settled: false,
        grant: (release, source) => {
          cleanup();
          metrics.slotWait.observe({ source }, (performance.now() - since) / 1000);
          resolve(release);
        },
        fail: leave,
        degrade: () => {
          if (waiter.settled) return;
          cleanup();
          this.forget(id);
          this.fromShare(key, signal, staleAt, onStale, since, 'failed').then(resolve, reject);
        },
      };
      this.waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(staleAt)) timer = setTimeout(() => leave(onStale?.() ?? new Error('stale')), Math.max(0, staleAt - performance.now()));
      this.poll(waiter);
    });
  }

  private ready(): boolean {
    return !this.closed && this.redis.status === 'ready' && performance.now() >= this.degradedUntil;
  }

  /** Asks Redis for a slot for this waiter (one script call); grants, keeps waiting, or degrades. */
  private poll(w: Waiter): void {
    if (w.polling || w.settled) return;
    if (!this.ready()) return w.degrade();
    w.polling = true;
    const asked = this.redis.vmAcquire(...this.keys, this.opts.limit, w.id, w.key, this.leaseMs, 1000);
    // An answer after the timeout may still be a grant: give that slot straight back.
    asked.then((r) => void (w.settled && Number(r[0]) === 1 && this.forget(w.id)), () => {});
    timed(asked, this.timeoutMs).then(
      (r) => {
        w.polling = false;
        this.setUp(true);
        const [granted, held, waiting, limit, expired] = r.map(Number) as [number, number, number, number, number];
        this.pool(held, waiting, limit, expired);
        if (granted !== 1) return;
        if (w.settled) return void this.forget(w.id); // cancelled while the answer was on its way
        w.grant(this.lease(w.id, true), 'redis');
      },
      (err: Error) => {
        w.polling = false;
        this.trouble(err);
        w.degrade();
      },
    );
  }

  private pollAll(): void {
    for (const w of this.waiters) this.poll(w);
  }

  /** A slot held through Redis. */
  private lease(id: string, viaRedis: boolean): Release {
    this.held.add(id);
    if (viaRedis) this.viaRedis++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(id);
      this.forget(id);
      if (viaRedis) {
        this.viaRedis--;
        this.local.poke();
      }
    };
  }

  /** Frees a lease or a queue place in Redis; if Redis is away the lease expires by itself. */
  private forget(id: string): void {
    if (this.redis.status !== 'ready') return;
    this.redis.vmRelease(this.keys[0]!, this.keys[1]!, this.keys[2]!, id, this.channel).catch(() => {});
  }

  /** A slot from this instance's share, while Redis is away; recorded as a lease once Redis is back. */
  private async fromShare(key: string, signal: AbortSignal, staleAt: number, onStale: (() => Error) | undefined, since: number, reason: string): Promise<Release> {
    metrics.redisFallbacks.inc({ reason });
    if (reason !== 'connecting') this.setUp(false, reason === 'down' ? `Redis is ${this.redis.status}` : 'a command failed');
    const inner = await this.local.acquire(key, signal, staleAt, onStale);
    metrics.slotWait.observe({ source: 'fallback' }, (performance.now() - since) / 1000);
    const id = `${this.instanceId}:${++this.seq}`;
    const release = this.lease(id, false);
    void this.renew(); // count it in the pool at once if Redis answers
    return () => {
      inner();
      release();
    };
  }

  /** Renews this instance's leases and heartbeat; learns the live instances and the pool's state. */
  private async renew(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    try {
      const r = await timed(this.redis.vmRenew(...this.keys, this.opts.limit, this.instanceId, this.leaseMs, this.leaseMs, ...this.held), Math.max(this.timeoutMs, this.leaseMs / 3));
      const [live, held, waiting, limit, expired] = r.map(Number) as [number, number, number, number, number];
      this.setUp(true);
      this.degradedUntil = 0;
      if (live !== this.liveInstances) {
        this.liveInstances = live;
        metrics.fleetInstances.set(live);
        this.local.poke();
      }
      this.pool(held, waiting, limit, expired);
      if (this.waiters.size) this.pollAll();
    } catch (err) {
      this.trouble(err as Error);
    }
  }

  private pool(held: number, waiting: number, limit: number, expired: number): void {
    if (expired > 0) {
      metrics.leasesExpired.inc(expired);
      this.opts.log.warn({ expired, instance: this.instanceId }, 'freed ElevenLabs slots whose leases expired (an instance died or stalled while holding them)');
    }
    this.poolLimit = limit;
    metrics.slotsInFlight.set({ scope: 'pool' }, held);
    metrics.slotsWaiting.set({ scope: 'pool' }, waiting);
    metrics.concurrencyLimit.set({ scope: 'pool' }, limit);
  }

  /** A command failed or timed out: phrases use the local share for a moment. */
  private trouble(err: Error): void {
    // connected but slow: try again soon; disconnected: ioredis reconnects meanwhile
    this.degradedUntil = performance.now() + (this.redis.status === 'ready' ? 250 : 1000);
    this.setUp(false, err.message);
  }

  private setUp(up: boolean, why?: string): void {
    if (this.up === up || this.closed) return;
    const was = this.up;
    this.up = up;
    metrics.redisUp.set(up ? 1 : 0);
    metrics.concurrencyLimit.set({ scope: 'fallback' }, up ? 0 : this.share);
    const log = this.opts.log;
    if (up) log.info({ instance: this.instanceId, was: was === undefined ? 'starting' : 'down' }, 'shared ElevenLabs limit: Redis reachable, slots come from the pool');
    else
      log.warn(
        { instance: this.instanceId, why, share: this.share, liveInstancesLastSeen: this.liveInstances },
        `shared ElevenLabs limit: Redis unreachable or slow, using this instance's share (${this.share} of ${this.account.value}) until it answers`,
      );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // give back the slots and the heartbeat while Redis still answers
    const ids = [...this.held];
    if (this.redis.status === 'ready') {
      await Promise.all([...ids.map((id) => this.redis.vmRelease(this.keys[0]!, this.keys[1]!, this.keys[2]!, id, this.channel)), this.redis.zrem(this.keys[7]!, this.instanceId)]).catch(() => {});
    }
    this.closed = true;
    clearInterval(this.renewTimer);
    clearInterval(this.pollTimer);
    for (const w of [...this.waiters]) w.fail(abortedError());
    await this.local.close();
    this.redis.disconnect();
    this.sub.disconnect();
  }
}
