/**
 * F0 tracking by YIN (de Cheveigne & Kawahara 2002) at 8 kHz, with the difference function
 * computed through one FFT correlation, plus a continuity rule against octave jumps.
 * Used per 5 ms hop by the engine and offline (trackF0) by tests and the eval script.
 */
import FFT from 'fft.js';
import { conjMultiply } from './spectrum.js';

export const YIN_RATE = 8000;
/** A dip at T/k this much shallower than the one at T still wins (see analyse()). */
const SUBHARMONIC_TOLERANCE = 0.1;

export interface YinOptions {
  /** Integration window in 8 kHz samples (160 = 20 ms). */
  window?: number;
  minF0?: number;
  maxF0?: number;
  /** Absolute threshold of the cumulative-mean-normalised difference. */
  threshold?: number;
  /** Frames whose best dip is above this are unvoiced. */
  voicingThreshold?: number;
  /** Frames quieter than this RMS (int16 scale) are unvoiced. */
  minRms?: number;
}

export class YinTracker {
  readonly window: number;
  readonly tauMin: number;
  readonly tauMax: number;
  /** Samples one analysis reads: window + tauMax. */
  readonly span: number;
  private readonly threshold: number;
  private readonly voicingThreshold: number;
  private readonly minRms: number;
  private readonly fft: FFT;
  private readonly n: number;
  private readonly bufA: Float64Array;
  private readonly bufB: Float64Array;
  private readonly specA: number[];
  private readonly specB: number[];
  private readonly corr: number[];
  private readonly cmnd: Float64Array;
  private readonly energy: Float64Array;
  private prevTau = 0;

  /** Results of the last analyse(). */
  f0 = 0;
  aperiodicity = 1;
  rms = 0;

  constructor(opts: YinOptions = {}) {
    this.window = opts.window ?? 160;
    this.tauMin = Math.floor(YIN_RATE / (opts.maxF0 ?? 420));
    this.tauMax = Math.ceil(YIN_RATE / (opts.minF0 ?? 60));
    this.threshold = opts.threshold ?? 0.15;
    this.voicingThreshold = opts.voicingThreshold ?? 0.35;
    this.minRms = opts.minRms ?? 60;
    this.span = this.window + this.tauMax;
    let n = 1;
    while (n < this.span) n <<= 1;
    this.n = n;
    this.fft = new FFT(n);
    this.bufA = new Float64Array(n);
    this.bufB = new Float64Array(n);
    this.specA = this.fft.createComplexArray() as number[];
    this.specB = this.fft.createComplexArray() as number[];
    this.corr = this.fft.createComplexArray() as number[];
    this.cmnd = new Float64Array(this.tauMax + 2);
    this.energy = new Float64Array(this.span + 1);
  }

  /** Forget the continuity state (a new speaker or stream). */
  reset(): void {
    this.prevTau = 0;
  }

  /**
   * Analyses x[off .. off + span) (8 kHz). Sets f0 (0 when unvoiced), aperiodicity and rms;
   * returns f0.
   */
  analyse(x: Float32Array, off: number): number {
    const { window: W, tauMax, n } = this;
    const a = this.bufA;
    const b = this.bufB;
    a.fill(0);
    b.fill(0);
    let e0 = 0;
    const energy = this.energy;
    energy[0] = 0;
    for (let j = 0; j < this.span; j++) {
      const v = x[off + j]!;
      b[j] = v;
      energy[j + 1] = energy[j]! + v * v;
      if (j < W) {
        a[j] = v;
        e0 += v * v;
      }
    }
    this.rms = Math.sqrt(e0 / W);
    // r(tau) = sum_j a_j b_{j+tau}: IFFT(conj(A) B).
    this.fft.realTransform(this.specA, a);
    this.fft.completeSpectrum(this.specA);
    this.fft.realTransform(this.specB, b);
    this.fft.completeSpectrum(this.specB);
    const sa = this.specA;
    const sb = this.specB;
    conjMultiply(sa, sb, n);
    this.fft.inverseTransform(this.corr, sa);
    const corr = this.corr;
    const cmnd = this.cmnd;
    cmnd[0] = 1;
    let running = 0;
    for (let tau = 1; tau <= tauMax; tau++) {
      const d = e0 + (energy[tau + W]! - energy[tau]!) - 2 * corr[2 * tau]!;
      running += d;
      cmnd[tau] = running > 0 ? (d * tau) / running : 1;
    }
    // First dip under the threshold, else the global minimum.
    let best = -1;
    for (let tau = this.tauMin; tau < tauMax; tau++) {
      if (cmnd[tau]! < this.threshold) {
        while (tau + 1 < tauMax && cmnd[tau + 1]! < cmnd[tau]!) tau++;
        best = tau;
        break;
      }
    }
    if (best < 0) {
      best = this.tauMin;
      for (let tau = this.tauMin + 1; tau < tauMax; tau++) if (cmnd[tau]! < cmnd[best]!) best = tau;
    }
    // Sub-harmonic rejection: a dip at a whole fraction of the chosen period (k = 2, 3) that is
    // nearly as deep is the true period. Without it, frames whose periodicity is imperfect
    // (noise, jitter, period-to-period differences) are read an octave or more low: the global
    // minimum of the difference function often sits at 2T there.
    for (let k = 3; k >= 2; k--) {
      const t = best / k;
      const lo = Math.max(this.tauMin, Math.floor(t * 0.94));
      const hi = Math.min(tauMax - 1, Math.ceil(t * 1.06));
      if (hi < lo) continue;
      let alt = lo;
      for (let tau = lo + 1; tau <= hi; tau++) if (cmnd[tau]! < cmnd[alt]!) alt = tau;
      const isDip = alt > lo && alt < hi;
      if (isDip && cmnd[alt]! < cmnd[best]! + SUBHARMONIC_TOLERANCE && cmnd[alt]! < this.voicingThreshold) {
        best = alt;
        break;
      }
    }
    // Continuity: when the chosen period is much longer than the last voiced one (a sub-octave
    // error, typical at onsets and in weak frames), prefer a dip near the last period if it is
    // nearly as deep. Only this direction: a true octave rise must not be locked out.
    if (this.prevTau > 0 && best / this.prevTau > 1.45) {
      const lo = Math.max(this.tauMin, Math.floor(this.prevTau * 0.85));
      const hi = Math.min(tauMax - 1, Math.ceil(this.prevTau * 1.18));
      let alt = -1;
      for (let tau = lo; tau <= hi; tau++) if (alt < 0 || cmnd[tau]! < cmnd[alt]!) alt = tau;
      if (alt > 0 && cmnd[alt]! < cmnd[best]! + 0.06 && cmnd[alt]! < this.voicingThreshold) best = alt;
    }
    this.aperiodicity = cmnd[best]!;
    if (this.aperiodicity > this.voicingThreshold || this.rms < this.minRms) {
      this.f0 = 0;
      this.prevTau = 0;
      return 0;
    }
    // Parabolic interpolation of the dip.
    let tauF = best;
    if (best > 1 && best < tauMax) {
      const y0 = cmnd[best - 1]!;
      const y1 = cmnd[best]!;
      const y2 = cmnd[best + 1]!;
      const den = y0 - 2 * y1 + y2;
      if (den > 0) tauF = best + (0.5 * (y0 - y2)) / den;
    }
    this.prevTau = best;
    this.f0 = YIN_RATE / tauF;
    return this.f0;
  }
}

/** Half-band low-pass (15-tap windowed sinc) for 16 kHz -> 8 kHz decimation. */
export const HALFBAND: Float32Array = (() => {
  const taps = 15;
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const t = i - mid;
    const sinc = t === 0 ? 0.5 : Math.sin((Math.PI * t) / 2) / (Math.PI * t);
    const w = 0.54 + 0.46 * Math.cos((Math.PI * t) / (mid + 1));
    h[i] = sinc * w;
    sum += h[i]!;
  }
  for (let i = 0; i < taps; i++) h[i] = h[i]! / sum;
  return h;
})();

/** Whole-signal 16 kHz -> 8 kHz decimation with HALFBAND (zero-phase: output i is centred on input 2i). */
export function decimate2(x: ArrayLike<number>): Float32Array {
  const out = new Float32Array(Math.floor(x.length / 2));
  const mid = (HALFBAND.length - 1) >> 1;
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let k = 0; k < HALFBAND.length; k++) {
      const j = 2 * i + k - mid;
      if (j >= 0 && j < x.length) s += HALFBAND[k]! * x[j]!;
    }
    out[i] = s;
  }
  return out;
}

/**
 * Offline F0 track: one value per hop (Hz, 0 = unvoiced), each frame centred on its hop.
 * Input at 8 or 16 kHz, int16 scale.
 */
export function trackF0(signal: ArrayLike<number>, sampleRate: 8000 | 16000, hopMs = 10, opts: YinOptions = {}): Float32Array {
  const x8 = sampleRate === 16000 ? decimate2(signal) : Float32Array.from(signal);
  const yin = new YinTracker(opts);
  const hop = Math.round((hopMs * YIN_RATE) / 1000);
  const frames = Math.floor(x8.length / hop);
  const half = yin.span >> 1;
  const padded = new Float32Array(x8.length + yin.span + hop);
  padded.set(x8, half);
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) out[f] = yin.analyse(padded, f * hop);
  return out;
}

/** Median of the voiced (non-zero) values, 0 if none. */
export function medianVoiced(f0: ArrayLike<number>): number {
  const v: number[] = [];
  for (let i = 0; i < f0.length; i++) if (f0[i]! > 0) v.push(f0[i]!);
  if (v.length === 0) return 0;
  v.sort((p, q) => p - q);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : 0.5 * (v[m - 1]! + v[m]!);
}
