/**
 * The resilient converter: ElevenLabs (or any primary) wrapped, outermost first, in
 *   fallback  → the embedded engine when FALLBACK=local (still masked), else drop
 *   circuit   → marked down after failed phrases or a 401/403; the next live phrase probes
 *   retry     → the one retry loop: faults with backoff, concurrency 429s queue again for a
 *               slot; Retry-After honoured; only while the phrase is fresh
 *   fair cap  → ELEVENLABS_MAX_CONCURRENCY in flight, round-robin between calls; one attempt
 *   primary
 * Each layer is itself a PhraseConverter and can be used alone. What an error means to each
 * layer is one table (../errors.ts). The layers report through ResilienceStats events only;
 * the Prometheus metrics are bound to those events once, here (./metrics.ts).
 */
import type { Logger } from '../../observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import type { MaskedAudio } from '../masked.js';
import { CircuitBreakerConverter, type CircuitOptions } from './circuit.js';
import { AccountLimit } from './account-limit.js';
import { FairLimiter, type ConcurrencyLimiter } from './fair-limiter.js';
import { LimitedConverter } from './limited.js';
import { FallbackConverter } from './fallback.js';
import { bindResilienceMetrics } from './metrics.js';
import { RetryingConverter, type RetryOptions } from './retry.js';
import { ResilienceStats, type ResilienceSnapshot } from './stats.js';

export { CircuitBreakerConverter, classifyOutcome, type CircuitOptions } from './circuit.js';
export { AccountLimit } from './account-limit.js';
export { FairLimiter, type ConcurrencyLimiter, type Release } from './fair-limiter.js';
export { LimitedConverter } from './limited.js';
export { FallbackConverter, type FallbackOptions } from './fallback.js';
export { isFresh, phraseAgeMs } from './freshness.js';
export { bindResilienceMetrics } from './metrics.js';
export { RetryingConverter, backoffMs, type RetryOptions } from './retry.js';
export { ResilienceStats, type CircuitState, type ResilienceCounters, type ResilienceEvent, type ResilienceSnapshot } from './stats.js';

export interface ResilientConverterOptions {
  primary: PhraseConverter;
  /** The embedded engine, used when FALLBACK=local. */
  fallback?: PhraseConverter;
  /** The fallback's voice for a phrase's voice (its ids differ from ElevenLabs'): the closest preset. */
  fallbackVoice?: (voiceId: string) => string;
  /** One fallback voice for every phrase (when fallbackVoice is not given). */
  fallbackVoiceId?: string;
  /** ELEVENLABS_MAX_LAG_MS: a phrase older than this is not worth converting (0: no limit). */
  maxLagMs: number;
  /** ELEVENLABS_MAX_CONCURRENCY: requests in flight to the primary. */
  maxConcurrency: number;
  /** The limiter to use (src/fleet/ createLimiter: the fleet's on Redis); default an in-process FairLimiter of maxConcurrency. */
  limiter?: ConcurrencyLimiter;
  /** FALLBACK: 'local' masks with `fallback` when the primary cannot, 'silence' drops. */
  fallbackMode: 'local' | 'silence';
  log: Logger;
  /** Tuning beyond the environment (tests use short timers). */
  retry?: Omit<RetryOptions, 'maxLagMs' | 'stats' | 'log'>;
  circuit?: Omit<CircuitOptions, 'stats' | 'log'>;
  /** Feed the Prometheus metrics in src/observability/metrics.ts (default true). */
  metrics?: boolean;
}

export interface ResilientConverter extends PhraseConverter {
  /** Counters, the circuit state and the queue, now. */
  stats(): ResilienceSnapshot;
  /** Emits 'event' and each event type ('retry', 'fallback', 'circuit', ...). */
  readonly events: ResilienceStats;
}

export function createResilientConverter(opts: ResilientConverterOptions): ResilientConverter {
  const { primary, maxLagMs } = opts;
  const log = opts.log.child({ component: 'resilience' });
  const events = new ResilienceStats();
  const limiter = opts.limiter ?? new FairLimiter(new AccountLimit({ configured: opts.maxConcurrency }));
  const limited = new LimitedConverter(primary, limiter, { maxLagMs, stats: events });
  const retrying = new RetryingConverter(limited, { ...opts.retry, maxLagMs, stats: events, log });
  const breaker = new CircuitBreakerConverter(retrying, { ...opts.circuit, stats: events, log });
  const outer = new FallbackConverter(breaker, {
    mode: opts.fallbackMode,
    ...(opts.fallback && { fallback: opts.fallback }),
    ...(opts.fallbackVoice && { fallbackVoice: opts.fallbackVoice }),
    ...(opts.fallbackVoiceId !== undefined && { fallbackVoiceId: opts.fallbackVoiceId }),
    maxLagMs,
    stats: events,
    log,
  });
  const unbind = opts.metrics === false ? () => {} : bindResilienceMetrics(events, primary.name);
  return {
    name: outer.name,
    events,
    convert: (req: PhraseRequest): AsyncIterable<MaskedAudio> => outer.convert(req),
    close: async () => {
      unbind();
      await outer.close();
    },
    stats: () => ({ ...events.counters, circuit: breaker.circuit, queued: limiter.queued, inFlight: limiter.inFlight }),
  };
}
