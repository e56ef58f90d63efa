/** Synthetic test signals for the engine's unit tests (16 kHz, int16 scale). */

/** A vowel-like voiced signal: a glottal pulse train at f0 (Hz, may glide) through three formant resonators. */
export function syntheticVowel(f0: number | ((t: number) => number), seconds: number, formants = [700, 1200, 2600], amp = 8000): Int16Array {
  const fs = 16000;
  const n = Math.round(seconds * fs);
  const src = new Float64Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const f = typeof f0 === 'number' ? f0 : f0(i / fs);
    phase += f / fs;
    if (phase >= 1) {
      phase -= 1;
      src[i] = 1;
    }
  }
  // Glottal shaping: a one-pole low-pass.
  let y = 0;
  for (let i = 0; i < n; i++) src[i] = y = 0.9 * y + src[i]!;
  let sig: Float64Array = src;
  for (const fc of formants) {
    const r = Math.exp((-Math.PI * 80) / fs);
    const c1 = 2 * r * Math.cos((2 * Math.PI * fc) / fs);
    const c2 = -r * r;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = sig[i]! + c1 * (out[i - 1] ?? 0) + c2 * (out[i - 2] ?? 0);
    sig = out;
  }
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(sig[i]!));
  return Int16Array.from(sig, (v) => Math.round((v / peak) * amp));
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
}

/** Deterministic white noise (int16 scale). */
export function whiteNoise(n: number, amp: number, seed = 1): Int16Array {
  let s = seed >>> 0;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round(((s / 4294967296) * 2 - 1) * amp);
  }
  return out;
}
