/**
 * The ElevenLabs-compatible API, served by the embedded engine on a real loopback server,
 * driven by the official SDK (@elevenlabs/elevenlabs-js) with its default options, by plain
 * fetch, and by our own ElevenLabs client. Output is decoded back with third-party decoders.
 */
import { elevenLabsOptions } from '../../../src/compose/elevenlabs-options.js';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ElevenLabsClient, ElevenLabsError } from '@elevenlabs/elevenlabs-js';
import alawmulaw from 'alawmulaw';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localStsEngine } from '../../../src/api/engine.js';
import { createStsRouter } from '../../../src/api/sts-router.js';
import { mulawEncode } from '../../../src/audio/mulaw.js';
import { initResampler, resample } from '../../../src/audio/resampler.js';
import { encodeWavMulaw, encodeWavPcm16, parseWav, wavToPcm16 } from '../../../src/audio/wav.js';
import { createElevenLabsConverter } from '../../../src/voice/elevenlabs/index.js';
import { voiceInfos } from '../../../src/voice/local/index.js';
import { ELEVENLABS_PREMADE_VOICES } from '../../../src/voice/local/premade-voices.js';
import { collect, phrase, phrasePcm, silentLog } from '../../helpers/phrases.js';
import { testConfig } from '../../helpers/config.js';
import { decodeMp3, decodeOggOpus, envelopeCorrelation, fixture, fixturePcm16k } from '../../helpers/audio-check.js';

const KEY = 'compat-key';
let server: Server;
let baseUrl: string;
let client: ElevenLabsClient;
const VOICE = voiceInfos()[0]!.id;
/** The presets, then ElevenLabs' premade voice ids that presets serve. */
const ALL_IDS = [...voiceInfos().map((v) => v.id), ...ELEVENLABS_PREMADE_VOICES.map((v) => v.id)];

async function listen(opts: Partial<Parameters<typeof createStsRouter>[0]> = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(createStsRouter({ engine: localStsEngine(), checkKey: (k) => k === KEY, log: silentLog, ...opts }));
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: async () => {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    },
  };
}

beforeAll(async () => {
  await initResampler();
  const app = express();
  app.use(createStsRouter({ engine: localStsEngine(), checkKey: (k) => k === KEY, log: silentLog }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new ElevenLabsClient({ apiKey: KEY, baseUrl, maxRetries: 0 });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

const pcmBytes = (pcm: Int16Array) => Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);

async function sdkError(p: Promise<unknown>): Promise<ElevenLabsError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ElevenLabsError);
  return e as ElevenLabsError;
}

/** A multipart POST with fetch (no SDK), as the documented snippets send it. */
async function post(path: string, fields: Record<string, string | Blob>, key: string | null = KEY) {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') f.append(k, v);
    else f.append(k, v, 'input');
  }
  const res = await fetch(`${baseUrl}${path}`, { method: 'POST', body: f, headers: key ? { 'xi-api-key': key } : {} });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body, json: () => JSON.parse(body.toString()) as { detail: unknown } };
}

const firstIssue = (j: { detail: unknown }) => (j.detail as Array<{ loc: string[]; msg: string; type: string }>)[0]!;

describe('ElevenLabs-compatible STS API: conversion (official SDK)', () => {
  it('converts pcm_s16le_16 to ulaw_8000: same duration, not the input, deterministic for a seed', async () => {
    const pcm = phrasePcm(500);
    const run = async (seed: number) =>
      (await readAll(await client.speechToSpeech.convert(VOICE, { audio: pcmBytes(pcm), fileFormat: 'pcm_s16le_16', outputFormat: 'ulaw_8000', modelId: 'eleven_multilingual_sts_v2', seed }))).bytes;
    const a = await run(7);
    const b = await run(7);
    expect(a.length).toBe(4000); // 500 ms at 8 kHz
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const plain = mulawEncode(resample(pcm, 16000, 8000));
    const same = a.reduce((n, x, i) => n + (x === plain[i] ? 1 : 0), 0);
    expect(same / a.length).toBeLessThan(0.5); // the masked voice is not the input
  });

  it("the documented SDK call with its defaults (MP3 in, default mp3_44100_128 out) returns MP3 at 44.1 kHz of the input's length", async () => {
    const mp3 = fixture('jfk_3s_44k_stereo.mp3');
    const { bytes } = await readAll(await client.speechToSpeech.convert('deep-male', { audio: new Blob([mp3]) }));
    const d = await decodeMp3(bytes);
    expect(d.sampleRate).toBe(44100);
    expect(Math.abs(d.seconds - 3)).toBeLessThan(0.1);
    // It is speech: the masked output follows the input's syllables.
    expect(envelopeCorrelation(fixturePcm16k('jfk'), resample(d.pcm, 44100, 16000))).toBeGreaterThan(0.5);
  });

  it('streams (SDK .stream, default format) MP3 frames in several chunks', async () => {
    const { bytes, chunks } = await readAll(await client.speechToSpeech.stream('neutral-female', { audio: new Blob([fixture('jfk_3s_16k.flac')]) }));
    expect(chunks).toBeGreaterThan(1);
    const d = await decodeMp3(bytes);
    expect(d.sampleRate).toBe(44100);
    expect(Math.abs(d.seconds - 3)).toBeLessThan(0.1);
  });

  it('streams a WAV recording (8 kHz mu-law) back as pcm_16000 in several chunks', async () => {
    const pcm8k = resample(phrasePcm(1200), 16000, 8000);
    const wav = encodeWavMulaw(mulawEncode(pcm8k));
    const { bytes, chunks } = await readAll(await client.speechToSpeech.stream(VOICE, { audio: new Blob([wav], { type: 'audio/wav' }), outputFormat: 'pcm_16000' }));
    expect(bytes.length).toBe(1200 * 32);
    expect(chunks).toBeGreaterThan(1);
  });

  it('answers every one of the 28 formats on convert and the 21 on /stream, at the rate and length the name gives', async () => {
    const pcm = fixturePcm16k('jfk').subarray(0, 16000); // 1 s of speech (49 conversions: kept short)
    const audio = new Blob([encodeWavPcm16(pcm, 16000)]);
    const formats = (await import('../../../src/api/sts-request.js')).OUTPUT_FORMATS;
    for (const stream of [false, true]) {
      for (const format of formats) {
        if (stream && format.startsWith('wav_')) continue;
        const call = stream ? client.speechToSpeech.stream.bind(client.speechToSpeech) : client.speechToSpeech.convert.bind(client.speechToSpeech);
        const { bytes } = await readAll(await call(VOICE, { audio, outputFormat: format as never }));
        const [codec, rateS, kbps] = format.split('_') as [string, string, string | undefined];
        const rate = Number(rateS);
        const where = `${format} (${stream ? 'stream' : 'convert'})`;
        let heard: { pcm: Int16Array; rate: number };
        if (codec === 'pcm') {
          expect(bytes.length, where).toBe(rate * 2);
          heard = { pcm: new Int16Array(new Uint8Array(bytes).buffer), rate };
        } else if (codec === 'ulaw' || codec === 'alaw') {
          expect(bytes.length, where).toBe(8000);
          heard = { pcm: codec === 'ulaw' ? alawmulaw.mulaw.decode(bytes) : alawmulaw.alaw.decode(bytes), rate: 8000 };
        } else if (codec === 'wav') {
          const w = parseWav(bytes);
          const samples = wavToPcm16(w).samples;
          expect([w.sampleRate, w.channels, samples.length], where).toEqual([rate, 1, rate]);
          heard = { pcm: samples, rate };
        } else if (codec === 'mp3') {
          const d = await decodeMp3(bytes);
          expect(d.sampleRate, where).toBe(rate);
          expect(Math.abs(d.seconds - 1), where).toBeLessThan(0.1);
          // the bitrate in the name: within 10% (constant-bitrate frames)
          expect(Math.abs((bytes.length * 8) / d.seconds / 1000 / Number(kbps) - 1), where).toBeLessThan(0.15);
          heard = { pcm: d.pcm, rate: d.sampleRate };
        } else {
          expect(Buffer.from(bytes.subarray(0, 4)).toString(), where).toBe('OggS');
          expect(Buffer.from(bytes).includes('OpusHead'), where).toBe(true);
          expect(Buffer.from(bytes).includes('OpusTags'), where).toBe(true);
          const d = await decodeOggOpus(bytes);
          expect(d.sampleRate, where).toBe(48000);
          expect(Math.abs(d.seconds - 1), where).toBeLessThan(0.01); // granule positions give the true length
          heard = { pcm: d.pcm, rate: d.sampleRate };
        }
        // ... and it is the masked speech: its loudness follows the input's syllables
        expect(envelopeCorrelation(pcm, resample(heard.pcm, heard.rate, 16000)), where).toBeGreaterThan(0.6);
      }
    }
  }, 180_000);

  it('takes WAV, MP3, FLAC, Ogg Opus, Ogg Vorbis and WebM Opus (known and unknown sizes), told from the bytes', async () => {
    const jfk = fixturePcm16k('jfk');
    for (const name of ['jfk_3s_44k_stereo.mp3', 'jfk_3s_16k.flac', 'jfk_3s.opus', 'jfk_3s_22k_stereo.ogg', 'jfk_3s.webm', 'jfk_3s_live.webm']) {
      // a misleading filename and content type: detection is by content
      const { bytes } = await readAll(await client.speechToSpeech.convert(VOICE, { audio: new File([fixture(name)], 'recording.wav', { type: 'audio/wav' }), outputFormat: 'pcm_16000' }));
      const out = new Int16Array(new Uint8Array(bytes).buffer);
      expect(Math.abs(out.length / 16000 - 3), name).toBeLessThan(0.05);
      expect(envelopeCorrelation(jfk, out), name).toBeGreaterThan(0.5);
    }
  });

  it('remove_background_noise (RNNoise first) and optimize_streaming_latency are accepted; the length is kept', async () => {
    const { res, body } = await post('/v1/speech-to-speech/steady/stream?output_format=pcm_16000&optimize_streaming_latency=3&enable_logging=true', {
      audio: new Blob([fixture('jfk_3s.opus')]),
      remove_background_noise: 'true',
    });
    expect(res.status).toBe(200);
    expect(body.length).toBe(3 * 16000 * 2);
  });

  it('answers wav_24000 as a parsable WAV of the input duration', async () => {
    const bytes = (await readAll(await client.speechToSpeech.convert(VOICE, { audio: pcmBytes(phrasePcm(400)), fileFormat: 'pcm_s16le_16', outputFormat: 'wav_24000' }))).bytes;
    const w = parseWav(bytes);
    expect(w.sampleRate).toBe(24000);
    expect(wavToPcm16(w).samples.length).toBe(9600);
  });

  it('sends request-id, character-cost (1,000 per minute), history-item-id and the concurrency headers', async () => {
    const { res } = await post('/v1/speech-to-speech/deep-male?output_format=pcm_16000', { audio: new Blob([fixture('jfk_3s.opus')]) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/pcm');
    expect(res.headers.get('request-id')).toMatch(/^[0-9a-f]{20}$/);
    expect(res.headers.get('character-cost')).toBe('50'); // 3 s
    expect(res.headers.get('history-item-id')).toBeTruthy();
    expect(res.headers.get('current-concurrent-requests')).toBe('1');
    expect(res.headers.get('maximum-concurrent-requests')).toBe('4');
    const zero = await post('/v1/speech-to-speech/deep-male?output_format=pcm_16000&enable_logging=false', { audio: new Blob([fixture('jfk_3s.opus')]) });
    expect(zero.res.headers.get('history-item-id')).toBeNull();
  });
});

describe('ElevenLabs-compatible STS API: voice settings', () => {
  const run = async (settings?: Record<string, unknown>) =>
    (
      await post('/v1/speech-to-speech/neutral-male?output_format=pcm_16000', {
        audio: new Blob([fixture('jfk_3s_16k.flac')]),
        seed: '3',
        ...(settings && { voice_settings: JSON.stringify(settings) }),
      })
    ).body;

  it('the defaults are the preset; stability, similarity_boost, style and use_speaker_boost each change the output', async () => {
    const plain = await run();
    expect(Buffer.compare(plain, await run({ stability: 0.5, similarity_boost: 0.75, style: 0, use_speaker_boost: true }))).toBe(0);
    for (const s of [{ stability: 1 }, { similarity_boost: 0 }, { style: 1 }, { use_speaker_boost: false }]) {
      expect(Buffer.compare(plain, await run(s)), JSON.stringify(s)).not.toBe(0);
    }
  });

  it('speed changes the tempo: the output is 1/speed as long, in every container, and still speech', async () => {
    const plain = await run();
    const pcm = (b: Buffer) => new Int16Array(b.buffer, b.byteOffset, b.length >> 1);
    for (const speed of [0.7, 1.2]) {
      const fast = pcm(await run({ speed }));
      expect(fast.length, `speed ${speed}`).toBe(Math.round(plain.length / 2 / speed));
      // the same speech in the same order: its loudness envelope is the plain output's, squeezed
      const squeezed = Int16Array.from({ length: fast.length }, (_, i) => pcm(plain)[Math.min(plain.length / 2 - 1, Math.floor(i * speed))]!);
      expect(envelopeCorrelation(fast, squeezed), `speed ${speed}`).toBeGreaterThan(0.8);
    }
    const wav = await post('/v1/speech-to-speech/neutral-male?output_format=wav_16000', {
      audio: new Blob([fixture('jfk_3s_16k.flac')]),
      voice_settings: JSON.stringify({ speed: 1.2 }),
    });
    const w = parseWav(wav.body);
    expect(w.data.length / 2).toBe(Math.round(plain.length / 2 / 1.2));
    const mp3 = await post('/v1/speech-to-speech/neutral-male/stream', { audio: new Blob([fixture('jfk_3s_16k.flac')]), voice_settings: JSON.stringify({ speed: 0.7 }) });
    const d = await decodeMp3(mp3.body);
    expect(Math.abs(d.seconds - plain.length / 2 / 16000 / 0.7)).toBeLessThan(0.1);
  });

  it('speaker boost levels a quiet recording', async () => {
    const quiet = fixturePcm16k('jfk').map((x) => Math.round(x / 8));
    const rms = (b: Buffer) => {
      const x = new Int16Array(b.buffer, b.byteOffset, b.length >> 1);
      return Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    };
    const send = async (boost: boolean) =>
      (await post('/v1/speech-to-speech/neutral-male?output_format=pcm_16000', { audio: new Blob([encodeWavPcm16(Int16Array.from(quiet), 16000)]), voice_settings: JSON.stringify({ use_speaker_boost: boost }) })).body;
    expect(rms(await send(true)) / rms(await send(false))).toBeGreaterThan(2);
  });

  it('refuses out-of-range or mistyped settings with 422 at body.voice_settings.<key>', async () => {
    for (const [settings, key] of [
      [{ stability: 1.5 }, 'stability'],
      [{ similarity_boost: -0.1 }, 'similarity_boost'],
      [{ style: 'lots' }, 'style'],
      [{ use_speaker_boost: 'yes' }, 'use_speaker_boost'],
      [{ speed: 3 }, 'speed'],
    ] as const) {
      const r = await post(`/v1/speech-to-speech/${VOICE}`, { audio: new Blob([fixture('jfk_3s.opus')]), voice_settings: JSON.stringify(settings) });
      expect(r.res.status, key).toBe(422);
      expect(firstIssue(r.json()).loc).toEqual(['body', 'voice_settings', key]);
    }
  });
});

describe('ElevenLabs-compatible STS API: validation and errors', () => {
  it('model_id must be a voice-changer model of /v1/models: 400 for unknown and TTS-only models', async () => {
    for (const [model, text] of [
      ['eleven_no_such_model', /does not exist/],
      ['eleven_multilingual_v2', /can not do voice conversion/],
    ] as const) {
      const e = await sdkError(client.speechToSpeech.convert(VOICE, { audio: new Blob([fixture('jfk_3s.opus')]), modelId: model, outputFormat: 'pcm_16000' }));
      expect(e.statusCode).toBe(400);
      expect((e.body as { detail: { message: string } }).detail.message).toMatch(text);
    }
    for (const model of ['eleven_english_sts_v2', 'eleven_multilingual_sts_v2']) {
      const r = await post('/v1/speech-to-speech/deep-male?output_format=ulaw_8000', { audio: new Blob([fixture('jfk_3s.opus')]), model_id: model });
      expect(r.res.status, model).toBe(200);
    }
  });

  it('401 needs_authorization without a key, invalid_api_key with a wrong one; 404 voice_not_found; all JSON', async () => {
    const none = await post(`/v1/speech-to-speech/${VOICE}`, { audio: new Blob([fixture('jfk_3s.opus')]) }, null);
    expect(none.res.status).toBe(401);
    expect(none.json().detail).toMatchObject({ status: 'needs_authorization' });
    expect(none.res.headers.get('x-trace-id')).toBeTruthy();
    const bad = new ElevenLabsClient({ apiKey: 'nope', baseUrl, maxRetries: 0 });
    const auth = await sdkError(bad.speechToSpeech.convert(VOICE, { audio: new Blob([fixture('jfk_3s.opus')]) }));
    expect(auth.statusCode).toBe(401);
    expect(auth.body).toMatchObject({ detail: { status: 'invalid_api_key' } });
    for (const p of [bad.voices.getAll(), bad.voices.get(VOICE), bad.voices.search(), bad.models.list()]) expect((await sdkError(p)).statusCode).toBe(401);

    const voice = await sdkError(client.speechToSpeech.convert('NoSuchVoice0000000000', { audio: new Blob([fixture('jfk_3s.opus')]) }));
    expect(voice.statusCode).toBe(404);
    expect(voice.body).toMatchObject({ detail: { status: 'voice_not_found' } });
    const unknown = await fetch(`${baseUrl}/v1/voices/NoSuchVoice0000000000`, { headers: { 'xi-api-key': KEY } });
    expect([unknown.status, unknown.headers.get('content-type')]).toEqual([404, 'application/json']);
    const other = await fetch(`${baseUrl}/v1/history`, { headers: { 'xi-api-key': KEY } });
    expect([other.status, other.headers.get('content-type')]).toEqual([404, 'application/json']);
  });

  it('undecodable input is a 422 at body.audio a person understands: M4A, corrupt, truncated, raw PCM without file_format', async () => {
    const mp3 = fixture('jfk_3s_44k_stereo.mp3');
    const flac = fixture('jfk_3s_16k.flac');
    const corrupt = Buffer.from(flac);
    for (let i = 200; i < corrupt.length; i += 97) corrupt[i]! ^= 0x5a;
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['m4a', fixture('jfk_3s.m4a'), /AAC.*not supported.*MP3, FLAC, Ogg Opus/],
      ['corrupt flac', corrupt, /corrupt/],
      ['truncated mp3', mp3.subarray(0, Math.floor(mp3.length * 0.7)), /truncated/],
      ['truncated ogg', fixture('jfk_3s.opus').subarray(0, 6000), /truncated/],
      ['raw pcm', pcmBytes(phrasePcm(300)), /file_format=pcm_s16le_16/],
      ['text', Buffer.from('hello, this is not audio'), /not in a format this server recognises/],
      ['empty', new Uint8Array(0), /Field required|empty/],
    ];
    for (const [name, bytes, msg] of cases) {
      const r = await post(`/v1/speech-to-speech/${VOICE}`, { audio: new Blob([bytes]) });
      expect(r.res.status, name).toBe(422);
      const issue = firstIssue(r.json());
      expect(issue.loc, name).toEqual(['body', 'audio']);
      expect(issue.msg, name).toMatch(msg);
    }
  });

  it('refuses input over the duration limit and over the size limit', async () => {
    const small = await listen({ maxInputSeconds: 2, maxBodyBytes: 40_000 });
    try {
      const f = new FormData();
      f.append('audio', new Blob([fixture('jfk_3s.opus')]), 'a.opus');
      const long = await fetch(`${small.url}/v1/speech-to-speech/${VOICE}`, { method: 'POST', body: f, headers: { 'xi-api-key': KEY } });
      expect(long.status).toBe(422);
      expect(JSON.stringify(await long.json())).toMatch(/longer than 2 s/);
      const g = new FormData();
      g.append('audio', new Blob([fixture('jfk_3s_16k.flac')]), 'a.flac'); // 61 KB
      const big = await fetch(`${small.url}/v1/speech-to-speech/${VOICE}`, { method: 'POST', body: g, headers: { 'xi-api-key': KEY } });
      expect(big.status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('answers CORS preflights, so a web page can call it (the key still guards it)', async () => {
    const pre = await fetch(`${baseUrl}/v1/speech-to-speech/${VOICE}/stream`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-headers': 'xi-api-key' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toContain('xi-api-key');
    const r = await post(`/v1/speech-to-speech/${VOICE}?output_format=ulaw_8000`, { audio: new Blob([fixture('jfk_3s.opus')]) });
    expect(r.res.headers.get('access-control-expose-headers')).toContain('character-cost');
    expect((await fetch(`${baseUrl}/v2/voices`, { headers: { origin: 'https://app.example' } })).status).toBe(401);
  });

  it('answers 429 too_many_concurrent_requests over its concurrency limit, and serves again after', async () => {
    const one = await listen({ maxConcurrent: 1 });
    try {
      const long = encodeWavPcm16(new Int16Array(16000 * 60).map((_, i) => Math.round(8000 * Math.sin(i / 7))), 16000);
      const send = () => {
        const f = new FormData();
        f.append('audio', new Blob([long]), 'a.wav');
        return fetch(`${one.url}/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, { method: 'POST', body: f, headers: { 'xi-api-key': KEY } });
      };
      const [a, b] = await Promise.all([send(), send()]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([200, 429]);
      const refused = a.status === 429 ? a : b;
      expect(await refused.json()).toMatchObject({ detail: { status: 'too_many_concurrent_requests' } });
      await (a.status === 429 ? b : a).arrayBuffer();
      expect((await send()).status).toBe(200);
    } finally {
      await one.close();
    }
  });
});

describe('ElevenLabs-compatible STS API: listings (official SDK)', () => {
  it('voices.getAll lists the presets with every required field, settings and a preview_url the bridge serves', async () => {
    const { voices } = await client.voices.getAll();
    expect(voices.map((v) => v.voiceId)).toEqual(ALL_IDS);
    for (const v of voices) {
      expect(v.category).toBe('premade');
      expect(Object.keys(v.labels ?? {}).sort()).toEqual(['accent', 'age', 'description', 'gender', 'use_case']);
      expect(v.availableForTiers).toEqual([]);
      expect(v.highQualityBaseModelIds).toContain('eleven_multilingual_sts_v2');
      expect(v.settings).toMatchObject({ stability: 0.5, similarityBoost: 0.75, style: 0, useSpeakerBoost: true });
    }
    const res = await fetch(voices[0]!.previewUrl!);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const d = await decodeMp3(new Uint8Array(await res.arrayBuffer()));
    expect(d.seconds).toBeGreaterThan(2);
  });

  it("ElevenLabs' premade voice ids of the documented examples work, each served by a preset", async () => {
    const george = await client.voices.get('JBFqnCBsd6RMkjVDRZzb');
    expect(george).toMatchObject({ name: 'George', category: 'premade', labels: { gender: 'male' } });
    expect(george.description).toMatch(/deep-male preset/);
    const audio = fixture('jfk_3s.opus');
    const out = async (voice: string) =>
      new Uint8Array(await new Response(await client.speechToSpeech.convert(voice, { audio: new Blob([audio]), outputFormat: 'pcm_16000', seed: 7 })).arrayBuffer());
    // the same preset at the same seed: the same masked audio
    expect(Buffer.compare(Buffer.from(await out('JBFqnCBsd6RMkjVDRZzb')), Buffer.from(await out('deep-male')))).toBe(0);
    // Rachel by the preset her row names (not George's): that preset's masked audio exactly
    const rachelPreset = ELEVENLABS_PREMADE_VOICES.find((v) => v.id === '21m00Tcm4TlvDq8ikWAM')!.preset;
    expect(rachelPreset).not.toBe('deep-male');
    const rachel = Buffer.from(await out('21m00Tcm4TlvDq8ikWAM'));
    expect(Buffer.compare(rachel, Buffer.from(await out(rachelPreset)))).toBe(0);
    expect(Buffer.compare(rachel, Buffer.from(await out('deep-male')))).not.toBe(0);
    const preview = await fetch(george.previewUrl!);
    expect([preview.status, preview.headers.get('content-type')]).toEqual([200, 'audio/mpeg']);
    expect((await client.voices.search({ search: 'george' })).voices.map((v) => v.voiceId)).toEqual(['JBFqnCBsd6RMkjVDRZzb']);
  });

  it('voices.get returns one voice; voices.search pages, searches and sorts', async () => {
    const v = await client.voices.get('bright-female');
    expect(v).toMatchObject({ voiceId: 'bright-female', name: 'Bright female', category: 'premade' });

    const page1 = await client.voices.search({ pageSize: 3, sort: 'name', sortDirection: 'asc' });
    const names = (await client.voices.getAll()).voices.map((x) => x.name ?? '');
    expect(page1.voices.map((x) => x.name)).toEqual(names.sort((a, b) => a.localeCompare(b)).slice(0, 3));
    expect(page1.hasMore).toBe(true);
    expect(page1.totalCount).toBe(ALL_IDS.length);
    const seen = [...page1.voices];
    let token = page1.nextPageToken;
    while (token) {
      const next = await client.voices.search({ pageSize: 3, sort: 'name', sortDirection: 'asc', nextPageToken: token });
      seen.push(...next.voices);
      token = next.hasMore ? next.nextPageToken : undefined;
    }
    expect(seen.map((x) => x.voiceId).sort()).toEqual([...ALL_IDS].sort());

    const female = await client.voices.search({ search: 'female' });
    expect(female.voices.length).toBeGreaterThan(0);
    expect(female.voices.every((x) => JSON.stringify(x).toLowerCase().includes('female'))).toBe(true);
    expect((await client.voices.search({ voiceType: 'personal' })).voices).toEqual([]);
    const tooBig = await fetch(`${baseUrl}/v2/voices?page_size=101`, { headers: { 'xi-api-key': KEY } });
    expect(tooBig.status).toBe(422);
  });

  it('models.list gives the two voice-changer models with every documented field', async () => {
    const res = await fetch(`${baseUrl}/v1/models`, { headers: { 'xi-api-key': KEY } });
    const models = (await res.json()) as Array<Record<string, unknown>>;
    expect(models.map((m) => m.model_id).sort()).toEqual(['eleven_english_sts_v2', 'eleven_multilingual_sts_v2']);
    const fields = ['model_id', 'name', 'can_be_finetuned', 'can_do_text_to_speech', 'can_do_voice_conversion', 'can_use_style', 'can_use_speaker_boost', 'serves_pro_voices',
      'token_cost_factor', 'description', 'requires_alpha_access', 'max_characters_request_free_user', 'max_characters_request_subscribed_user',
      'maximum_text_length_per_request', 'languages', 'model_rates', 'concurrency_group'];
    for (const m of models) for (const f of fields) expect(m, f).toHaveProperty(f);
    const sdk = await client.models.list();
    expect(sdk.every((m) => m.canDoVoiceConversion && !m.canDoTextToSpeech)).toBe(true);
  });

  it('serves our own ElevenLabs client too (the bridge can point ELEVENLABS_BASE_URL here)', async () => {
    const conv = createElevenLabsConverter(elevenLabsOptions(testConfig(baseUrl, { ELEVENLABS_API_KEY: KEY, ELEVENLABS_VOICE_ID: VOICE })), silentLog);
    try {
      const out = await collect(conv, phrase(300, { voiceId: VOICE }));
      expect(out.error).toBeUndefined();
      expect(out.bytes.length).toBe(2400);
    } finally {
      await conv.close();
    }
  });
});
