import { describe, it, expect } from 'vitest';
import { decimate2, medianVoiced, trackF0 } from '../../../../src/voice/local/pitch-tracker.js';
import { F0Median, PitchReference, targetF0 } from '../../../../src/voice/local/pitch-target.js';
import { getPreset } from '../../../../src/voice/local/presets.js';
import { syntheticVowel, whiteNoise } from '../../../helpers/engine-signals.js';

describe('YIN pitch tracker', () => {
  for (const f0 of [75, 110, 160, 220, 330]) {
    it(`finds ${f0} Hz in a synthetic vowel within 1%`, () => {
      const f = trackF0(syntheticVowel(f0, 1), 16000);
      const voiced = Array.from(f).filter((v) => v > 0).length;
      expect(voiced / f.length).toBeGreaterThan(0.8);
      expect(Math.abs(medianVoiced(f) / f0 - 1)).toBeLessThan(0.01);
    });
  }

  it('follows a glide without octave jumps', () => {
    const f = trackF0(syntheticVowel((t) => 120 + 80 * t, 1), 16000);
    const v = Array.from(f).slice(5, -5).filter((x) => x > 0);
    for (let i = 1; i < v.length; i++) expect(Math.abs(Math.log2(v[i]! / v[i - 1]!))).toBeLessThan(0.1);
    expect(v[0]!).toBeLessThan(135);
    expect(v[v.length - 1]!).toBeGreaterThan(180);
  });

  it('calls white noise and silence unvoiced', () => {
    const noise = trackF0(whiteNoise(16000, 5000), 16000);
    expect(Array.from(noise).filter((v) => v > 0).length / noise.length).toBeLessThan(0.1);
    expect(Array.from(trackF0(new Int16Array(16000), 16000)).every((v) => v === 0)).toBe(true);
  });

  it('decimates without shifting a tone', () => {
    const x = Float32Array.from({ length: 1600 }, (_, i) => Math.sin((2 * Math.PI * 500 * i) / 16000) * 1000);
    const d = decimate2(x);
    for (let i = 20; i < 780; i += 37) expect(d[i]!).toBeCloseTo(Math.sin((2 * Math.PI * 500 * i) / 8000) * 1000, -1);
  });
});

describe('pitch normalisation', () => {
  it('tracks the running median', () => {
    const m = new F0Median();
    expect(m.median()).toBe(0);
    for (const f of [100, 110, 120, 130, 500]) m.add(f);
    expect(Math.abs(m.median() / 120 - 1)).toBeLessThan(0.03);
  });

  it('corrects the running median for its lag behind pitch that falls through every phrase', () => {
    // 2 s phrases (400 voiced hops) falling 220 -> 170 Hz, then resetting: the running median
    // alone sits above the falling pitch most of the time, so f0 / median is below 1 in most hops.
    const ref = new PitchReference();
    const plain = new F0Median();
    const r: number[] = [];
    const p: number[] = [];
    for (let phrase = 0; phrase < 6; phrase++) {
      for (let h = 0; h < 400; h++) {
        const f0 = 220 * (170 / 220) ** (h / 400);
        plain.add(f0);
        p.push(f0 / plain.median());
        r.push(f0 / ref.add(f0));
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
    expect(median(p)).toBeLessThan(0.985); // the bias being removed
    expect(Math.abs(median(r) - 1)).toBeLessThan(0.015);
    // and the melody within a phrase survives: the last phrase still falls by most of its range
    const last = r.slice(-400);
    expect(last[0]! / last[399]!).toBeGreaterThan(1.15);
  });

  it('maps a speaker at their median to the target, keeping relative movement', () => {
    const p = getPreset('neutral-male');
    expect(targetF0(p, 220, 220)).toBeCloseTo(120, 6);
    expect(targetF0(p, 220 * 1.2, 220) / 120).toBeCloseTo(1.2, 6);
    const flat = getPreset('steady');
    expect(targetF0(flat, 220 * 1.5, 220) / 135).toBeCloseTo(1.5 ** 0.4, 6);
  });

  it('applies relative presets and clamps extreme ratios', () => {
    expect(targetF0(getPreset('shift-up'), 200, 150)).toBeCloseTo(200 * 2 ** (3 / 12), 6);
    expect(targetF0(getPreset("deep-male"), 400, 400)).toBeCloseTo(400 * 0.35, 6);
  });
});
