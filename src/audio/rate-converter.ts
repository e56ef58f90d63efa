/**
 * Streaming sample-rate conversion with an exact length: joined, the output of push() and end()
 * is round(n * to / from) samples for n samples in (the resampler's tail flushed, then padded
 * with silence if its filter came up short), as resample() gives for a whole signal.
 */
import { Resampler } from './resampler.js';

export class RateConverter {
  private readonly r?: Resampler;
  private inSamples = 0;
  private outSamples = 0;

  constructor(
    private readonly from: number,
    private readonly to: number,
  ) {
    if (from !== to) this.r = new Resampler(from, to);
  }

  private want(): number {
    return Math.round((this.inSamples * this.to) / this.from);
  }

  private cap(x: Int16Array): Int16Array {
    const room = this.want() - this.outSamples;
    const y = x.length > room ? x.subarray(0, Math.max(0, room)) : x;
    this.outSamples += y.length;
    return y;
  }

  push(x: Int16Array): Int16Array {
    this.inSamples += x.length;
    return this.r ? this.cap(this.r.process(x)) : x;
  }

  /** The rest: the resampler's tail, and silence up to the exact length. */
  end(): Int16Array {
    if (!this.r) return new Int16Array(0);
    const tail = this.cap(this.r.flush());
    const missing = this.want() - this.outSamples;
    if (missing <= 0) return tail;
    const out = new Int16Array(tail.length + missing);
    out.set(tail);
    this.outSamples += missing;
    return out;
  }

  /** Frees the resampler (also when a stream stops early). Idempotent. */
  destroy(): void {
    this.r?.destroy();
  }
}
