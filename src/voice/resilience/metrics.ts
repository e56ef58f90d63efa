/** Turns resilience events into the process's Prometheus metrics. Returns an unbind function. */
import { metrics } from '../../observability/metrics.js';
import type { ResilienceEvent, ResilienceStats } from './stats.js';

export function bindResilienceMetrics(events: ResilienceStats, converter: string): () => void {
  const on = (e: ResilienceEvent): void => {
    switch (e.type) {
      case 'attempt':
        return void metrics.conversionAttempts.inc({ converter });
      case 'retry':
        return void metrics.conversionRetries.inc({ converter, kind: e.kind });
      case 'stale':
        return void metrics.staleDrops.inc({ converter, where: e.where });
      case 'fallback':
        return void metrics.fallbacks.inc({ converter, reason: e.reason });
      case 'truncated':
        return void metrics.truncated.inc({ converter });
      case 'dropped':
        return void metrics.dropped.inc({ converter, kind: e.kind });
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
