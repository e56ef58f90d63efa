/**
 * Per-hop analysis results (voicing, F0, warped synthesis filter), kept in a ring for the
 * few hops between analysis and synthesis. Hop h covers samples [h * HOP, (h + 1) * HOP).
 */
export const SAMPLE_RATE = 16000;
/** Analysis hop: 5 ms. */
export const HOP = 80;
/** LPC order at 16 kHz. */
export const LPC_ORDER = 16;
const RING = 64;

export class HopTrack {
  private readonly voiced = new Uint8Array(RING);
  private readonly f0In = new Float32Array(RING);
  private readonly f0Out = new Float32Array(RING);
  private readonly coeffs = new Float64Array(RING * (LPC_ORDER + 1));
  private readonly scratch = new Float32Array(5);
  private readonly gains = new Float32Array(RING);
  private readonly pulse = new Float32Array(RING);
  /** Highest hop analysed so far (-1: none). */
  last = -1;

  set(h: number, voiced: boolean, f0In: number, f0Out: number, synth: Float64Array, gain: number, pulseMix = 0): void {
    const i = h & (RING - 1);
    this.gains[i] = gain;
    this.pulse[i] = pulseMix;
    this.voiced[i] = voiced ? 1 : 0;
    this.f0In[i] = voiced ? f0In : 0;
    this.f0Out[i] = voiced ? f0Out : 0;
    this.coeffs.set(synth.subarray(0, LPC_ORDER + 1), i * (LPC_ORDER + 1));
    this.last = h;
  }

  private valid(h: number): boolean {
    return h >= 0 && h <= this.last && h > this.last - RING;
  }

  isVoiced(h: number): boolean {
    return this.valid(h) && this.voiced[h & (RING - 1)] === 1;
  }

  /** Input pitch period in samples (0 if unvoiced). */
  periodIn(h: number): number {
    if (!this.isVoiced(h)) return 0;
    return SAMPLE_RATE / this.f0In[h & (RING - 1)]!;
  }

  /** Output F0, median over the voiced hops in h-2..h+2 (smooths tracker jitter); 0 if h is unvoiced. */
  smoothedF0Out(h: number): number {
    if (!this.isVoiced(h)) return 0;
    const v = this.scratch;
    let n = 0;
    for (let j = h - 2; j <= h + 2; j++) {
      if (!this.isVoiced(j)) continue;
      // insertion sort into v[0..n]
      const x = this.f0Out[j & (RING - 1)]!;
      let i = n++;
      while (i > 0 && v[i - 1]! > x) {
        v[i] = v[i - 1]!;
        i--;
      }
      v[i] = x;
    }
    return n % 2 ? v[n >> 1]! : 0.5 * (v[(n >> 1) - 1]! + v[n >> 1]!);
  }

  /** Input F0 of hop h (0 if unvoiced). */
  f0InAt(h: number): number {
    return this.isVoiced(h) ? this.f0In[h & (RING - 1)]! : 0;
  }

  /**
   * Share of hop h's voiced excitation that is a clean synthetic pulse rather than the residual
   * grain (0: all residual, 1: all pulse); it grows as the input gets noisier.
   */
  pulseMix(h: number): number {
    return this.valid(h) ? this.pulse[h & (RING - 1)]! : 0;
  }

  /** Excitation gain that keeps the warped filter as loud as the original. */
  gain(h: number): number {
    return this.gains[h & (RING - 1)]!;
  }

  /** The warped synthesis predictor of hop h (a view; b[0] = 1). */
  synth(h: number): Float64Array {
    const i = h & (RING - 1);
    return this.coeffs.subarray(i * (LPC_ORDER + 1), (i + 1) * (LPC_ORDER + 1));
  }
}
