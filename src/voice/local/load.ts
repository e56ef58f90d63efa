/**
 * How busy the embedded engine is: the time its DSP runs on the event loop (a 20 ms frame of a
 * stream, a 200 ms block of a phrase), exported as voicemask_engine_cpu_seconds_total. The DSP
 * is synchronous and never waits, so its wall time on the loop is its CPU time; as a rate, the
 * share of one core the engine uses.
 */
import { metrics } from '../../observability/metrics.js';

let busySeconds = 0;

/** Counts the engine's work that started at `t0` (performance.now()) and ends now. */
export function engineWorked(t0: number): void {
  const s = (performance.now() - t0) / 1000;
  busySeconds += s;
  metrics.engineCpu.inc(s);
}

/** Seconds the engine's DSP has run in this process so far. */
export function engineBusySeconds(): number {
  return busySeconds;
}
