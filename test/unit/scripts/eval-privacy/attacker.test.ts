import { describe, expect, it } from 'vitest';
import { eer, eerWithInterval, rng, type Trial } from '../../../../scripts/eval-privacy/eer.js';
import { llrScore, mapAdapt, prepareTest, trainUbm, type Features } from '../../../../scripts/eval-privacy/gmm.js';
import { DIM, mfccFeatures } from '../../../../scripts/eval-privacy/mfcc.js';
import { cutSegments, spread } from '../../../../scripts/eval-privacy/segments.js';
import { wordErrors } from '../../../../scripts/eval-privacy/wer.js';

describe('eval:privacy attacker pieces', () => {
  it('EER: 0 for separated scores, 50% for identical ones, and the crossing in between', () => {
    expect(eer([{ score: 1, target: true }, { score: 0, target: false }])).toBe(0);
    expect(eer([{ score: 0, target: true }, { score: 0, target: false }])).toBe(0.5);
    // targets 0.2 0.6 0.8 0.9, non-targets 0.1 0.3 0.5 0.7: one miss and one false alarm of four each.
    const t = [0.2, 0.6, 0.8, 0.9].map((score) => ({ score, target: true }));
    const n = [0.1, 0.3, 0.5, 0.7].map((score) => ({ score, target: false }));
    expect(eer([...t, ...n])).toBeCloseTo(0.25, 9);
  });

  it('speaker bootstrap interval holds the point estimate and counts the trials', () => {
    const r = rng(3);
    const trials: Trial[] = [];
    for (const a of ['a', 'b', 'c', 'd', 'e'])
      for (const b of ['a', 'b', 'c', 'd', 'e']) for (let i = 0; i < 4; i++) trials.push({ enrolSpeaker: a, testSpeaker: b, score: (a === b ? 1 : 0) + r() });
    const res = eerWithInterval(trials, 200);
    expect(res.targets).toBe(20);
    expect(res.nonTargets).toBe(80);
    expect(res.lo).toBeLessThanOrEqual(res.eer);
    expect(res.hi).toBeGreaterThanOrEqual(res.eer);
  });

  it('word errors: substitutions, insertions and deletions against the reference', () => {
    expect(wordErrors('ask not what your country', 'ask not what your country')).toEqual({ errors: 0, words: 5 });
    expect(wordErrors('ask not what your country', 'ask what you country can')).toEqual({ errors: 3, words: 5 });
  });

  it("GMM-UBM scores a speaker's own frames above another's", () => {
    const r = rng(11);
    const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    const speaker = (centre: number, frames: number): Features => {
      const data = new Float64Array(frames * DIM);
      for (let i = 0; i < data.length; i++) data[i] = gauss() + (i % DIM < 4 ? centre : 0);
      return { data, frames };
    };
    const ubm = trainUbm([speaker(-1, 600), speaker(1, 600), speaker(0, 600)], DIM, 8, 2, 3);
    const model = mapAdapt(ubm, speaker(1.5, 300));
    const same = llrScore(model, prepareTest(ubm, speaker(1.5, 200), 4));
    const other = llrScore(model, prepareTest(ubm, speaker(-1.5, 200), 4));
    expect(same).toBeGreaterThan(0);
    expect(same).toBeGreaterThan(other + 1);
  });

  it('MFCC features: CMN leaves every dimension mean-free; silence yields no frames', () => {
    const x = Int16Array.from({ length: 8000 }, (_, i) => Math.round(3000 * Math.sin(i * 0.3) + 1500 * Math.sin(i * 1.1)));
    const f = mfccFeatures(x);
    expect(f.frames).toBeGreaterThan(90);
    for (let d = 0; d < DIM; d++) {
      let m = 0;
      for (let t = 0; t < f.frames; t++) m += f.data[t * DIM + d]!;
      expect(Math.abs(m / f.frames)).toBeLessThan(1e-9);
    }
    expect(mfccFeatures(new Int16Array(100)).frames).toBe(0);
  });

  it('segments are 2-3.6 s, cut at phrases, short phrases joined', () => {
    const segs = cutSegments('jfk', 'jfk', [
      [0.33, 2.12],
      [3.29, 3.71],
      [4.01, 4.3],
      [5.42, 7.54],
      [8.19, 10.99],
    ]);
    for (const s of segs) {
      const d = s.ranges.reduce((a, [x, y]) => a + y - x, 0) / 8000;
      expect(d).toBeGreaterThanOrEqual(1.5);
      expect(d).toBeLessThanOrEqual(3.6);
    }
    expect(segs.length).toBe(3);
    expect(spread([1, 2, 3, 4, 5, 6], 3)).toEqual([2, 4, 6]);
  });
});
