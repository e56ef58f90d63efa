import { beforeAll, describe, expect, it } from 'vitest';
import { initLocalEngine, LocalEngine } from '../../../../src/voice/local/index.js';
import { mulawDecode, mulawEncode } from '../../../../src/audio/mulaw.js';
import { resample } from '../../../../src/audio/resampler.js';
import { syntheticVowel } from '../../../helpers/engine-signals.js';

beforeAll(async () => {
  await initLocalEngine();
});

const vowel = syntheticVowel((t) => 130 + 15 * Math.sin(4 * t), 1.2);
let ulaw: Uint8Array;
beforeAll(() => {
  ulaw = mulawEncode(resample(vowel, 16000, 8000));
});

function stream(e: LocalEngine, seed?: number): Buffer {
  const s = e.openStream({ voiceId: 'neutral-male', ...(seed !== undefined && { seed }) });
  const out: Uint8Array[] = [];
  for (let o = 0; o + 160 <= ulaw.length; o += 160) out.push(s.push(mulawDecode(ulaw.subarray(o, o + 160))).slice());
  s.close();
  return Buffer.concat(out);
}

async function phrase(e: LocalEngine, callKey: string): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of e.convert({ pcm: vowel, sampleRate: 16000, voiceId: 'neutral-male', signal: new AbortController().signal, callKey, endedAt: 0 })) out.push(c);
  return Buffer.concat(out);
}

describe('per-call seeds', () => {
  it('without LOCAL_SEED every stream is its own voice; with a seed, streams repeat exactly', () => {
    const free = new LocalEngine({ defaultVoiceId: 'neutral-male' });
    expect(stream(free).equals(stream(free))).toBe(false);
    const fixed = new LocalEngine({ defaultVoiceId: 'neutral-male', seed: 5 });
    expect(stream(fixed).equals(stream(fixed))).toBe(true);
    expect(stream(free, 9).equals(stream(free, 9))).toBe(true);
  });

  it('phrase mode: the phrases of one call share its voice, another call gets another', async () => {
    const e = new LocalEngine({ defaultVoiceId: 'neutral-male' });
    const a1 = await phrase(e, 'CA-one');
    const a2 = await phrase(e, 'CA-one');
    const b = await phrase(e, 'CA-two');
    expect(a1.equals(a2)).toBe(true);
    expect(a1.equals(b)).toBe(false);
  });
});
