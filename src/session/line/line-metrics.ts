/** The contact lines' metrics (src/observability/metrics.ts), labelled by line. */
import { metrics } from '../../observability/metrics.js';
import type { LineConfig } from './lines-file.js';

export type LineCallState = 'queued' | 'ringing' | 'connected';

export class LineMetrics {
  /** Each room's state as counted (so that a change moves exactly one call between states). */
  private readonly counted = new WeakMap<object, { line: string; state: LineCallState }>();

  /** A call's state on its line (undefined: the call ended). */
  setState(call: object & { line: LineConfig }, state: LineCallState | undefined): void {
    const was = this.counted.get(call);
    if (was && was.state === state && was.line === call.line.number) return;
    if (was) metrics.lineCalls.dec({ line: was.line, state: was.state });
    if (state) {
      metrics.lineCalls.inc({ line: call.line.number, state });
      this.counted.set(call, { line: call.line.number, state });
    } else this.counted.delete(call);
  }

  waited(line: LineConfig, seconds: number): void {
    metrics.lineQueueWait.observe({ line: line.number }, seconds);
  }

  abandoned(line: LineConfig): void {
    metrics.lineAbandoned.inc({ line: line.number });
  }

  overflowed(line: LineConfig, to: 'line' | 'message'): void {
    metrics.lineOverflow.inc({ line: line.number, to });
  }

  dialOutcome(line: LineConfig, outcome: string): void {
    metrics.lineDialOutcomes.inc({ line: line.number, outcome });
  }

  answered(line: LineConfig, ringMs: number): void {
    metrics.lineTimeToAnswer.observe({ line: line.number }, ringMs / 1000);
  }

  callEnded(line: LineConfig, seconds: number): void {
    metrics.lineCallDuration.observe({ line: line.number }, seconds);
  }
}
