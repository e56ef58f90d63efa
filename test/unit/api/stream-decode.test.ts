/**
 * /stream with a long encoded file: answered once its first seconds are decoded, the rest
 * masked as it is decoded; the container's duration refuses an over-long file up front, and a
 * file found broken after the answer began is cut, never completed.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localStsEngine } from '../../../src/api/engine.js';
import { createStsRouter } from '../../../src/api/sts-router.js';
import { decodeToMono16k } from '../../../src/audio/codecs/decode.js';
import { containerSeconds } from '../../../src/audio/codecs/duration.js';
import { sniffContainer } from '../../../src/audio/codecs/sniff.js';
import { initResampler } from '../../../src/audio/resampler.js';
import { silentLog } from '../../helpers/phrases.js';
import { encodeFlac } from '../../helpers/flac.js';
import { fixture, fixturePcm16k } from '../../helpers/audio-check.js';

let url = '';
let close: () => Promise<void>;

beforeAll(async () => {
  await initResampler();
  const app = express();
  app.use(createStsRouter({ engine: localStsEngine(), log: silentLog, maxInputSeconds: 40 }));
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  close = async () => {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  };
});
afterAll(() => close());

/** n copies of the 3 s MP3 fixture back to back, its ID3 tag kept once: one longer MP3 (MPEG frames concatenate). */
function longMp3(n: number): Buffer {
  const one = fixture('jfk_3s_44k_stereo.mp3');
  const tag = 10 + ((one[6]! << 21) | (one[7]! << 14) | (one[8]! << 7) | one[9]!); // ID3v2: 10 bytes + its size
  return Buffer.concat([one, ...Array.from({ length: n - 1 }, () => one.subarray(tag))]);
}

async function send(path: string, audio: Uint8Array, settings?: object, seed?: number) {
  const f = new FormData();
  f.append('audio', new Blob([audio]), 'input.mp3');
  if (settings) f.append('voice_settings', JSON.stringify(settings));
  if (seed !== undefined) f.append('seed', String(seed));
  const res = await fetch(`${url}${path}`, { method: 'POST', body: f });
  const parts: Uint8Array[] = [];
  let error: unknown;
  try {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  } catch (err) {
    error = err;
  }
  return { res, body: Buffer.concat(parts), error };
}

describe('the container states the duration', () => {
  it('MP3, FLAC, Ogg Opus and Ogg Vorbis: as long as the decoded audio; WAV and WebM: not said here', async () => {
    for (const name of ['jfk_3s_44k_stereo.mp3', 'jfk_3s_16k.flac', 'jfk_3s.opus', 'jfk_3s_22k_stereo.ogg']) {
      const bytes = fixture(name);
      const decoded = await decodeToMono16k(bytes, { maxSeconds: 60 });
      expect(Math.abs(containerSeconds(bytes, sniffContainer(bytes))! - decoded.seconds), name).toBeLessThan(0.06);
    }
    for (const name of ['jfk_3s.webm', 'jfk_3s_16k.wav']) expect(containerSeconds(fixture(name), sniffContainer(fixture(name))), name).toBeUndefined();
  });

  it('MP3: a tag after the frames is skipped; a long run of other bytes is not scanned (undefined: the file is decoded first)', () => {
    const mp3 = fixture('jfk_3s_44k_stereo.mp3');
    const seconds = containerSeconds(mp3, 'mp3')!;
    const id3v1 = Buffer.concat([Buffer.from('TAG'), Buffer.alloc(125, 0x20)]);
    expect(containerSeconds(Buffer.concat([mp3, id3v1]), 'mp3')).toBe(seconds);
    const junk = Buffer.concat([mp3, Buffer.alloc(100_000)]);
    expect(containerSeconds(junk, 'mp3')).toBeUndefined();
  });
});

describe('/stream of a long encoded file', () => {
  it('streams the same masked audio as convert, with the character cost of its duration', async () => {
    const mp3 = longMp3(8); // 24 s: past the 10 s /stream waits for
    const settings = { use_speaker_boost: false }; // boost measures the whole file on convert, the first 10 s on /stream
    // one seed for both: without one, each request draws its own variation (as each call does)
    const whole = await send('/v1/speech-to-speech/neutral-male?output_format=pcm_16000', mp3, settings, 11);
    const streamed = await send('/v1/speech-to-speech/neutral-male/stream?output_format=pcm_16000', mp3, settings, 11);
    expect([whole.res.status, streamed.res.status]).toEqual([200, 200]);
    expect(streamed.error).toBeUndefined();
    expect(streamed.body.length).toBe(whole.body.length);
    expect(Buffer.compare(streamed.body, whole.body)).toBe(0);
    // /stream bills the duration the frames state, convert the decoded one (without the encoder's delay): a character apart at most
    expect(Math.abs(Number(streamed.res.headers.get('character-cost')) - Number(whole.res.headers.get('character-cost')))).toBeLessThanOrEqual(1);
    const cost = Number(streamed.res.headers.get('character-cost'));
    expect(cost).toBeGreaterThanOrEqual(400); // 24 s, and the encoder's padding
    expect(cost).toBeLessThanOrEqual(410);
  });

  it('refuses before answering: longer than the limit by its frames, or cut inside its last frame', async () => {
    const tooLong = await send('/v1/speech-to-speech/neutral-male/stream?output_format=pcm_16000', longMp3(15)); // 45 s > 40 s
    expect(tooLong.res.status).toBe(422);
    expect(JSON.stringify(await new Response(tooLong.body).json())).toMatch(/longer than 40 s/);
    const mp3 = longMp3(8);
    const cut = await send('/v1/speech-to-speech/neutral-male/stream?output_format=pcm_16000', mp3.subarray(0, mp3.length - 100));
    expect(cut.res.status).toBe(422);
    expect(JSON.stringify(await new Response(cut.body).json())).toMatch(/truncated/);
  });

  it('a container that states less than it holds is not believed: the whole file is decoded first, as convert does', async () => {
    const speech = fixturePcm16k('jfk');
    const long = new Int16Array(16000 * 24).map((_, i) => speech[i % speech.length]!);
    for (const stated of [1, 16000 * 2]) {
      const flac = Buffer.from(encodeFlac(long, 16000));
      // STREAMINFO's 36-bit total samples (bytes 21..25 of the file): far fewer than the 24 s it holds
      flac[21] = flac[21]! & 0xf0;
      flac.writeUInt32BE(stated, 22);
      expect(containerSeconds(flac, 'flac')).toBe(stated / 16000);
      const settings = { use_speaker_boost: false };
      const streamed = await send('/v1/speech-to-speech/neutral-male/stream?output_format=pcm_16000', flac, settings, 11);
      const whole = await send('/v1/speech-to-speech/neutral-male?output_format=pcm_16000', flac, settings, 11);
      expect([streamed.res.status, streamed.error, streamed.body.length], `stated ${stated}`).toEqual([200, undefined, long.length * 2]);
      expect(Buffer.compare(streamed.body, whole.body)).toBe(0);
      expect(streamed.res.headers.get('character-cost')).toBe('400'); // 24 s, not the stated duration
    }
  });

  it('a file found broken after the answer began (FLAC shorter than its STREAMINFO) is cut, never completed', async () => {
    const speech = fixturePcm16k('jfk');
    const long = new Int16Array(16000 * 24).map((_, i) => speech[i % speech.length]!);
    const flac = encodeFlac(long, 16000);
    const r = await send('/v1/speech-to-speech/neutral-male/stream?output_format=pcm_16000', flac.subarray(0, Math.floor(flac.length * 0.8)));
    expect(r.res.status).toBe(200);
    expect(r.error).toBeDefined();
    expect(r.body.length).toBeLessThan(0.8 * long.length * 2);
    // the whole file streams in full
    const ok = await send('/v1/speech-to-speech/neutral-male/stream?output_format=pcm_16000', flac);
    expect([ok.res.status, ok.error, ok.body.length]).toEqual([200, undefined, long.length * 2]);
  });
});
