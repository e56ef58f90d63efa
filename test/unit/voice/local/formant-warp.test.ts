import { describe, it, expect } from 'vitest';
import { FormantWarper } from '../../../../src/voice/local/formant-warp.js';
import { allPoleGain, hann, lagWindow, levinson, windowedAutocorr } from '../../../../src/voice/local/lpc.js';
import { syntheticVowel } from '../../../helpers/engine-signals.js';

const FS = 16000;
const ORDER = 16;

/** A(z) from pole pairs at the given frequencies (radius r), padded with real poles to ORDER. */
function polyFromFormants(freqs: number[], r = 0.97): Float64Array {
  let p = [1];
  const mul = (q: number[]) => {
    const out = new Array(p.length + q.length - 1).fill(0);
    p.forEach((a, i) => q.forEach((b, j) => (out[i + j] += a * b)));
    p = out;
  };
  for (const f of freqs) mul([1, -2 * r * Math.cos((2 * Math.PI * f) / FS), r * r]);
  for (let k = 0; p.length < ORDER + 1; k++) mul([1, -0.5 + 0.13 * k]);
  return Float64Array.from(p);
}

/** Frequencies of the local maxima of |1/A| on a 5 Hz grid below 6 kHz. */
function peaks(a: Float64Array): number[] {
  const mag: number[] = [];
  for (let f = 0; f <= 6000; f += 5) {
    let re = 0;
    let im = 0;
    for (let k = 0; k < a.length; k++) {
      re += a[k]! * Math.cos((2 * Math.PI * f * k) / FS);
      im -= a[k]! * Math.sin((2 * Math.PI * f * k) / FS);
    }
    mag.push(1 / Math.hypot(re, im));
  }
  const out: number[] = [];
  for (let i = 1; i < mag.length - 1; i++) if (mag[i]! > mag[i - 1]! && mag[i]! > mag[i + 1]!) out.push(i * 5);
  return out;
}

describe('formant warping by pole angles', () => {
  for (const ratio of [0.86, 1.17]) {
    it(`moves every formant by x${ratio}`, () => {
      const formants = [500, 1500, 2500, 3500];
      const a = polyFromFormants(formants);
      const b = new Float64Array(ORDER + 1);
      expect(new FormantWarper(ORDER).warp(a, ratio, b)).toBe(true);
      const got = peaks(b);
      expect(got.length).toBe(formants.length);
      got.forEach((f, i) => expect(Math.abs(f / (formants[i]! * ratio) - 1)).toBeLessThan(0.02));
      expect(b[0]).toBe(1);
    });
  }

  it('is the identity at ratio 1 and keeps the filter stable on real speech LPC', () => {
    const x = Float32Array.from(syntheticVowel(140, 0.1));
    const r = new Float64Array(ORDER + 1);
    const a = new Float64Array(ORDER + 1);
    windowedAutocorr(x, 400, hann(320), ORDER, new Float64Array(320), r);
    const lw = lagWindow(ORDER, FS);
    for (let i = 0; i <= ORDER; i++) r[i]! *= lw[i]!;
    levinson(r, ORDER, a, new Float64Array(ORDER + 1));
    const w = new FormantWarper(ORDER);
    const b = new Float64Array(ORDER + 1);
    w.warp(a, 1, b);
    expect(Array.from(b)).toEqual(Array.from(a));
    for (const ratio of [0.8, 0.9, 1.1, 1.2]) {
      expect(w.warp(a, ratio, b)).toBe(true);
      expect(Number.isFinite(allPoleGain(b, ORDER, new Float64Array(ORDER + 1), new Float64Array(ORDER + 1)))).toBe(true);
    }
  });
});
