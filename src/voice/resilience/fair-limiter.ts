/**
 * A concurrency cap with a fair queue across calls, in this process: at most `max` requests in
 * flight; when a slot frees, it goes to the waiting call served least recently (round-robin
 * between calls), so one talkative call cannot starve the others. A waiter leaves the queue
 * when its signal aborts or its phrase goes stale. `max` follows an AccountLimit when given
 * one (the account's limit as ElevenLabs reports it, lowered for a while after a 429).
 * The fleet-wide variant on Redis (redis-limiter.ts) has the same interface.
 */
import { performance } from 'node:perf_hooks';
import { AccountLimit } from './account-limit.js';
import { abortedError } from '../errors.js';

export type Release = () => void;

/** What LimitedConverter needs of a limiter: the in-process FairLimiter or the fleet's RedisFairLimiter. */
export interface ConcurrencyLimiter {
  /** Where slots come from: this process, or the pool on Redis. */
  readonly kind: 'local' | 'redis';
  /** Waits for a slot; rejects when signal aborts (aborted) or at staleAt (onStale's error). */
  acquire(key: string, signal: AbortSignal, staleAt?: number, onStale?: () => Error): Promise<Release>;
  /** Slots this instance holds. */
  readonly inFlight: number;
  /** Phrases of this instance waiting for one. */
  readonly queued: number;
  /** The limit now (configured, capped by the account's and by a recent 429). */
  readonly limit: number;
  /** ElevenLabs said the account's limit (maximum-concurrent-requests). */
  learnLimit(max: number): void;
  /** ElevenLabs refused a request over the account's concurrency while this slot was held. */
  refused(): void;
  close(): Promise<void>;
}

interface Waiter {
  key: string;
  grant(release: Release): void;
}

export class FairLimiter implements ConcurrencyLimiter {
  readonly kind = 'local';
  private active = 0;
  private readonly queues = new Map<string, Waiter[]>();
  /** Per call: a tick of when it was last given a slot (lower = longer ago), and its slots in use. */
  private readonly lastServed = new Map<string, number>();
  private readonly activeByKey = new Map<string, number>();
  private tick = 0;
  private readonly account: AccountLimit | undefined;
  private readonly fixed: number | (() => number);
  private liftTimer: NodeJS.Timeout | undefined;

  /** max: a fixed cap, a function read at each grant (the fleet's fallback share; 0 holds every waiter), or an AccountLimit. */
  constructor(max: number | (() => number) | AccountLimit) {
    if (max instanceof AccountLimit) this.account = max;
    else if (typeof max === 'number' && !(max >= 1)) throw new RangeError('max concurrency must be at least 1');
    this.fixed = max instanceof AccountLimit ? 0 : max;
  }

  get max(): number {
    if (this.account) return this.account.value;
    return typeof this.fixed === 'number' ? this.fixed : Math.max(0, this.fixed());
  }

  get limit(): number {
    return this.max;
  }

  learnLimit(max: number): void {
    if (this.account?.learn(max)) this.dispatch();
  }

  refused(): void {
    if (!this.account) return;
    this.account.lower(this.active);
    // when the lowered limit lifts, the queue may move before any release
    const until = this.account.loweredUntil;
    clearTimeout(this.liftTimer);
    if (until !== undefined) this.liftTimer = setTimeout(() => this.dispatch(), Math.max(0, until - performance.now()) + 1).unref();
  }

  /** Re-reads max and hands out what it allows (after a change of a function max). */
  poke(): void {
    this.dispatch();
  }

  close(): Promise<void> {
    clearTimeout(this.liftTimer);
    return Promise.resolve();
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /**
   * Waits for a slot. Rejects with an aborted ConversionError when signal aborts, or with a
   * stale one when performance.now() reaches staleAt, whichever first.
   */
  acquire(key: string, signal: AbortSignal, staleAt = Infinity, onStale?: () => Error): Promise<Release> {
    if (signal.aborted) return Promise.reject(abortedError(signal.reason));
    if (this.active < this.max && this.queued === 0) return Promise.resolve(this.take(key));
    return new Promise<Release>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (err: Error) => {
        const q = this.queues.get(key);
        const i = q?.indexOf(waiter) ?? -1;
        if (i < 0) return;
        q!.splice(i, 1);
        if (q!.length === 0) this.queues.delete(key);
        cleanup();
        this.prune(key);
        reject(err);
      };
      const onAbort = () => leave(abortedError(signal.reason));
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        key,
        grant: (release) => {
          cleanup();
          resolve(release);
        },
      };
      let q = this.queues.get(key);
      if (!q) this.queues.set(key, (q = []));
      q.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(staleAt)) {
        timer = setTimeout(() => leave(onStale?.() ?? new Error('stale')), Math.max(0, staleAt - performance.now()));
      }
    });
  }

  private take(key: string): Release {
    this.active++;
    this.activeByKey.set(key, (this.activeByKey.get(key) ?? 0) + 1);
    this.lastServed.set(key, ++this.tick);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const n = (this.activeByKey.get(key) ?? 1) - 1;
      if (n > 0) this.activeByKey.set(key, n);
      else this.activeByKey.delete(key);
      this.prune(key);
      this.dispatch();
    };
  }

  private dispatch(): void {
    while (this.active < this.max && this.queues.size > 0) {
      let pick: string | undefined;
      let oldest = Infinity;
      for (const key of this.queues.keys()) {
        const t = this.lastServed.get(key) ?? 0;
        if (t < oldest) {
          oldest = t;
          pick = key;
        }
      }
      const q = this.queues.get(pick!)!;
      const waiter = q.shift()!;
      if (q.length === 0) this.queues.delete(pick!);
      waiter.grant(this.take(waiter.key));
    }
  }

  /** Forgets a call that has nothing queued or in flight (a returning call starts afresh). */
  private prune(key: string): void {
    if (!this.queues.has(key) && !this.activeByKey.has(key)) this.lastServed.delete(key);
  }
}

