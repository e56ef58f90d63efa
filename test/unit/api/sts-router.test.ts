/**
 * The ElevenLabs-compatible API, served by the embedded engine on a real loopback server,
 * driven by the official SDK (@elevenlabs/elevenlabs-js) and by our own ElevenLabs client.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ElevenLabsClient, ElevenLabsError } from '@elevenlabs/elevenlabs-js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStsRouter } from '../../../src/api/sts-router.js';
import { mulawEncode } from '../../../src/audio/mulaw.js';
import { resample } from '../../../src/audio/resampler.js';
import { encodeWavMulaw, parseWav, wavToPcm16 } from '../../../src/audio/wav.js';
import { createElevenLabsConverter } from '../../../src/voice/elevenlabs/index.js';
import { initLocalEngine, LocalEngine, voiceInfos } from '../../../src/voice/local/index.js';
import { collect, phrase, phrasePcm, silentLog, testConfig } from '../../fakes/sts-helpers.js';

const KEY = 'compat-key';
let server: Server;
let baseUrl: string;
let client: ElevenLabsClient;
const VOICE = voiceInfos()[0]!.id;

beforeAll(async () => {
  await initLocalEngine();
  const engine = new LocalEngine({ defaultVoiceId: VOICE });
  const app = express();
  app.use(createStsRouter({ engine: { maskPcm16k: (p, o) => engine.maskPcm16k(p, o), maskPcm16kAsync: (p, o) => engine.maskPcm16kAsync(p, o), voices: voiceInfos() }, checkKey: (k) => k === KEY, log: silentLog }));
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

describe('ElevenLabs-compatible STS API (official SDK)', () => {
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

  it('streams a WAV recording (8 kHz mu-law) back as pcm_16000 in several chunks', async () => {
    const pcm8k = resample(phrasePcm(1200), 16000, 8000);
    const wav = encodeWavMulaw(mulawEncode(pcm8k));
    const { bytes, chunks } = await readAll(await client.speechToSpeech.stream(VOICE, { audio: new Blob([wav], { type: 'audio/wav' }), outputFormat: 'pcm_16000' }));
    expect(bytes.length).toBe(1200 * 32);
    expect(chunks).toBeGreaterThan(1);
  });

  it('answers wav_24000 as a parsable WAV of the input duration', async () => {
    const bytes = (await readAll(await client.speechToSpeech.convert(VOICE, { audio: pcmBytes(phrasePcm(400)), fileFormat: 'pcm_s16le_16', outputFormat: 'wav_24000' }))).bytes;
    const w = parseWav(bytes);
    expect(w.sampleRate).toBe(24000);
    expect(wavToPcm16(w).samples.length).toBe(9600);
  });

  it('refuses mp3 output with a clear 422, an unknown voice with 404, a wrong key with 401', async () => {
    const mp3 = await sdkError(client.speechToSpeech.convert(VOICE, { audio: pcmBytes(phrasePcm(100)), fileFormat: 'pcm_s16le_16', outputFormat: 'mp3_44100_128' }));
    expect(mp3.statusCode).toBe(422);
    expect(JSON.stringify(mp3.body)).toMatch(/mp3_44100_128 is not supported/);

    const voice = await sdkError(client.speechToSpeech.convert('JBFqnCBsd6RMkjVDRZzb', { audio: pcmBytes(phrasePcm(100)), fileFormat: 'pcm_s16le_16', outputFormat: 'ulaw_8000' }));
    expect(voice.statusCode).toBe(404);
    expect(voice.body).toMatchObject({ detail: { status: 'voice_not_found' } });

    const bad = new ElevenLabsClient({ apiKey: 'nope', baseUrl, maxRetries: 0 });
    const auth = await sdkError(bad.speechToSpeech.convert(VOICE, { audio: pcmBytes(phrasePcm(100)), outputFormat: 'ulaw_8000' }));
    expect(auth.statusCode).toBe(401);
    expect(auth.body).toMatchObject({ detail: { status: 'invalid_api_key' } });
    const list = await sdkError(bad.voices.getAll());
    expect(list.statusCode).toBe(401);
  });

  it('refuses audio that is neither WAV nor pcm_s16le_16 with 422 naming what to send', async () => {
    const e = await sdkError(client.speechToSpeech.convert(VOICE, { audio: Buffer.from('ID3 not really an mp3'), outputFormat: 'ulaw_8000' }));
    expect(e.statusCode).toBe(422);
    expect(JSON.stringify(e.body)).toMatch(/send a WAV file/);
  });

  it('lists the engine voices and the STS models', async () => {
    const { voices } = await client.voices.getAll();
    expect(voices.map((v) => v.voiceId)).toEqual(voiceInfos().map((v) => v.id));
    expect(voices[0]!.name).toBe(voiceInfos()[0]!.name);
    const models = await client.models.list();
    expect(models.map((m) => m.modelId)).toContain('eleven_multilingual_sts_v2');
    expect(models.every((m) => m.canDoVoiceConversion)).toBe(true);
  });

  it('serves our own ElevenLabs client too (the bridge can point ELEVENLABS_BASE_URL here)', async () => {
    const conv = createElevenLabsConverter(testConfig(baseUrl, { ELEVENLABS_API_KEY: KEY }), silentLog);
    try {
      const out = await collect(conv, phrase(300, { voiceId: VOICE }));
      expect(out.error).toBeUndefined();
      expect(out.bytes.length).toBe(2400);
    } finally {
      await conv.close();
    }
  });
});
