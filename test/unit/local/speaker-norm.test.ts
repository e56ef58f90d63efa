import { describe, expect, it } from 'vitest';
import { FormantNormaliser, PRIOR_HZ } from '../../../src/voice/local/speaker-norm.js';
import { MaskProcessor } from '../../../src/voice/local/processor.js';
import { getPreset } from '../../../src/voice/local/presets.js';
import { syntheticVowel } from './helpers.js';

const RAD = (2 * Math.PI) / 16000;
const hz = (phi: number) => phi / RAD;

/** One hop's poles: the speaker's three formants (sharp), a broad tilt pole and a pole above the band. */
function hopPoles(formantsHz: number[], jitter: number): { angle: number[]; radius: number[] } {
  const angle = [...formantsHz.map((f) => f * (1 + jitter) * RAD), 150 * RAD, 5200 * RAD, 900 * RAD];
  const radius = [0.97, 0.96, 0.95, 0.99, 0.97, 0.6];
  return { angle, radius };
}

function trained(formantsHz: number[], hops = 1500, strength = 1): FormantNormaliser {
  const n = new FormantNormaliser([1, 1, 1], strength);
  n.setRatio(0.92);
  for (let i = 0; i < hops; i++) {
    const p = hopPoles(formantsHz, 0.03 * Math.sin(i * 0.7));
    n.observe(p.angle.length, p.angle, p.radius);
  }
  return n;
}

describe('FormantNormaliser', () => {
  it("estimates a speaker's formants from the sharp in-band poles", () => {
    const speaker = PRIOR_HZ.map((f) => f * 1.15);
    const est = trained(speaker).formantsHz();
    for (let k = 0; k < 3; k++) expect(est[k]! / speaker[k]!).toBeCloseTo(1, 1);
  });

  it('warps two different speakers onto the same targets', () => {
    const low = PRIOR_HZ.map((f) => f * 0.85);
    const high = PRIOR_HZ.map((f) => f * 1.15);
    const a = trained(low);
    const b = trained(high);
    for (let k = 0; k < 3; k++) {
      const ya = hz(a.map(low[k]! * RAD));
      const yb = hz(b.map(high[k]! * RAD));
      expect(Math.abs(ya / yb - 1)).toBeLessThan(0.03);
      expect(Math.abs(ya / (PRIOR_HZ[k]! * 0.92) - 1)).toBeLessThan(0.03);
    }
  });

  it('at strength 0 is the plain ratio', () => {
    const n = trained(PRIOR_HZ.map((f) => f * 1.2), 500, 0);
    for (const f of [300, 800, 1500, 2500, 3300]) expect(hz(n.map(f * RAD)) / f).toBeCloseTo(0.92, 6);
  });

  it('is increasing over the whole band, whatever it has learnt', () => {
    for (const scale of [0.7, 1, 1.4]) {
      const n = trained([PRIOR_HZ[0]! * scale, PRIOR_HZ[1]! / scale, PRIOR_HZ[2]! * scale]);
      let prev = 0;
      for (let phi = 0.001; phi < Math.PI; phi += 0.001) {
        const y = n.map(phi);
        expect(y).toBeGreaterThan(prev);
        prev = y;
      }
    }
  });
});

describe('MaskProcessor formant normalisation', () => {
  /** The formants the engine's own estimator hears in a signal. */
  function heard(x: Int16Array): number[] {
    const p = new MaskProcessor(getPreset('neutral-male'), 1, { normalise: 0 });
    p.process(x, new Int16Array(x.length + 200));
    return p.speakerFormantsHz();
  }
  function masked(x: Int16Array, normalise: number): Int16Array {
    const p = new MaskProcessor(getPreset('neutral-male'), 1, { normalise });
    const out = new Int16Array(x.length + 200);
    const n = p.process(x, out);
    return out.subarray(0, n);
  }

  it('pulls a short and a long vocal tract together; the fixed ratio keeps them apart', () => {
    const base = [600, 1300, 2500];
    const small = syntheticVowel(130, 4, base.map((f) => f * 1.12));
    const large = syntheticVowel(130, 4, base.map((f) => f * 0.88));
    const spread = (a: number[], b: number[]) => a.reduce((s, v, k) => s + Math.abs(Math.log(v / b[k]!)), 0) / a.length;
    const before = spread(heard(small), heard(large));
    const fixed = spread(heard(masked(small, 0)), heard(masked(large, 0)));
    const normalised = spread(heard(masked(small, 1)), heard(masked(large, 1)));
    expect(before).toBeGreaterThan(0.15);
    // Measured: 0.23 apart in, 0.16 with the fixed ratio, 0.07 normalised.
    expect(fixed / before).toBeGreaterThan(0.6);
    expect(normalised / before).toBeLessThan(0.4);
    expect(normalised).toBeLessThan(fixed / 2);
  });
});
