/** File codecs: container detection from bytes, decoding limits, the WebM demuxer, the optional MP3 encoder. */
import { describe, expect, it, beforeAll } from 'vitest';
import { OggOpusDecoder } from 'ogg-opus-decoder';
import { AudioDecodeError, decodeToMono16k } from '../../../src/audio/codecs/decode.js';
import { loadMp3Encoder, Mp3EncoderUnavailable, Mp3StreamEncoder, mp3RateForced, withOutputRate } from '../../../src/audio/codecs/mp3-encoder.js';
import { OggOpusEncoder } from '../../../src/audio/codecs/ogg-opus-encoder.js';
import { sniffContainer } from '../../../src/audio/codecs/sniff.js';
import { demuxWebmAudio } from '../../../src/audio/codecs/webm.js';
import { initResampler } from '../../../src/audio/resampler.js';
import { fixture } from '../../helpers/audio-check.js';

beforeAll(() => initResampler());

/** 1 s of a 440 Hz tone through Mp3StreamEncoder with an encoder class, decoded back with mpg123. */
async function mp3Tone(Ctor: ConstructorParameters<typeof Mp3StreamEncoder>[0], rate: number, kbps: number) {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const enc = new Mp3StreamEncoder(Ctor, rate, kbps);
  const pcm = new Int16Array(rate).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / rate)));
  const mp3 = Buffer.concat([...enc.push(pcm), ...enc.end()]);
  const d = new MPEGDecoder();
  await d.ready;
  const r = d.decode(mp3);
  d.free();
  return { mp3, r };
}

describe('container detection', () => {
  it('tells every fixture by its bytes', () => {
    const want: Record<string, string> = {
      'jfk_3s_16k.wav': 'wav',
      'jfk_3s_44k_stereo.mp3': 'mp3',
      'jfk_3s_16k.flac': 'flac',
      'jfk_3s.opus': 'ogg-opus',
      'jfk_3s_22k_stereo.ogg': 'ogg-vorbis',
      'jfk_3s.webm': 'webm',
      'jfk_3s_live.webm': 'webm',
      'jfk_3s.m4a': 'mp4',
    };
    for (const [name, c] of Object.entries(want)) expect(sniffContainer(fixture(name)), name).toBe(c);
  });

  it('does not take raw PCM or text for MP3', () => {
    const pcm = new Uint8Array(4000);
    for (let i = 0; i < pcm.length; i++) pcm[i] = (i * 37) & 0xff;
    pcm[0] = 0xff;
    pcm[1] = 0xfb; // a frame sync at the start, but no second frame where the first one ends
    expect(sniffContainer(pcm)).toBe('unknown');
    expect(sniffContainer(Buffer.from('RIFF....AVI LIST'))).toBe('unknown');
  });
});

describe('decoding', () => {
  it('stops at the duration limit instead of decoding everything', async () => {
    const e = await decodeToMono16k(fixture('jfk_3s_44k_stereo.mp3'), { maxSeconds: 1 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AudioDecodeError);
    expect((e as AudioDecodeError).kind).toBe('too_long');
  });

  it('allows half a second over the limit: encoder padding must not refuse a recording of exactly the limit', async () => {
    await expect(decodeToMono16k(fixture('jfk_3s.opus'), { maxSeconds: 2.6 })).resolves.toMatchObject({ container: 'ogg-opus' });
  });

  it('an aborted request stops decoding', async () => {
    const ac = new AbortController();
    ac.abort(new Error('client gone'));
    await expect(decodeToMono16k(fixture('jfk_3s.opus'), { maxSeconds: 300, signal: ac.signal })).rejects.toThrow('client gone');
  });

  it('WebM: finds the Opus track and its frames in sized and unknown-size (live) files alike', () => {
    const a = demuxWebmAudio(fixture('jfk_3s.webm'));
    const b = demuxWebmAudio(fixture('jfk_3s_live.webm'));
    expect(a.codecId).toBe('A_OPUS');
    expect([a.sampleRate, a.channels]).toEqual([48000, 1]);
    expect(a.frames.length).toBe(b.frames.length);
    expect(a.frames.length).toBeGreaterThanOrEqual(150); // 3 s of 20 ms packets
    expect(a.truncated || b.truncated).toBe(false);
  });
});

describe('encoders', () => {
  it('Ogg Opus: pages a third-party decoder reads back to exactly the input length', async () => {
    const enc = new OggOpusEncoder(32000);
    const n = 48000 + 123;
    const pcm = new Int16Array(n).map((_, i) => Math.round(6000 * Math.sin(i / 20)));
    const pages = [...enc.push(pcm.subarray(0, 5000)), ...enc.push(pcm.subarray(5000)), ...enc.end()];
    const d = new OggOpusDecoder();
    await d.ready;
    const r = await d.decodeFile(Buffer.concat(pages));
    d.free();
    expect(r.errors).toEqual([]);
    expect(r.samplesDecoded).toBe(n);
  });

  it('MP3: a missing optional encoder is a clear error naming the package to install', async () => {
    const e = await loadMp3Encoder('@example/no-such-mp3-encoder').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Mp3EncoderUnavailable);
    expect((e as Error).message).toMatch(/npm install @example\/no-such-mp3-encoder/);
    expect((e as Error).message).toMatch(/opus_48000_/);
    await expect(loadMp3Encoder()).resolves.toBeTypeOf('function'); // installed here (npm ci installs optional deps)
  });

  it('MP3: 32 kbps at 44.1 kHz stays at 44.1 kHz (LAME would pick 22.05 kHz itself)', async () => {
    const Lame = await loadMp3Encoder();
    expect(mp3RateForced).toBe(true);
    for (const [rate, kbps] of [[44100, 32], [22050, 32], [44100, 128]] as const) {
      const { mp3, r } = await mp3Tone(Lame, rate, kbps);
      expect(r.sampleRate, `${rate}/${kbps}`).toBe(rate);
      expect(r.samplesDecoded / rate, `${rate}/${kbps}`).toBeGreaterThan(0.95);
      const kbit = (mp3.length * 8) / 1000; // 1 s of audio, plus the encoder's last frames
      expect(Math.abs(kbit / kbps - 1), `${rate}/${kbps}: ${kbit} kbit in 1 s`).toBeLessThan(0.15);
    }
  });

  it('MP3: a build of the port that no longer matches is left as published', async () => {
    expect(withOutputRate('var lamejs=function(){}({});')).toBeUndefined();
    // the port as published (its ES module build, never patched) still encodes the rate and
    // bitrate asked for: it is not handed the fourth argument that would reset it to 44.1 kHz 128 kbps
    const { Mp3Encoder } = (await import('@breezystack/lamejs')) as unknown as { Mp3Encoder: ConstructorParameters<typeof Mp3StreamEncoder>[0] };
    for (const [rate, kbps] of [[22050, 32], [24000, 48]] as const) {
      const { mp3, r } = await mp3Tone(Mp3Encoder, rate, kbps);
      expect(r.sampleRate, `${rate}/${kbps}`).toBe(rate);
      expect(Math.abs((mp3.length * 8) / 1000 / kbps - 1), `${rate}/${kbps}`).toBeLessThan(0.15);
    }
  });
});

describe('decoders in parallel', () => {
  it('leave console.error as it was, however their calls overlap', async () => {
    const before = console.error;
    const files = ['jfk_3s_16k.flac', 'jfk_3s.opus', 'jfk_3s_22k_stereo.ogg', 'jfk_3s_44k_stereo.mp3'].map(fixture);
    const out = await Promise.all([...files, ...files].map((b) => decodeToMono16k(b, { maxSeconds: 60 })));
    expect(out.every((d) => d.seconds > 2.9)).toBe(true);
    expect(console.error).toBe(before);
  });
});
