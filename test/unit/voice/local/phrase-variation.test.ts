import { beforeAll, describe, expect, it } from 'vitest';
import { PHRASE_SPAN, phraseIndexOf, phraseScale } from '../../../../src/voice/local/call-variation.js';
import { initLocalEngine, LocalEngine } from '../../../../src/voice/local/index.js';
import { MaskProcessor } from '../../../../src/voice/local/processor.js';
import { getPreset } from '../../../../src/voice/local/presets.js';
import { syntheticVowel } from '../../../helpers/engine-signals.js';

beforeAll(async () => {
  await initLocalEngine();
});

describe('per-phrase variation of the formant target', () => {
  it('draws one scale per (seed, phrase), inside +-PHRASE_SPAN, using the range; none at amount 0', () => {
    expect(phraseScale(5, 3, 1)).toBe(phraseScale(5, 3, 1));
    expect(phraseScale(5, 3, 0)).toBe(1);
    const logs: number[] = [];
    for (let i = 0; i < 300; i++) logs.push(Math.log(phraseScale(11, i, 1)));
    for (const l of logs) expect(Math.abs(l)).toBeLessThanOrEqual(PHRASE_SPAN + 1e-12);
    expect(Math.max(...logs) - Math.min(...logs)).toBeGreaterThan(1.8 * PHRASE_SPAN);
    // Neighbouring phrases are not correlated (a draw says nothing about the next).
    let num = 0;
    let den = 0;
    for (let i = 1; i < logs.length; i++) {
      num += logs[i]! * logs[i - 1]!;
      den += logs[i]! * logs[i]!;
    }
    expect(Math.abs(num / den)).toBeLessThan(0.2);
    expect(phraseScale(11, 0, 1)).not.toBe(phraseScale(12, 0, 1));
  });

  it("indexes a phrase by its samples: the same phrase alike, another phrase otherwise", () => {
    const a = syntheticVowel(120, 0.5);
    const b = syntheticVowel(121, 0.5);
    expect(phraseIndexOf(a)).toBe(phraseIndexOf(a.slice()));
    expect(phraseIndexOf(a)).not.toBe(phraseIndexOf(b));
    expect(phraseIndexOf(a)).not.toBe(phraseIndexOf(a.subarray(0, a.length - 1)));
  });

  it('changes the warp in a pause of 250 ms or more, never within a phrase or across a short gap', () => {
    const vowel = syntheticVowel(125, 0.6);
    const gap = (ms: number) => new Int16Array(16 * ms);
    const seed = 77;
    const on = new MaskProcessor(getPreset('neutral-male'), seed, { phraseVariation: 1 });
    const off = new MaskProcessor(getPreset('neutral-male'), seed, {});
    const out = new Int16Array(vowel.length + 16 * 400 + 200);
    /** log(warp with variation / warp without) after each piece. */
    const diffs: number[] = [];
    for (const piece of [vowel, gap(100), vowel, gap(400), vowel]) {
      on.process(piece, out);
      off.process(piece, out);
      diffs.push(Math.log(on.formantWarp() / off.formantWarp()));
    }
    const [p0, short, p0b, pause, p1] = diffs as [number, number, number, number, number];
    expect(Math.abs(p0)).toBeGreaterThan(0.005);
    expect(short).toBeCloseTo(p0, 9);
    expect(p0b).toBeCloseTo(p0, 9);
    // From the pause on, the next phrase's draw (the warp is a power of the target's scale).
    expect(pause).not.toBeCloseTo(p0, 3);
    expect(p1).toBeCloseTo(pause, 9);
    const ratio = Math.log(phraseScale(seed, 1, 1)) / Math.log(phraseScale(seed, 0, 1));
    expect(pause / p0).toBeCloseTo(ratio, 6);
  });

  it('phrase mode: each phrase draws from its samples (repeats exactly); off, phrases share the call voice', () => {
    const vowel = syntheticVowel(125, 0.8);
    const on = new LocalEngine({ defaultVoiceId: 'neutral-male', seed: 3 });
    const off = new LocalEngine({ defaultVoiceId: 'neutral-male', seed: 3, phraseVariation: 0 });
    const a = on.maskPcm16k(vowel, { voiceId: 'neutral-male' });
    expect(Buffer.from(on.maskPcm16k(vowel, { voiceId: 'neutral-male' }).buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(off.maskPcm16k(vowel, { voiceId: 'neutral-male' }).buffer).equals(Buffer.from(a.buffer))).toBe(false);
  });
});
