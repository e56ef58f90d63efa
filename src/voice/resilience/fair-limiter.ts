/**
 * A global concurrency cap with a fair queue across calls: at most `max` requests in flight;
 * when a slot frees, it goes to the waiting call served least recently (round-robin between
 * calls), so one talkative call cannot starve the others. A waiter leaves the queue when its
 * signal aborts or its phrase goes stale.
 */
import { performance } from 'node:perf_hooks';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import type { MaskedAudio } from '../masked.js';
import { abortedError, staleError } from './freshness.js';
import type { ResilienceStats } from './stats.js';

export type Release = () => void;

interface Waiter {
  key: string;
  grant(release: Release): void;
}

export class FairLimiter {
  private active = 0;
  private readonly queues = new Map<string, Waiter[]>();
  /** Per call: a tick of when it was last given a slot (lower = longer ago), and its slots in use. */
  private readonly lastServed = new Map<string, number>();
  private readonly activeByKey = new Map<string, number>();
  private tick = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError('max concurrency must be at least 1');
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
    if (signal.aborted) return Promise.reject(abortedError());
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
      const onAbort = () => leave(abortedError());
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

/** A PhraseConverter that holds a limiter slot for the whole of each conversion. */
export class LimitedConverter implements PhraseConverter {
  readonly name: string;

  constructor(
    private readonly inner: PhraseConverter,
    readonly limiter: FairLimiter,
    private readonly opts: { maxLagMs: number; stats?: ResilienceStats },
  ) {
    this.name = inner.name;
  }

  async *convert(req: PhraseRequest): AsyncGenerator<MaskedAudio, void, undefined> {
    const { maxLagMs, stats } = this.opts;
    const staleAt = maxLagMs > 0 ? req.endedAt + maxLagMs : Infinity;
    const onStale = () => {
      stats?.record({ type: 'stale', callKey: req.callKey, where: 'queue', ageMs: Math.round(performance.now() - req.endedAt) });
      return staleError(req, maxLagMs);
    };
    if (performance.now() >= staleAt) throw onStale();
    const release = await this.limiter.acquire(req.callKey, req.signal, staleAt, onStale);
    stats?.record({ type: 'attempt', callKey: req.callKey });
    try {
      yield* this.inner.convert(req);
    } finally {
      release();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
