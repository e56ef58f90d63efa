/**
 * The compatible API masks through the engine's facade: a request is a recording
 * (LocalEngine.maskRecording), with the engine's seed and variation rules (the README's
 * variation policy): the request's seed, else LOCAL_SEED, else one drawn per request; the
 * per-call and per-phrase variation of the engine that serves the calls.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { localStsEngine, type MaskRequest } from '../../../src/api/engine.js';
import { DEFAULT_VOICE_SETTINGS } from '../../../src/api/voice-settings.js';
import { concatChunks } from '../../../src/audio/codecs/pcm.js';
import { initLocalEngine, LocalEngine } from '../../../src/voice/local/index.js';
import { fixturePcm16k } from '../../helpers/audio-check.js';
import { syntheticVowel } from '../../helpers/engine-signals.js';

beforeAll(async () => {
  await initLocalEngine();
});

/** Default settings, speaker boost off: the facade's output, nothing applied after it. */
const request = (seed?: number): MaskRequest => ({
  voiceId: 'neutral-male',
  settings: { ...DEFAULT_VOICE_SETTINGS, use_speaker_boost: false },
  ...(seed !== undefined && { seed }),
  denoise: false,
  signal: new AbortController().signal,
});

async function joined(chunks: AsyncIterable<Int16Array>): Promise<Buffer> {
  const parts: Int16Array[] = [];
  for await (const c of chunks) parts.push(c.slice());
  const x = concatChunks(parts);
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

/** Two phrases with a pause between them (the per-phrase draw changes in the pause). */
const twoPhrases = (): Int16Array => {
  const v = syntheticVowel(125, 0.8);
  const x = new Int16Array(2 * v.length + 8000);
  x.set(v);
  x.set(v, v.length + 8000);
  return x;
};

describe('the compatible API masks through the engine facade', () => {
  it('is the facade\'s recording masking, at the request\'s seed', async () => {
    const engine = new LocalEngine({ defaultVoiceId: 'neutral-male' });
    const pcm = fixturePcm16k('jfk');
    const api = await joined(localStsEngine(engine).mask(pcm, request(7)));
    const facade = await joined(engine.maskRecording(pcm, { voiceId: 'neutral-male', seed: 7, denoise: false, signal: new AbortController().signal }));
    expect(api.length).toBe(pcm.length * 2);
    expect(api.equals(facade)).toBe(true);
  });

  it('arriving input masks as the whole input does', async () => {
    const engine = new LocalEngine({ defaultVoiceId: 'neutral-male' });
    const pcm = fixturePcm16k('jfk');
    async function* rest() {
      yield pcm.subarray(5000, 21000);
      yield pcm.subarray(21000);
    }
    const whole = await joined(localStsEngine(engine).mask(pcm, request(3)));
    const arriving = await joined(localStsEngine(engine).mask({ head: pcm.subarray(0, 5000), rest: rest() }, request(3)));
    expect(arriving.equals(whole)).toBe(true);
  });

  it('seeds: the request\'s repeats exactly; without one each request draws its own, unless LOCAL_SEED is set', async () => {
    const pcm = fixturePcm16k('jfk');
    const free = localStsEngine(new LocalEngine({ defaultVoiceId: 'neutral-male' }));
    expect((await joined(free.mask(pcm, request(9)))).equals(await joined(free.mask(pcm, request(9))))).toBe(true);
    expect((await joined(free.mask(pcm, request()))).equals(await joined(free.mask(pcm, request())))).toBe(false);
    const fixed = localStsEngine(new LocalEngine({ defaultVoiceId: 'neutral-male', seed: 5 }));
    const a = await joined(fixed.mask(pcm, request()));
    expect(a.equals(await joined(fixed.mask(pcm, request())))).toBe(true);
    expect(a.equals(await joined(free.mask(pcm, request(5))))).toBe(true);
  });

  it('gets the engine\'s per-call and per-phrase variation (LOCAL_PHRASE_VARIATION)', async () => {
    const x = twoPhrases();
    const out = (opts: { variation?: number; phraseVariation?: number }) =>
      joined(localStsEngine(new LocalEngine({ defaultVoiceId: 'neutral-male', ...opts })).mask(x, request(4)));
    const none = await out({ variation: 0, phraseVariation: 0 });
    const perCall = await out({ phraseVariation: 0 });
    const both = await out({});
    expect(perCall.equals(none)).toBe(false);
    expect(both.equals(perCall)).toBe(false);
  });
});
