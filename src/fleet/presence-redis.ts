/**
 * Presence and queues for the whole fleet (REDIS_URL): the PresenceStore contract of
 * src/session/line/presence.ts, with the rules of presence-memory.ts, kept in Redis by the Lua
 * scripts of presence-scripts.ts.
 *
 * - Claims are atomic (one script reads the queue and the agents and marks them ringing), so
 *   two instances never ring one agent, and the longest-waiting caller of a line is served
 *   first whichever instance holds it.
 * - Leases: every claim (ringing, on a call) and every waiting caller carries this instance's
 *   id and an expiry, renewed by a heartbeat every heartbeatMs (default 2 s; lease 6 s). When an
 *   instance dies, its claims go back to available and its callers leave the queues within the
 *   lease. The heartbeat also re-creates what Redis lost (a restart without persistence): the
 *   roster, this instance's callers at their places, its claims whose agent is still free.
 * - Wrap-up is an expiry time in Redis. Every change is published on the pool's channel with
 *   the time to the next timer (a wrap-up end or a lease expiry); each instance notifies its
 *   listeners on each message and keeps a local timer for that next event, whose script run
 *   makes it happen and publishes it: a freed agent reaches the longest-waiting caller on any
 *   instance within milliseconds.
 * - Redis down or slower than timeoutMs: every method rejects with PresenceUnavailableError
 *   (callers keep their callers on hold and retry on the next change or their own timer);
 *   nothing is decided locally, so an instance cut off from Redis rings nobody. (Calls made
 *   while the first connection is being made wait for it, up to startWaitMs; the roster, the
 *   callers and the claims this instance knows are written again by the heartbeat once Redis
 *   answers, so a setRoster() that failed at startup heals by itself.) A claim whose
 *   answer arrives after its timeout is released at once; one that never answers expires with
 *   its lease, unrenewed. When Redis is back the listeners are told, to try again. ioredis
 *   reconnects by itself. The limit of the guarantee: an instance stalled longer than the lease
 *   loses its claims, which may be given to another caller; its heartbeat logs them when it
 *   comes back.
 * - Keys: `<namespace>:{<pool>}:...` (presence-scripts.ts lists them); bounded by the roster,
 *   the lines and the callers waiting now.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { AgentPresence, AgentState, ClaimRequest, PresenceStore, Waiter } from '../session/line/presence.js';
import { agentState } from '../session/line/presence-memory.js';
import { CLAIM, CONNECTED, ENQUEUE, LEAVE, PAUSE, PRESENCE_KEYS, QUEUE, RELEASE, RENEW, SET_ROSTER, SNAPSHOT } from './presence-scripts.js';
import { timed } from './redis-limiter.js';

export interface RedisPresenceOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// */
  url: string;
  /** Instances with the same pool (and namespace) share agents and queues (default 'default'). */
  pool?: string;
  /** The keys' first part (default 'voicemask:presence'). */
  namespace?: string;
  log: Logger;
  /** A claim or waiter not renewed for this long expires (default 6000 ms). */
  leaseMs?: number;
  /** How often the leases are renewed (default leaseMs / 3). */
  heartbeatMs?: number;
  /** Longest wait for a Redis answer before a method rejects (default 500 ms). */
  timeoutMs?: number;
  /** How long calls made while the first connection is being made wait for it (default 2000 ms). */
  startWaitMs?: number;
  instanceId?: string;
  /** Extra ioredis options (tests). */
  redis?: RedisOptions;
}

/** Redis did not answer (down, or slower than timeoutMs): nothing was decided; try again later. */
export class PresenceUnavailableError extends Error {
  readonly code = 'PRESENCE_UNAVAILABLE';
  constructor(why: string, options?: { cause?: unknown }) {
    super(`presence store: Redis unavailable (${why}); nothing was claimed or changed, try again`, options);
    this.name = 'PresenceUnavailableError';
  }
}

type Reply = Array<string | number>;
type Script = (...args: Array<string | number>) => Promise<Reply>;
const SCRIPTS = { SET_ROSTER, ENQUEUE, LEAVE, QUEUE, CLAIM, CONNECTED, RELEASE, PAUSE, SNAPSHOT, RENEW } as const;
type ScriptName = keyof typeof SCRIPTS;
type Scripted = Redis & Record<`vm${ScriptName}`, Script>;

interface AgentJson {
  s: Exclude<AgentState, 'paused'>;
  since: number;
  last?: number;
  calls: number;
  call?: string;
  p: number;
}

export class RedisPresence implements PresenceStore {
  readonly instanceId: string;
  private readonly redis: Scripted;
  private readonly sub: Redis;
  private readonly keys: string[];
  private readonly channel: string;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  /** What this instance holds, renewed by the heartbeat (and re-created if Redis lost it). */
  private readonly roster = new Set<string>();
  private readonly waiting = new Map<string, { line: string; callSid: string; at: number }>();
  private readonly enqueuing = new Map<string, symbol>();
  private readonly claims = new Map<string, { callSid: string; state: 'ringing' | 'on-call' }>();
  private readonly listeners = new Set<() => void>();
  private readonly heartbeat: NodeJS.Timeout;
  private next: { at: number; timer: NodeJS.Timeout } | undefined;
  private notifying: NodeJS.Immediate | undefined;
  /** Settles when the first connection is ready, or after startWaitMs. */
  private readonly firstReady: Promise<void>;
  private renewing = false;
  private up: boolean | undefined;
  private closed = false;

  constructor(private readonly opts: RedisPresenceOptions) {
    this.instanceId = opts.instanceId ?? randomBytes(6).toString('hex');
    this.leaseMs = opts.leaseMs ?? 6000;
    this.timeoutMs = opts.timeoutMs ?? 500;
    const prefix = `${opts.namespace ?? 'voicemask:presence'}:{${opts.pool ?? 'default'}}:`;
    this.keys = PRESENCE_KEYS.map((k) => prefix + k);
    this.channel = `${prefix}changed`;
    const common: RedisOptions = { connectTimeout: 1000, retryStrategy: (n) => Math.min(100 * n, 1000), ...opts.redis };
    // Timeouts are ours (timed), not ioredis' commandTimeout; nothing queues while disconnected.
    this.redis = new Redis(opts.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0 }) as Scripted;
    for (const [name, lua] of Object.entries(SCRIPTS)) this.redis.defineCommand(`vm${name}`, { numberOfKeys: this.keys.length, lua });
    this.sub = new Redis(opts.url, { ...common, maxRetriesPerRequest: null });
    this.sub.on('message', (_channel: string, message: string) => {
      this.schedule(Number(message));
      this.changed();
    });
    this.sub.on('error', () => {}); // the main connection reports the state
    this.sub.subscribe(this.channel).catch(() => {});
    this.redis.on('ready', () => {
      void this.renew();
      this.changed(); // whatever failed meanwhile may be tried again
    });
    this.redis.on('error', (err: Error) => this.setUp(false, err.message));
    this.redis.on('close', () => this.setUp(false, 'connection closed'));
    const startWait = opts.startWaitMs ?? 2000;
    this.firstReady = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, startWait).unref();
      this.redis.once('ready', () => (clearTimeout(t), resolve()));
    });
    this.heartbeat = setInterval(() => void this.renew(), opts.heartbeatMs ?? Math.max(100, Math.floor(this.leaseMs / 3))).unref();
  }

  /** Whether the last exchange with Redis worked. */
  get redisUp(): boolean {
    return this.up === true;
  }

  async setRoster(agentIds: readonly string[]): Promise<void> {
    for (const id of agentIds) this.roster.add(id);
    await this.run('SET_ROSTER', agentIds);
  }

  async enqueue(w: { line: string; callSid: string; enqueuedAt?: number }): Promise<Waiter> {
    const key = `${w.line}\n${w.callSid}`;
    const mark = Symbol(key);
    this.enqueuing.set(key, mark);
    const [at] = await this.run('ENQUEUE', [w.line, w.callSid, w.enqueuedAt ?? '']);
    const enqueuedAt = Number(at);
    // a leave() made while this was on its way wins: the heartbeat must not bring the caller back
    if (this.enqueuing.get(key) === mark) {
      this.enqueuing.delete(key);
      this.waiting.set(key, { line: w.line, callSid: w.callSid, at: enqueuedAt });
    }
    return { line: w.line, callSid: w.callSid, enqueuedAt, instance: this.instanceId };
  }

  async leave(line: string, callSid: string): Promise<void> {
    this.enqueuing.delete(`${line}\n${callSid}`);
    this.waiting.delete(`${line}\n${callSid}`);
    await this.run('LEAVE', [line, callSid]);
  }

  async queue(line: string): Promise<Waiter[]> {
    const r = await this.run('QUEUE', [line]);
    const out: Waiter[] = [];
    for (let i = 0; i + 2 < r.length; i += 3) out.push({ line, callSid: String(r[i]), enqueuedAt: Number(r[i + 1]), instance: String(r[i + 2]) });
    return out;
  }

  async claim(req: ClaimRequest): Promise<string[]> {
    const exclude = req.exclude ?? [];
    const args = [req.line, req.callSid, req.strategy, req.candidates.length, ...req.candidates, exclude.length, ...exclude];
    // An answer after the timeout may still be a claim nobody will ring: give it straight back.
    const late = (ids: Reply) => {
      for (const id of ids) void this.run('RELEASE', [String(id), req.callSid, 0, 0]).catch(() => {});
    };
    const ids = (await this.run('CLAIM', args, late)).map(String);
    for (const id of ids) this.claims.set(id, { callSid: req.callSid, state: 'ringing' });
    return ids;
  }

  async connected(agentId: string, callSid: string): Promise<void> {
    const c = this.claims.get(agentId);
    if (c?.callSid === callSid) c.state = 'on-call';
    await this.run('CONNECTED', [agentId, callSid]);
  }

  async release(agentId: string, callSid: string, o: { wrapUpMs: number; answered: boolean }): Promise<void> {
    if (this.claims.get(agentId)?.callSid === callSid) this.claims.delete(agentId);
    await this.run('RELEASE', [agentId, callSid, Math.max(0, Math.round(o.wrapUpMs)), o.answered ? 1 : 0]);
  }

  async setPaused(agentId: string, paused: boolean): Promise<void> {
    await this.run('PAUSE', [agentId, paused ? 1 : 0]);
  }

  async snapshot(): Promise<AgentPresence[]> {
    const r = await this.run('SNAPSHOT', []);
    const out: AgentPresence[] = [];
    for (let i = 0; i + 1 < r.length; i += 2) {
      const a = JSON.parse(String(r[i + 1])) as AgentJson;
      out.push({ id: String(r[i]), state: agentState({ state: a.s, paused: a.p === 1 }), since: a.since, lastCallEndedAt: a.last, callsTaken: a.calls, callSid: a.call });
    }
    return out;
  }

  onChange(cb: () => void): () => void {
    const entry = () => cb();
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  /** Stops the heartbeat and closes the connections; this instance's leases run out by themselves. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearInterval(this.heartbeat);
    if (this.next) clearTimeout(this.next.timer);
    if (this.notifying) clearImmediate(this.notifying);
    this.listeners.clear();
    this.redis.disconnect();
    this.sub.disconnect();
    return Promise.resolve();
  }

  /** Runs a script with the pool's keys; its header (next timer, expiries, changes) is handled here. */
  private async run(name: ScriptName, args: ReadonlyArray<string | number>, late?: (r: Reply) => void): Promise<Reply> {
    if (this.closed) throw new PresenceUnavailableError('the store is closed');
    // Only while starting does a call wait for the connection; later it fails at once.
    if (this.up === undefined && this.redis.status !== 'ready') await this.firstReady;
    if (this.redis.status !== 'ready') throw new PresenceUnavailableError(`Redis is ${this.redis.status}`);
    const asked = this.redis[`vm${name}`](...this.keys, this.channel, this.instanceId, this.leaseMs, ...args);
    let r: Reply;
    try {
      r = await timed(asked, this.timeoutMs);
    } catch (err) {
      if (late) asked.then((v) => late(v.slice(3)), () => {});
      if ((err as Error).name === 'ReplyError') throw err; // a script's own error: not Redis' availability
      this.setUp(false, (err as Error).message);
      throw new PresenceUnavailableError((err as Error).message, { cause: err });
    }
    this.setUp(true);
    const [nextIn, expired, changed] = r.map(Number) as [number, number, number];
    this.schedule(nextIn);
    if (expired > 0) this.opts.log.warn({ expired, instance: this.instanceId }, 'presence: leases expired (an instance died or stalled): its claims are available again, its callers left the queues');
    if (changed > 0) this.changed();
    return r.slice(3);
  }

  /** The heartbeat: renews (or re-creates) this instance's waiters and claims. */
  private async renew(): Promise<void> {
    if (this.closed || this.renewing || this.redis.status !== 'ready') return;
    this.renewing = true;
    const waiting = [...this.waiting.values()].flatMap((w) => [w.line, w.callSid, w.at]);
    const claims = [...this.claims].flatMap(([id, c]) => [id, c.callSid, c.state]);
    try {
      const lost = await this.run('RENEW', [this.roster.size, ...this.roster, waiting.length / 3, ...waiting, claims.length / 3, ...claims]);
      for (const id of lost.map(String)) {
        const c = this.claims.get(id);
        this.claims.delete(id);
        this.opts.log.warn({ agent: id, callSid: c?.callSid, instance: this.instanceId }, 'presence: this instance’s claim on an agent expired and the agent was claimed again meanwhile (this instance stalled longer than the lease)');
      }
    } catch {
      // logged by setUp; the next beat tries again
    } finally {
      this.renewing = false;
    }
  }

  /** Looks again when the next timer in Redis is due (a wrap-up end, a lease expiry). */
  private schedule(inMs: number): void {
    if (!Number.isFinite(inMs) || inMs < 0 || this.closed) return;
    const at = performance.now() + inMs + 2;
    if (this.next && this.next.at <= at) return;
    if (this.next) clearTimeout(this.next.timer);
    const timer = setTimeout(() => {
      this.next = undefined;
      void this.renew();
    }, at - performance.now());
    timer.unref();
    this.next = { at, timer };
  }

  /** Tells the listeners on a later turn, once for every change heard meanwhile. */
  private changed(): void {
    if (this.notifying || this.closed) return;
    this.notifying = setImmediate(() => {
      this.notifying = undefined;
      for (const cb of [...this.listeners]) {
        try {
          cb();
        } catch {
          // a listener's failure is its own; the others still hear of the change
        }
      }
    });
  }

  private setUp(up: boolean, why?: string): void {
    if (this.up === up || this.closed) return;
    const was = this.up;
    this.up = up;
    if (up) this.opts.log.info({ instance: this.instanceId, was: was === undefined ? 'starting' : 'down' }, 'presence: Redis reachable, agents and queues are shared');
    else this.opts.log.warn({ instance: this.instanceId, why }, 'presence: Redis unreachable or slow: no agent is claimed and no caller queued until it answers');
  }
}
