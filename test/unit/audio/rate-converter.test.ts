/** The exact-length streaming rate converter (the API's output encoders, the engine's phrase mode). */
import { beforeAll, describe, expect, it } from 'vitest';
import { concatChunks } from '../../../src/audio/codecs/pcm.js';
import { RateConverter } from '../../../src/audio/rate-converter.js';
import { initResampler, resample } from '../../../src/audio/resampler.js';
import { fixturePcm16k } from '../../helpers/audio-check.js';

beforeAll(async () => {
  await initResampler();
});

describe('RateConverter', () => {
  it('joined, is resample() of the whole signal, however the input is cut', () => {
    const x = fixturePcm16k('jfk').subarray(0, 16000 * 2 + 77);
    for (const to of [8000, 22050, 48000]) {
      const r = new RateConverter(16000, to);
      const parts: Int16Array[] = [];
      for (let o = 0; o < x.length; o += 1234) parts.push(r.push(x.subarray(o, o + 1234)).slice());
      parts.push(r.end());
      r.destroy();
      const y = concatChunks(parts);
      expect(y.length, `${to}`).toBe(Math.round((x.length * to) / 16000));
      expect(Buffer.from(y.buffer).equals(Buffer.from(resample(x, 16000, to).buffer)), `${to}`).toBe(true);
    }
  });

  it('passes the input through at the same rate', () => {
    const x = Int16Array.from({ length: 500 }, (_, i) => i);
    const r = new RateConverter(16000, 16000);
    expect(r.push(x)).toBe(x);
    expect(r.end().length).toBe(0);
  });
});
