/**
 * What the resilience wrappers did, as counters (stats()) and as events. The events are the
 * only way this folder reports: the Prometheus metrics are bound to them in one place
 * (./metrics.ts), and nothing else here writes a metric. Listener exceptions are contained:
 * a broken metrics hook never breaks a conversion.
 *
 * `label` in an event is the error's policy label (../errors.ts).
 */
import { EventEmitter } from 'node:events';
import type { AuthCause, ErrorLabel } from '../errors.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export type ResilienceEvent =
  /** A request went to the primary converter, after waitedMs for its slot from a `limiter`. */
  | { type: 'attempt'; callKey: string; waitedMs: number; limiter: 'local' | 'redis' }
  /** The limiter's state changed (a phrase started waiting, got a slot, gave it back). */
  | { type: 'slots'; inFlight: number; queued: number; limit: number }
  /** A retryable failure, retried after waitMs; `attempt`: the requests made so far for this phrase. */
  | { type: 'retry'; callKey: string; attempt: number; waitMs: number; label: ErrorLabel; status?: number; code?: string }
  /** The phrase was given up on because it got too old (in the queue or before a retry). */
  | { type: 'stale'; callKey: string; where: 'queue' | 'retry'; ageMs: number }
  /** A 429 too_many_concurrent_requests: the slot went back, the limit dropped to `limit` for a while. */
  | { type: 'concurrency-refused'; callKey: string; limit: number }
  /** The phrase went to the fallback converter. */
  | { type: 'fallback'; callKey: string; label: ErrorLabel; status?: number }
  /** cooldownMs: how long it stays open; cause: why ElevenLabs refused the key (401/403). */
  | { type: 'circuit'; from: CircuitState; to: CircuitState; reason: string; cooldownMs?: number; cause?: AuthCause }
  /** The answer stopped mid-phrase (no byte within the idle timeout): what had played was kept. */
  | { type: 'stalled'; callKey: string }
  /** The primary failed after audio had been delivered: the phrase ended there, not retried. */
  | { type: 'truncated'; callKey: string; label: ErrorLabel }
  /** The phrase ended with no audio for the listener. */
  | { type: 'dropped'; callKey: string; label: ErrorLabel }
  | { type: 'success'; callKey: string; via: 'primary' | 'fallback' };

export interface ResilienceCounters {
  attempts: number;
  retries: number;
  stale: number;
  fallbacks: number;
  circuitChanges: number;
  truncated: number;
  stalled: number;
  dropped: number;
  successes: number;
  concurrencyRefusals: number;
}

export interface ResilienceSnapshot extends ResilienceCounters {
  circuit: CircuitState;
  queued: number;
  inFlight: number;
}

/** The counter each event adds to ('slots' is a state, not a count). */
const COUNTER: Partial<Record<ResilienceEvent['type'], keyof ResilienceCounters>> = {
  attempt: 'attempts',
  retry: 'retries',
  stale: 'stale',
  fallback: 'fallbacks',
  circuit: 'circuitChanges',
  truncated: 'truncated',
  stalled: 'stalled',
  dropped: 'dropped',
  success: 'successes',
  'concurrency-refused': 'concurrencyRefusals',
};

/** Emits 'event' (every ResilienceEvent) and one event per type name. */
export class ResilienceStats extends EventEmitter {
  readonly counters: ResilienceCounters = { attempts: 0, retries: 0, stale: 0, fallbacks: 0, circuitChanges: 0, truncated: 0, stalled: 0, dropped: 0, successes: 0, concurrencyRefusals: 0 };
  circuit: CircuitState = 'closed';

  record(ev: ResilienceEvent): void {
    const counter = COUNTER[ev.type];
    if (counter) this.counters[counter]++;
    if (ev.type === 'circuit') this.circuit = ev.to;
    for (const name of ['event', ev.type]) {
      try {
        this.emit(name, ev);
      } catch {
        // a listener's bug is its own
      }
    }
  }
}
