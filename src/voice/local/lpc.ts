/**
 * Linear prediction: windowed autocorrelation, Levinson-Durbin, and the inverse (whitening)
 * filter. A(z) = 1 + a1 z^-1 + ... + ap z^-p; a[0] is always 1.
 */

/** Hann window of length n (periodic form, sums to n/2). */
export function hann(n: number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n);
  return w;
}

/**
 * Gaussian lag window (bandwidth expansion, bwHz at sampleRate) with white-noise correction:
 * keeps the normal equations well conditioned on band-limited (telephone) input.
 */
export function lagWindow(order: number, sampleRate: number, bwHz = 60, whiteNoise = 1e-4): Float64Array {
  const w = new Float64Array(order + 1);
  for (let i = 0; i <= order; i++) {
    const x = (2 * Math.PI * bwHz * i) / sampleRate;
    w[i] = Math.exp(-0.5 * x * x);
  }
  w[0] = 1 + whiteNoise;
  return w;
}

/** r[i] = sum x[j] w[j] x[j+i] w[j+i] over the windowed segment x[off..off+window.length). */
export function windowedAutocorr(
  x: Float32Array,
  off: number,
  window: Float32Array,
  order: number,
  scratch: Float64Array,
  r: Float64Array,
): void {
  const n = window.length;
  for (let j = 0; j < n; j++) scratch[j] = x[off + j]! * window[j]!;
  for (let i = 0; i <= order; i++) {
    let s = 0;
    for (let j = 0; j + i < n; j++) s += scratch[j]! * scratch[j + i]!;
    r[i] = s;
  }
}

/**
 * Levinson-Durbin: from autocorrelation r[0..p] to predictor a[0..p] (a[0] = 1).
 * Returns the prediction-error power (0 for silence, where a = [1, 0, ...]).
 */
export function levinson(r: Float64Array, order: number, a: Float64Array, tmp: Float64Array): number {
  a.fill(0);
  a[0] = 1;
  let err = r[0]!;
  if (!(err > 1e-9)) return 0;
  for (let i = 1; i <= order; i++) {
    let acc = r[i]!;
    for (let j = 1; j < i; j++) acc += a[j]! * r[i - j]!;
    const k = -acc / err;
    if (!(Math.abs(k) < 1)) break; // numerically unstable: keep the lower order
    for (let j = 0; j <= i; j++) tmp[j] = a[j]!;
    for (let j = 1; j < i; j++) a[j] = tmp[j]! + k * tmp[i - j]!;
    a[i] = k;
    err *= 1 - k * k;
  }
  return err;
}

/**
 * Power gain of the all-pole filter 1/A(z) for white input: 1 / prod(1 - k_i^2), with the
 * reflection coefficients k_i from the step-down recursion. Infinity if A is not minimum-phase.
 */
export function allPoleGain(a: Float64Array, order: number, work: Float64Array, tmp: Float64Array): number {
  for (let j = 0; j <= order; j++) work[j] = a[j]!;
  let gain = 1;
  for (let i = order; i >= 1; i--) {
    const k = work[i]!;
    const d = 1 - k * k;
    if (!(d > 0)) return Infinity;
    gain /= d;
    for (let j = 1; j < i; j++) tmp[j] = (work[j]! - k * work[i - j]!) / d;
    for (let j = 1; j < i; j++) work[j] = tmp[j]!;
  }
  return gain;
}

/** bandPowerGain samples the band a call's 8 kHz audio carries, BAND_LO-BAND_HI Hz (at 16 kHz). */
const BAND_LO = 100;
const BAND_HI = 3900;
const BAND_POINTS = 32;
const BAND_MAX_ORDER = 32;
const BAND_COS = new Float64Array(BAND_POINTS * (BAND_MAX_ORDER + 1));
const BAND_SIN = new Float64Array(BAND_POINTS * (BAND_MAX_ORDER + 1));
for (let i = 0; i < BAND_POINTS; i++) {
  const w = (2 * Math.PI * (BAND_LO + ((i + 0.5) * (BAND_HI - BAND_LO)) / BAND_POINTS)) / 16000;
  for (let k = 0; k <= BAND_MAX_ORDER; k++) {
    BAND_COS[i * (BAND_MAX_ORDER + 1) + k] = Math.cos(w * k);
    BAND_SIN[i * (BAND_MAX_ORDER + 1) + k] = Math.sin(w * k);
  }
}

/**
 * Mean power gain of 1/A(z) over the band a call's 8 kHz audio carries (100-3900 Hz, sampled
 * at 16 kHz), where its speech and so its residual have their energy: the loudness match of a
 * warped filter. The white-noise gain (allPoleGain) also counts the empty band above 4 kHz;
 * matched on it, a voice whose formants were lowered 25% came out 3-8x too loud (clipped by the
 * limiter) and one raised 30% at a tenth of the input's level.
 */
export function bandPowerGain(a: Float64Array, order: number): number {
  if (order > BAND_MAX_ORDER) throw new Error(`bandPowerGain: order ${order} > ${BAND_MAX_ORDER}`);
  let sum = 0;
  for (let i = 0; i < BAND_POINTS; i++) {
    const o = i * (BAND_MAX_ORDER + 1);
    let re = 0;
    let im = 0;
    for (let k = 0; k <= order; k++) {
      re += a[k]! * BAND_COS[o + k]!;
      im -= a[k]! * BAND_SIN[o + k]!;
    }
    sum += 1 / (re * re + im * im);
  }
  return sum / BAND_POINTS;
}
