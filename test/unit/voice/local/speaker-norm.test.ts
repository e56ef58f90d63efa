import { describe, expect, it } from 'vitest';
import { FormantNormaliser, PRIOR_HZ } from '../../../../src/voice/local/speaker-norm.js';
import { MaskProcessor } from '../../../../src/voice/local/processor.js';
import { getPreset } from '../../../../src/voice/local/presets.js';
import { syntheticVowel } from '../../../helpers/engine-signals.js';
import { averageEnvelope, envelopeShiftRatio } from '../../../../scripts/lib/engine-metrics.js';

const RAD = (2 * Math.PI) / 16000;

/** One hop's poles: the speaker's three formants (sharp), a broad pole, and poles outside the band. */
function hopPoles(formantsHz: number[], jitter: number): { angle: number[]; radius: number[] } {
  const angle = [...formantsHz.map((f) => f * (1 + jitter) * RAD), 150 * RAD, 5200 * RAD, 900 * RAD];
  const radius = [0.97, 0.96, 0.95, 0.99, 0.97, 0.6];
  return { angle, radius };
}

function trained(formantsHz: number[], hops = 1500, strength = 1, callScale = 1): FormantNormaliser {
  const n = new FormantNormaliser(callScale, strength);
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

  it('warps a short and a long vocal tract onto the same target', () => {
    const short = trained(PRIOR_HZ.map((f) => f * 1.15));
    const long = trained(PRIOR_HZ.map((f) => f * 0.85));
    expect(short.ratio * 1.15).toBeCloseTo(0.92, 2);
    expect(long.ratio * 0.85).toBeCloseTo(0.92, 2);
  });

  it("starts at the preset's ratio, is the preset's ratio at strength 0, and moves by the call's scale", () => {
    const fresh = new FormantNormaliser();
    fresh.setRatio(0.92);
    expect(fresh.ratio).toBeCloseTo(0.92, 9);
    expect(trained(PRIOR_HZ.map((f) => f * 1.2), 500, 0).ratio).toBeCloseTo(0.92, 9);
    expect(trained(PRIOR_HZ.map((f) => f * 1.2), 1500, 1, 1.05).ratio / trained(PRIOR_HZ.map((f) => f * 1.2)).ratio).toBeCloseTo(1.05, 6);
  });
});

describe('MaskProcessor formant normalisation', () => {
  function masked(x: Int16Array, normalise: number): Int16Array {
    const p = new MaskProcessor(getPreset('neutral-male'), 1, { normalise });
    const out = new Int16Array(x.length + 200);
    const n = p.process(x, out);
    return out.subarray(0, n);
  }
  /** How far apart (as a frequency ratio) the long-term envelopes of two signals are. */
  function apart(a: Int16Array, b: Int16Array): number {
    const all = (x: Int16Array) => new Array<boolean>(Math.floor(x.length / 160)).fill(true);
    return envelopeShiftRatio(averageEnvelope(a, all(a)), averageEnvelope(b, all(b)));
  }

  it('pulls a short and a long vocal tract together; the fixed ratio keeps them apart', () => {
    const base = [600, 1300, 2500];
    const short = syntheticVowel(130, 4, base.map((f) => f * 1.12));
    const long = syntheticVowel(130, 4, base.map((f) => f * 0.88));
    const before = apart(short, long);
    const fixed = apart(masked(short, 0), masked(long, 0));
    const normalised = apart(masked(short, 1), masked(long, 1));
    expect(before).toBeLessThan(0.82); // measured: 0.80 apart in, 0.80 with the fixed ratio, 0.98 normalised
    expect(Math.abs(Math.log(fixed / before))).toBeLessThan(0.1);
    expect(Math.abs(Math.log(normalised))).toBeLessThan(Math.abs(Math.log(before)) / 3);
  });
});
