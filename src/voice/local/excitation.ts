/**
 * The new excitation: the LPC residual re-timed by PSOLA (pitch-synchronous overlap-add) on
 * voiced hops, seeded noise on unvoiced ones.
 *
 * Voiced: analysis marks sit on the residual's glottal pulses, one per input period. Synthesis
 * marks are laid one output period apart (SAMPLE_RATE / target F0); each takes the two-period,
 * Hann-windowed residual grain around the nearest analysis mark. The time axis is kept 1:1, so
 * duration never changes; raising pitch repeats grains, lowering it skips some. Because the
 * grains are residual (spectrally flat), the formants are untouched by the pitch change: they
 * are put back, warped, by the synthesis filter.
 *
 * In noise (the processor's SNR estimate below 35 dB) the residual grain is blended into a clean
 * pulse of the grain's energy on the synthesis mark, fully below 25 dB: a noisy grain's epoch is
 * uncertain and its noise, repeated, blurs the new periodicity.
 *
 * Unvoiced: 10 ms sine-windowed grains of seeded Gaussian noise at 5 ms spacing (constant power,
 * no periodicity, so fricatives never buzz), scaled to the residual's local RMS. This also keeps
 * the speaker's own unvoiced waveform out of the output.
 *
 * Every decision reads only data within fixed distances of the mark (see the bounds below), so
 * the output does not depend on how the input was chunked: streaming equals phrase mode.
 */
import { HOP, SAMPLE_RATE, type HopTrack } from './hop-track.js';
import { SeededNoise } from './noise.js';

const RING = 4096;
const MASK = RING - 1;
/** Largest grain half-width (8 ms); longer periods are windowed narrower. */
export const MAX_HALF = 128;
/** Half-width of the unvoiced noise grains (5 ms). */
const NOISE_HALF = 80;
/** A synthesis mark at s uses analysis marks up to s + MARK_AHEAD. */
export const MARK_AHEAD = 134;
/**
 * How far ahead of a synthesis mark s the residual must be known: grains read up to
 * s + MARK_AHEAD + MAX_HALF, and every analysis mark before s + MARK_AHEAD is settled once the
 * residual is known T/2 + 2 <= 136 samples beyond it.
 */
export const RESIDUAL_AHEAD = 280;

export class ResidualPsola {
  /** LPC residual by absolute sample index (ring). */
  readonly residual = new Float32Array(RING);
  /** Overlap-add accumulator of the new excitation (ring, zeroed as it is read). */
  private readonly acc = new Float32Array(RING);
  private readonly marks = new Int32Array(256);
  private markCount = 0;
  /** Index of the last mark <= the current synthesis mark. */
  private markPtr = 0;
  /** Analysis-mark cursor: the last mark placed, or -1 when between voiced runs. */
  private lastMark = -1;
  private markCursor = 0;
  /** Next synthesis mark (fractional). */
  private synth = 0;
  private readonly noise: SeededNoise;
  private readonly hannCache = new Map<number, Float32Array>();
  private readonly sine: Float32Array;

  constructor(seed: number) {
    this.noise = new SeededNoise(seed);
    this.sine = new Float32Array(2 * NOISE_HALF);
    for (let i = 0; i < 2 * NOISE_HALF; i++) this.sine[i] = Math.sin((Math.PI * (i + 0.5)) / (2 * NOISE_HALF));
  }

  /** Next synthesis mark position (samples). */
  get synthCursor(): number {
    return Math.round(this.synth);
  }

  private hann(half: number): Float32Array {
    let w = this.hannCache.get(half);
    if (!w) {
      w = new Float32Array(2 * half + 1);
      for (let i = -half; i <= half; i++) w[i + half] = 0.5 + 0.5 * Math.cos((Math.PI * i) / half);
      this.hannCache.set(half, w);
    }
    return w;
  }

  private pushMark(m: number): void {
    this.marks[this.markCount & 255] = m;
    this.markCount++;
    this.lastMark = m;
  }

  private mark(i: number): number {
    return this.marks[i & 255]!;
  }

  /** Strongest residual pulse (3-sample energy) in [lo, hi). */
  private peak(lo: number, hi: number): number {
    const e = this.residual;
    let best = lo;
    let bestV = -1;
    for (let n = lo; n < hi; n++) {
      const a = e[(n - 1) & MASK]!;
      const b = e[n & MASK]!;
      const c = e[(n + 1) & MASK]!;
      const v = a * a + 2 * b * b + c * c;
      if (v > bestV) {
        bestV = v;
        best = n;
      }
    }
    return best;
  }

  /** Places analysis marks on the residual, which is known up to `known` (exclusive). */
  placeMarks(known: number, hops: HopTrack): void {
    for (;;) {
      if (this.lastMark >= 0) {
        const t = hops.periodIn(Math.floor(this.lastMark / HOP));
        if (t <= 0) {
          this.lastMark = -1;
          this.markCursor = (Math.floor(this.markCursor / HOP) + 1) * HOP;
          continue;
        }
        const exp = Math.round(this.lastMark + t);
        const q = Math.round(t / 4);
        if (exp + q + 2 > known) return;
        if (!hops.isVoiced(Math.floor(exp / HOP))) {
          this.lastMark = -1;
          this.markCursor = exp;
          continue;
        }
        this.pushMark(this.peak(exp - q, exp + q + 1));
        this.markCursor = this.lastMark;
      } else {
        const h = Math.floor(this.markCursor / HOP);
        if (h > hops.last) return;
        const t = hops.periodIn(h);
        if (t <= 0) {
          this.markCursor = (h + 1) * HOP;
          continue;
        }
        const half = Math.round(t / 2);
        if (this.markCursor + half + 2 > known) return;
        this.pushMark(this.peak(this.markCursor, this.markCursor + half));
        this.markCursor = this.lastMark;
      }
    }
  }

  /** The analysis mark nearest s within [s - maxDist, s + MARK_AHEAD], or -1. */
  private nearestMark(s: number, maxDist: number): number {
    const first = Math.max(0, this.markCount - 256);
    if (this.markPtr < first) this.markPtr = first;
    while (this.markPtr + 1 < this.markCount && this.mark(this.markPtr + 1) <= s) this.markPtr++;
    let best = -1;
    let bestD = Infinity;
    for (let i = this.markPtr; i <= this.markPtr + 1 && i < this.markCount; i++) {
      const m = this.mark(i);
      if (m > s + MARK_AHEAD) continue;
      const d = Math.abs(m - s);
      if (d < bestD) {
        bestD = d;
        best = m;
      }
    }
    return bestD <= maxDist ? best : -1;
  }

  /** Lays synthesis grains while the next mark is before `until`. */
  synthesize(until: number, hops: HopTrack): void {
    const e = this.residual;
    const acc = this.acc;
    while (this.synth < until) {
      const s = Math.round(this.synth);
      const h = Math.floor(s / HOP);
      const f0Out = hops.smoothedF0Out(h);
      const tIn = hops.periodIn(h);
      const a = f0Out > 0 ? this.nearestMark(s, tIn) : -1;
      if (a >= 0) {
        const ta = hops.periodIn(Math.floor(a / HOP)) || tIn;
        const pOut = SAMPLE_RATE / f0Out;
        // Two-period grains, but no wider than two output periods: at a raised pitch, wider
        // grains would carry the neighbouring input pulses and blur the new periodicity.
        const half = Math.max(16, Math.min(MAX_HALF, Math.round(Math.min(ta, pOut))));
        const w = this.hann(half);
        // Loudness: a higher pitch has more pulses per second; compensate by 1/sqrt(ratio).
        const ratio = f0Out / hops.f0InAt(h);
        const g = Math.max(0.75, Math.min(1.3, 1 / Math.sqrt(ratio)));
        // In noise the residual grain is mostly noise: its pulse epoch is uncertain and repeating
        // it blurs the new periodicity (the output's pitch is then read an octave off). There the
        // grain gives way to a clean pulse of the same energy on the synthesis mark.
        const mix = hops.pulseMix(h);
        if (mix <= 0) {
          for (let i = -half; i <= half; i++) acc[(s + i) & MASK]! += g * w[i + half]! * e[(a + i) & MASK]!;
        } else {
          let en = 0;
          for (let i = -half; i <= half; i++) {
            const v = w[i + half]! * e[(a + i) & MASK]!;
            en += v * v;
          }
          const keep = 1 - mix;
          for (let i = -half; i <= half; i++) acc[(s + i) & MASK]! += keep * g * w[i + half]! * e[(a + i) & MASK]!;
          acc[s & MASK]! += mix * g * Math.sqrt(en);
        }
        this.synth += pOut;
      } else {
        let pow = 0;
        for (let i = -NOISE_HALF; i < NOISE_HALF; i++) {
          const v = e[(s + i) & MASK]!;
          pow += v * v;
        }
        const rms = Math.sqrt(pow / (2 * NOISE_HALF));
        if (rms > 0) {
          const w = this.sine;
          for (let i = 0; i < 2 * NOISE_HALF; i++) acc[(s - NOISE_HALF + i) & MASK]! += rms * w[i]! * this.noise.gaussian();
        }
        this.synth += NOISE_HALF;
      }
    }
  }

  /** Takes the finished excitation sample at n (every grain that reaches n has been laid). */
  take(n: number): number {
    const i = n & MASK;
    const v = this.acc[i]!;
    this.acc[i] = 0;
    return v;
  }
}
