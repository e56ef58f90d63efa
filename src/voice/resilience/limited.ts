/**
 * A PhraseConverter that holds a limiter slot for the whole of each conversion. A 429
 * too_many_concurrent_requests (the account's slots are all taken, by this fleet or by someone
 * else using the key) is not a failure of the service: the slot is given back, the limit is
 * lowered for a while (the limiter's `refused`), and the phrase queues again for a slot after
 * the answer's Retry-After (or a short backoff), as long as it stays fresh. It never reaches
 * the retry layer's attempts nor the circuit breaker as a fault.
 */
import { performance } from 'node:perf_hooks';
import { metrics } from '../../observability/metrics.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { ConversionError, isConcurrencyRefusal } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import type { ConcurrencyLimiter } from './fair-limiter.js';
import { delay, isFresh, staleError } from './freshness.js';
import { backoffMs } from './retry.js';
import type { ResilienceStats } from './stats.js';

export interface LimitedOptions {
  maxLagMs: number;
  stats?: ResilienceStats;
  /** Concurrency 429s one phrase may meet before it is given up (default 8). */
  maxRefusals?: number;
  /** Feed the Prometheus slot gauges (default true). */
  metrics?: boolean;
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
    const { maxLagMs, stats, maxRefusals = 8 } = this.opts;
    const staleAt = maxLagMs > 0 ? req.endedAt + maxLagMs : Infinity;
    const onStale = () => {
      stats?.record({ type: 'stale', callKey: req.callKey, where: 'queue', ageMs: Math.round(performance.now() - req.endedAt) });
      return staleError(req, maxLagMs);
    };
    for (let refusals = 0; ; ) {
      if (performance.now() >= staleAt) throw onStale();
      const asked = performance.now();
      this.gauges(1);
      let release: () => void;
      try {
        release = await this.limiter.acquire(req.callKey, req.signal, staleAt, onStale);
      } finally {
        this.gauges(0);
      }
      if (this.opts.metrics !== false && this.limiter.kind === 'local') metrics.slotWait.observe({ source: 'local' }, (performance.now() - asked) / 1000);
      stats?.record({ type: 'attempt', callKey: req.callKey });
      let delivered = false;
      let refusal: ConversionError | undefined;
      try {
        for await (const chunk of this.inner.convert(req)) {
          delivered = true;
          yield chunk;
        }
        return;
      } catch (err) {
        if (delivered || !isConcurrencyRefusal(err) || err.opts.afterFirstByte) throw err;
        this.limiter.refused();
        refusal = err;
      } finally {
        release();
        this.gauges(0);
      }
      refusals++;
      stats?.record({ type: 'concurrency-refused', callKey: req.callKey, limit: this.limiter.limit });
      const waitMs = refusal.opts.retryAfterMs ?? backoffMs(refusals, 50, 1000);
      if (!isFresh(req, maxLagMs, waitMs)) {
        stats?.record({ type: 'stale', callKey: req.callKey, where: 'retry', ageMs: Math.round(performance.now() - req.endedAt) });
        throw staleError(req, maxLagMs, refusal);
      }
      if (refusals >= maxRefusals) {
        throw new ConversionError(`${refusal.message}; given up after ${refusals} refusals`, 'http', false, { status: 429, code: refusal.opts.code, cause: refusal });
      }
      stats?.record({ type: 'retry', callKey: req.callKey, attempt: refusals, waitMs, kind: refusal.kind, status: 429, ...(refusal.opts.code !== undefined && { code: refusal.opts.code }) });
      await delay(waitMs, req.signal);
    }
  }

  /** This instance's slot gauges (pending: a phrase entering the queue, not yet counted in it). */
  private gauges(pending: number): void {
    if (this.opts.metrics === false) return;
    metrics.slotsInFlight.set({ scope: 'instance' }, this.limiter.inFlight);
    metrics.slotsWaiting.set({ scope: 'instance' }, this.limiter.queued + pending);
    metrics.concurrencyLimit.set({ scope: 'instance' }, this.limiter.limit);
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.limiter.close();
  }
}
