/**
 * A PhraseConverter that holds a limiter slot for the whole of each conversion, and nothing
 * more: it makes one attempt and never waits to try again (the retry loop above it does).
 * A phrase that would go stale waiting in the queue leaves it (kind 'stale', no cause: nothing
 * failed). When the answer says every slot of the account was taken (policy retry 'requeue'),
 * the limiter is told while the slot is still held, so it lowers its limit for a while.
 */
import { performance } from 'node:perf_hooks';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { policyOf } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import type { ConcurrencyLimiter } from './fair-limiter.js';
import { staleError } from './freshness.js';
import type { ResilienceStats } from './stats.js';

export interface LimitedOptions {
  maxLagMs: number;
  stats?: ResilienceStats;
}

export class LimitedConverter implements PhraseConverter {
  readonly name: string;

  constructor(
    private readonly inner: PhraseConverter,
    readonly limiter: ConcurrencyLimiter,
    private readonly opts: LimitedOptions,
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
    const asked = performance.now();
    this.report(1);
    let release: () => void;
    try {
      release = await this.limiter.acquire(req.callKey, req.signal, staleAt, onStale);
    } finally {
      this.report(0);
    }
    stats?.record({ type: 'attempt', callKey: req.callKey, waitedMs: performance.now() - asked, limiter: this.limiter.kind });
    try {
      yield* this.inner.convert(req);
    } catch (err) {
      if (policyOf(err).retry === 'requeue') {
        this.limiter.refused();
        stats?.record({ type: 'concurrency-refused', callKey: req.callKey, limit: this.limiter.limit });
      }
      throw err;
    } finally {
      release();
      this.report(0);
    }
  }

  /** The limiter's state (pending: a phrase entering the queue, not yet counted in it). */
  private report(pending: number): void {
    this.opts.stats?.record({ type: 'slots', inFlight: this.limiter.inFlight, queued: this.limiter.queued + pending, limit: this.limiter.limit });
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.limiter.close();
  }
}
