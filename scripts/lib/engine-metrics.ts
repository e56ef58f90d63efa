/**
 * Measurements for the embedded engine's evaluation (scripts/eval-engine.ts) and tests:
 * waveform cross-correlation, spectral-envelope shift, clipping. Inputs are int16-scale PCM.
 */
import FFT from 'fft.js';
import { hann, lagWindow, levinson, windowedAutocorr } from '../../src/voice/local/lpc.js';
import { conjMultiply } from '../../src/voice/local/spectrum.js';

/**
 * Max over lags 0..maxLag of |sum x[i] y[i + lag]| / sqrt(sum x^2 sum y^2): about 1 for a
 * passthrough (at any delay up to maxLag), near 0 for unrelated signals. FFT-based.
 */
export function maxNormXcorr(x: ArrayLike<number>, y: ArrayLike<number>, maxLag: number): { value: number; lag: number } {
  let n = 1;
  while (n < Math.max(x.length, y.length) + maxLag + 1) n <<= 1;
  const fft = new FFT(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  let ex = 0;
  let ey = 0;
  for (let i = 0; i < x.length; i++) {
    a[i] = x[i]!;
    ex += x[i]! * x[i]!;
  }
  for (let i = 0; i < y.length; i++) {
    b[i] = y[i]!;
    ey += y[i]! * y[i]!;
  }
  if (ex === 0 || ey === 0) return { value: 0, lag: 0 };
  const sa = fft.createComplexArray() as number[];
  const sb = fft.createComplexArray() as number[];
  fft.realTransform(sa, a);
  fft.completeSpectrum(sa);
  fft.realTransform(sb, b);
  fft.completeSpectrum(sb);
  conjMultiply(sa, sb, n);
  const c = fft.createComplexArray() as number[];
  fft.inverseTransform(c, sa);
  const norm = Math.sqrt(ex * ey);
  let value = 0;
  let lag = 0;
  for (let l = 0; l <= maxLag; l++) {
    const v = Math.abs(c[2 * l]!) / norm;
    if (v > value) {
      value = v;
      lag = l;
    }
  }
  return { value, lag };
}

const ENV_ORDER = 16;
const ENV_FRAME = 512;
const ENV_HOP = 160;
const GRID_STEP = 1 / 200; // octaves
const GRID_LO = 200;
const GRID_HI = 4400;

/**
 * Long-term average LPC envelope (dB) of the frames where mask[frame] is true (10 ms frames at
 * 16 kHz), on a log-frequency grid of GRID_STEP octaves from GRID_LO to GRID_HI.
 */
export function averageEnvelope(x: ArrayLike<number>, mask: ArrayLike<boolean | number>): Float64Array {
  const grid = Math.floor(Math.log2(GRID_HI / GRID_LO) / GRID_STEP) + 1;
  const cos = new Float64Array(grid * (ENV_ORDER + 1));
  const sin = new Float64Array(grid * (ENV_ORDER + 1));
  for (let g = 0; g < grid; g++) {
    const w = (2 * Math.PI * GRID_LO * 2 ** (g * GRID_STEP)) / 16000;
    for (let k = 0; k <= ENV_ORDER; k++) {
      cos[g * (ENV_ORDER + 1) + k] = Math.cos(w * k);
      sin[g * (ENV_ORDER + 1) + k] = Math.sin(w * k);
    }
  }
  const win = hann(ENV_FRAME);
  const lw = lagWindow(ENV_ORDER, 16000, 100, 1e-3);
  const seg = new Float64Array(ENV_FRAME);
  const r = new Float64Array(ENV_ORDER + 1);
  const a = new Float64Array(ENV_ORDER + 1);
  const tmp = new Float64Array(ENV_ORDER + 1);
  const buf = new Float32Array(ENV_FRAME);
  const sum = new Float64Array(grid);
  let frames = 0;
  for (let f = 0; f < mask.length; f++) {
    if (!mask[f]) continue;
    const start = f * ENV_HOP + ENV_HOP / 2 - ENV_FRAME / 2;
    if (start < 0 || start + ENV_FRAME > x.length) continue;
    for (let j = 0; j < ENV_FRAME; j++) buf[j] = x[start + j]!;
    windowedAutocorr(buf, 0, win, ENV_ORDER, seg, r);
    for (let i = 0; i <= ENV_ORDER; i++) r[i]! *= lw[i]!;
    const err = levinson(r, ENV_ORDER, a, tmp);
    if (!(err > 0)) continue;
    for (let g = 0; g < grid; g++) {
      let re = 0;
      let im = 0;
      for (let k = 0; k <= ENV_ORDER; k++) {
        re += a[k]! * cos[g * (ENV_ORDER + 1) + k]!;
        im -= a[k]! * sin[g * (ENV_ORDER + 1) + k]!;
      }
      sum[g]! += -10 * Math.log10(re * re + im * im + 1e-12);
    }
    frames++;
  }
  if (frames > 0) for (let g = 0; g < grid; g++) sum[g]! /= frames;
  return sum;
}

/**
 * The frequency ratio that best maps the input's average envelope onto the output's: the lag of
 * the peak of their cross-correlation on a log-frequency axis (300-3400 Hz of the input),
 * refined by a parabola. 1 = no formant shift.
 */
export function envelopeShiftRatio(envIn: Float64Array, envOut: Float64Array, maxOctaves = 0.45): number {
  const lo = Math.round(Math.log2(300 / GRID_LO) / GRID_STEP);
  const hi = Math.round(Math.log2(3400 / GRID_LO) / GRID_STEP);
  const maxLag = Math.round(maxOctaves / GRID_STEP);
  const score = (lag: number): number => {
    let mi = 0;
    let mo = 0;
    let n = 0;
    for (let g = lo; g <= hi; g++) {
      if (g + lag < 0 || g + lag >= envOut.length) continue;
      mi += envIn[g]!;
      mo += envOut[g + lag]!;
      n++;
    }
    mi /= n;
    mo /= n;
    let s = 0;
    let si = 0;
    let so = 0;
    for (let g = lo; g <= hi; g++) {
      if (g + lag < 0 || g + lag >= envOut.length) continue;
      const p = envIn[g]! - mi;
      const q = envOut[g + lag]! - mo;
      s += p * q;
      si += p * p;
      so += q * q;
    }
    return s / Math.sqrt(si * so + 1e-12);
  };
  let best = 0;
  let bestS = -Infinity;
  const scores = new Map<number, number>();
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const s = score(lag);
    scores.set(lag, s);
    if (s > bestS) {
      bestS = s;
      best = lag;
    }
  }
  const y0 = scores.get(best - 1);
  const y2 = scores.get(best + 1);
  let frac = 0;
  if (y0 !== undefined && y2 !== undefined) {
    const den = y0 - 2 * bestS + y2;
    if (den < 0) frac = (0.5 * (y0 - y2)) / den;
  }
  return 2 ** ((best + frac) * GRID_STEP);
}

/** Fraction of samples at full scale, and the number of non-finite ones. */
export function clipStats(x: ArrayLike<number>): { clipped: number; nonFinite: number } {
  let clipped = 0;
  let nonFinite = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) nonFinite++;
    else if (v >= 32767 || v <= -32768) clipped++;
  }
  return { clipped: clipped / Math.max(1, x.length), nonFinite };
}
