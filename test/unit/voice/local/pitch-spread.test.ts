import { describe, expect, it } from 'vitest';
import { PitchSpread, TYPICAL_SPREAD, targetF0 } from '../../../../src/voice/local/pitch-target.js';
import { getPreset } from '../../../../src/voice/local/presets.js';

/** A speaker whose ln F0 swings +-depth around 150 Hz. */
function speaker(depth: number, hops = 2000): PitchSpread {
  const s = new PitchSpread();
  for (let i = 0; i < hops; i++) s.add(150 * Math.exp(depth * Math.sin(i * 0.05)), 150);
  return s;
}

describe('pitch-range normalisation', () => {
  it('measures the spread and scales flat and lively speakers towards the typical one', () => {
    const flat = speaker(0.14);
    const lively = speaker(0.35);
    expect(flat.value).toBeCloseTo((0.14 * 2) / Math.PI, 2);
    expect(flat.factor()).toBeGreaterThan(1.2);
    expect(lively.factor()).toBeLessThan(0.7);
    // After scaling, both swing about as far as the typical speaker.
    expect(flat.value * flat.factor()).toBeCloseTo(TYPICAL_SPREAD, 2);
    expect(lively.value * lively.factor()).toBeCloseTo(TYPICAL_SPREAD, 2);
  });

  it('starts at factor 1 and keeps the median at the target', () => {
    expect(new PitchSpread().factor()).toBeCloseTo(1, 9);
    const p = getPreset('neutral-male');
    expect(targetF0(p, 150, 150, 1.4)).toBeCloseTo(120, 9);
    expect(targetF0(p, 180, 150, 1.4) / 120).toBeCloseTo((180 / 150) ** 1.4, 9);
  });
});
