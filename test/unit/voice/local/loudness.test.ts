import { beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode } from '../../../../src/audio/mulaw.js';
import { resample } from '../../../../src/audio/resampler.js';
import { callVariation } from '../../../../src/voice/local/call-variation.js';
import { initLocalEngine } from '../../../../src/voice/local/index.js';
import { bandPowerGain } from '../../../../src/voice/local/lpc.js';
import { maskWhole } from '../../../../src/voice/local/processor.js';
import { getPreset } from '../../../../src/voice/local/presets.js';
import { loadClipMulaw } from '../../../../tools/clips.js';
import { rms } from '../../../helpers/engine-signals.js';

/** The seed below 5000 whose call variation lowers the formants most. */
function lowestSeed(): number {
  let best = 0;
  for (let s = 1; s < 5000; s++) if (callVariation(s, 1).formantScale < callVariation(best, 1).formantScale) best = s;
  return best;
}

describe('loudness of a warped voice', () => {
  beforeAll(() => initLocalEngine());

  it('bandPowerGain is the in-band power gain of 1/A (1 for A = 1, larger for a resonance in the band)', () => {
    const flat = new Float64Array(17);
    flat[0] = 1;
    expect(bandPowerGain(flat, 16)).toBeCloseTo(1, 9);
    const r = 0.95;
    const w = (2 * Math.PI * 1000) / 16000;
    const res = new Float64Array(17);
    res.set([1, -2 * r * Math.cos(w), r * r]);
    expect(bandPowerGain(res, 16)).toBeGreaterThan(5);
  });

  it('keeps a lowered voice at the input level, unclipped (the white-noise match left it 3-8x too loud)', () => {
    const seed = lowestSeed();
    expect(callVariation(seed, 1).formantScale).toBeLessThan(0.88);
    const x = resample(mulawDecode(loadClipMulaw('p260')), 8000, 16000);
    const y = maskWhole(x, getPreset('deep-male'), seed, { variation: 1 });
    const ratio = rms(resample(y, 16000, 8000)) / rms(resample(x, 16000, 8000));
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(1.5);
    const hot = y.filter((s) => Math.abs(s) >= 30000).length;
    expect(hot / y.length).toBeLessThan(0.001);
  });
});
