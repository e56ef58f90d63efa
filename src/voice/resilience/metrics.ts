/**
 * The resilience wrappers' Prometheus metrics, written here and nowhere else in this folder:
 * each wrapper records ResilienceEvents (./stats.ts) and this binding, made once per resilient
 * converter, turns them into metrics. Error labels are policy labels (../errors.ts), a small
 * fixed set. The fleet's limiter reports the shared pool's state and its own slot waits itself
 * (src/fleet/), as only it knows where each slot came from; this instance's waits for a slot of
 * the in-process limiter are observed here. Returns an unbind function.
 */
import { metrics } from '../../observability/metrics.js';
import type { ResilienceEvent, ResilienceStats } from './stats.js';

export function bindResilienceMetrics(events: ResilienceStats, converter: string): () => void {
  const on = (e: ResilienceEvent): void => {
    switch (e.type) {
      case 'attempt':
        metrics.conversionAttempts.inc({ converter });
        if (e.limiter === 'local') metrics.slotWait.observe({ source: 'local' }, e.waitedMs / 1000);
        return;
      case 'slots':
        metrics.slotsInFlight.set({ scope: 'instance' }, e.inFlight);
        metrics.slotsWaiting.set({ scope: 'instance' }, e.queued);
        return void metrics.concurrencyLimit.set({ scope: 'instance' }, e.limit);
      case 'retry':
        return void metrics.conversionRetries.inc({ converter, kind: e.label });
      case 'stale':
        return void metrics.staleDrops.inc({ converter, where: e.where });
      case 'fallback':
        return void metrics.fallbacks.inc({ converter, reason: e.label });
      case 'truncated':
        return void metrics.truncated.inc({ converter });
      case 'dropped':
        return void metrics.dropped.inc({ converter, kind: e.label });
      case 'concurrency-refused':
        return void metrics.concurrencyRefusals.inc();
      case 'stalled':
        return void metrics.stalls.inc({ converter });
      case 'circuit':
        metrics.circuitTransitions.inc({ converter, to: e.to });
        if (e.cause) metrics.authFailures.inc({ converter, cause: e.cause });
        return void metrics.circuitOpen.set({ converter }, e.to === 'closed' ? 0 : 1);
      // 'success': the bridge counts finished conversions itself (metrics.conversions)
    }
  };
  events.on('event', on);
  return () => events.off('event', on);
}
