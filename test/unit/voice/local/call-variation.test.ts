import { describe, expect, it } from 'vitest';
import { callVariation, F0_SPAN, FORMANT_SPAN, NO_VARIATION, variedPreset } from '../../../../src/voice/local/call-variation.js';
import { getPreset } from '../../../../src/voice/local/presets.js';

describe('per-call variation', () => {
  it('is the same for a seed and differs across seeds', () => {
    expect(callVariation(42, 1)).toEqual(callVariation(42, 1));
    expect(callVariation(42, 1)).not.toEqual(callVariation(43, 1));
  });

  it('is none at amount 0', () => {
    expect(callVariation(42, 0)).toBe(NO_VARIATION);
    expect(variedPreset(getPreset('steady'), NO_VARIATION)).toBe(getPreset('steady'));
  });

  it('stays inside its ranges, so a preset keeps its pitch within 5% and its identity', () => {
    const p = getPreset('neutral-male');
    let lo = 1;
    let hi = 1;
    for (let seed = 0; seed < 200; seed++) {
      const v = callVariation(seed, 1);
      expect(Math.abs(Math.log(v.formantScale))).toBeLessThanOrEqual(FORMANT_SPAN + 1e-12);
      expect(Math.abs(Math.log(v.f0Scale))).toBeLessThanOrEqual(F0_SPAN + 1e-12);
      lo = Math.min(lo, v.formantScale);
      hi = Math.max(hi, v.formantScale);
      const q = variedPreset(p, v);
      expect(Math.abs(q.targetF0Hz! / p.targetF0Hz! - 1)).toBeLessThan(0.03);
      expect(q.formantRatio).toBe(p.formantRatio);
      expect(q.id).toBe(p.id);
    }
    // The draws use the range: calls of one agent land far apart, not all near the preset.
    expect(Math.log(hi / lo)).toBeGreaterThan(1.6 * FORMANT_SPAN);
  });

  it('varies a relative preset in semitones', () => {
    const p = getPreset('shift-up');
    const q = variedPreset(p, callVariation(7, 1));
    expect(q.targetF0Hz).toBeUndefined();
    expect(Math.abs(q.pitchSemitones! - 3)).toBeLessThan(0.5);
  });
});
