import { describe, expect, it } from 'vitest';
import { maskWhole } from '../../../../src/voice/local/processor.js';
import { getPreset } from '../../../../src/voice/local/presets.js';
import { trackF0 } from '../../../../src/voice/local/pitch-tracker.js';
import { syntheticVowel, whiteNoise } from '../../../helpers/engine-signals.js';

/** Masks x in one processor (as a call's stream does); the output is aligned with x. */
function mask(x: Int16Array): Int16Array {
  const out = maskWhole(x, getPreset('neutral-male'), 3);
  expect(out.length).toBe(x.length);
  return out;
}

const voicedShare = (y: Int16Array, from: number) => {
  const f0 = trackF0(y.subarray(from), 16000);
  return f0.reduce((s, f) => s + (f > 0 ? 1 : 0), 0) / f0.length;
};

describe('noise floor estimate in a long call', () => {
  it('a call that opens in near-silence keeps the voicing of noisy speech (JFK in streaming mode)', () => {
    // Noisy speech: a vowel at about 15 dB SNR in white noise.
    const vowel = syntheticVowel((t) => 140 + 20 * Math.sin(2 * Math.PI * 1.5 * t), 3, [650, 1150, 2600], 6000);
    const noise = whiteNoise(vowel.length, 2400, 5);
    const noisy = Int16Array.from(vowel, (v, i) => v + noise[i]!);
    // The same speech after 4 s of line hiss at -80 dBFS (mu-law's quietest steps).
    const lead = whiteNoise(4 * 16000, 3, 9);
    const late = new Int16Array(lead.length + noisy.length);
    late.set(lead);
    late.set(noisy, lead.length);
    const alone = voicedShare(mask(noisy), 0);
    const after = voicedShare(mask(late), lead.length);
    expect(alone).toBeGreaterThan(0.5);
    expect(after).toBeGreaterThan(alone - 0.1);
  });
});
