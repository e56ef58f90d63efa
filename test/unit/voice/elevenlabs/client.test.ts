import { elevenLabsOptions } from '../../../../src/compose/elevenlabs-options.js';
import { performance } from 'node:perf_hooks';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConversionError } from '../../../../src/voice/errors.js';
import type { PhraseConverter } from '../../../../src/voice/converter.js';
import {
  ElevenLabsConverter,
  buildStsUrl,
  createElevenLabsConverter,
  parseErrorBody,
  parseRetryAfter,
} from '../../../../src/voice/elevenlabs/index.js';
import { expectedUlaw, startFakeElevenLabs, type FakeElevenLabs } from '../../../../tools/fakes/fake-elevenlabs.js';
import { collect, phrase, silentLog } from '../../../helpers/phrases.js';
import { testConfig } from '../../../helpers/config.js';

let fake: FakeElevenLabs;
let conv: PhraseConverter;
const extra: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  fake = await startFakeElevenLabs();
  conv = createElevenLabsConverter(elevenLabsOptions(testConfig(fake.baseUrl)), silentLog);
});
afterAll(async () => {
  await conv.close();
  await fake.close();
});
afterEach(async () => {
  fake.reset();
  fake.setFaults([]);
  await Promise.all(extra.splice(0).map((c) => c.close()));
});

const asError = (e: unknown): ConversionError => {
  expect(e).toBeInstanceOf(ConversionError);
  return e as ConversionError;
};

describe('ElevenLabs client: wire format', () => {
  it('posts the phrase as pcm_s16le_16 multipart to /stream with ulaw_8000 and the key header', async () => {
    const cfg = testConfig(fake.baseUrl, {
      ELEVENLABS_MODEL_ID: 'eleven_english_sts_v2',
      ELEVENLABS_VOICE_SETTINGS: '{"stability":0.4,"similarity_boost":0.9}',
      ELEVENLABS_SEED: '77',
      ELEVENLABS_REMOVE_BACKGROUND_NOISE: 'true',
      ELEVENLABS_ENABLE_LOGGING: 'false',
    });
    const c = createElevenLabsConverter(elevenLabsOptions(cfg), silentLog);
    extra.push(c);
    const req = phrase(300, { voiceId: 'JBFqnCBsd6RMkjVDRZzb' });
    const out = await collect(c, req);
    expect(out.error).toBeUndefined();

    expect(fake.requests).toHaveLength(1);
    const r = fake.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/speech-to-speech/JBFqnCBsd6RMkjVDRZzb/stream');
    expect(r.query).toEqual({ output_format: 'ulaw_8000', enable_logging: 'false' });
    expect(r.headers['xi-api-key']).toBe('test-key');
    expect(r.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(r.fields).toEqual({
      model_id: 'eleven_english_sts_v2',
      voice_settings: '{"stability":0.4,"similarity_boost":0.9}',
      seed: '77', // ELEVENLABS_SEED: each backend has its own seed
      remove_background_noise: 'true',
      file_format: 'pcm_s16le_16',
    });
    expect(r.audioFilename).toBe('phrase.pcm');
    expect(r.audioContentType).toBe('application/octet-stream');
    // the exact PCM16LE bytes of the phrase
    const sent = r.parsed!.audio.bytes;
    expect(Buffer.from(sent).equals(Buffer.from(req.pcm.buffer, req.pcm.byteOffset, req.pcm.byteLength))).toBe(true);
    expect(r.parsed!.voiceSettings!.value).toEqual({ stability: 0.4, similarity_boost: 0.9 });

    // the answer is the fake's 300 ms tone, byte for byte
    expect(Buffer.from(out.bytes).equals(Buffer.from(expectedUlaw(300)))).toBe(true);
  });

  it('sends only what is configured: no voice_settings, the config seed, no enable_logging', async () => {
    const c = createElevenLabsConverter(elevenLabsOptions(testConfig(fake.baseUrl, { ELEVENLABS_SEED: '12' })), silentLog);
    extra.push(c);
    await collect(c, phrase(100));
    const r = fake.requests[0]!;
    expect(r.query).toEqual({ output_format: 'ulaw_8000' });
    expect(r.fields).toEqual({ model_id: 'eleven_multilingual_sts_v2', seed: '12', remove_background_noise: 'false', file_format: 'pcm_s16le_16' });
  });

  it('builds URLs for the regional hosts and for base URLs with a trailing slash or a path prefix', () => {
    for (const host of ['https://api.elevenlabs.io', 'https://api.us.elevenlabs.io', 'https://api.eu.residency.elevenlabs.io', 'https://api.in.residency.elevenlabs.io']) {
      for (const base of [host, `${host}/`]) {
        const u = buildStsUrl(base, 'v1d', { output_format: 'ulaw_8000', enable_logging: undefined });
        expect(u.origin).toBe(host);
        expect(u.href).toBe(`${host}/v1/speech-to-speech/v1d/stream?output_format=ulaw_8000`);
      }
    }
    expect(buildStsUrl('http://proxy:8080/el/', 'a b', {}).href).toBe('http://proxy:8080/el/v1/speech-to-speech/a%20b/stream');
  });

  it('reaches a server mounted under a path prefix, base URL given with a trailing slash', async () => {
    const prefixed = await startFakeElevenLabs({ pathPrefix: '/proxy/el' });
    extra.push(prefixed);
    const c = new ElevenLabsConverter({ ...elevenLabsOptions(testConfig(prefixed.baseUrl)), baseUrl: `${prefixed.baseUrl}/` }, silentLog);
    extra.push(c);
    const out = await collect(c, phrase(200));
    expect(out.error).toBeUndefined();
    expect(out.bytes.length).toBe(1600);
    expect(prefixed.requests[0]!.url).toBe('/proxy/el/v1/speech-to-speech/voiceA/stream?output_format=ulaw_8000');
  });
});

describe('ElevenLabs client: streaming', () => {
  it('yields the first chunk before the server has finished the answer', async () => {
    const slow = await startFakeElevenLabs({ chunkMs: 100, chunkDelayMs: 60 });
    extra.push(slow);
    const c = createElevenLabsConverter(elevenLabsOptions(testConfig(slow.baseUrl)), silentLog);
    extra.push(c);
    const out = await collect(c, phrase(800));
    expect(out.error).toBeUndefined();
    expect(out.chunks.length).toBeGreaterThanOrEqual(4);
    const r = slow.requests[0]!;
    expect(r.endedAt).toBeDefined();
    // first chunk in hand while the server still had most of the answer to send
    expect(out.at[0]!).toBeLessThan(r.endedAt! - 200);
    expect(out.bytes.length).toBe(6400);
  });

  it('stops the request when the consumer stops reading', async () => {
    const slow = await startFakeElevenLabs({ chunkMs: 50, chunkDelayMs: 50 });
    extra.push(slow);
    const c = createElevenLabsConverter(elevenLabsOptions(testConfig(slow.baseUrl)), silentLog);
    extra.push(c);
    for await (const chunk of c.convert(phrase(2000))) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    const r = await slow.whenFinished(0); // the server saw the connection go
    expect(r.bytesSent).toBeLessThan(16000);
  });
});

describe('ElevenLabs client: errors', () => {
  it('maps 500 to a retryable http error', async () => {
    fake.setFaults([{ type: 'status', status: 500 }]);
    const e = asError((await collect(conv, phrase(100))).error);
    expect(e).toMatchObject({ kind: 'http', retryable: true });
    expect(e.status).toBe(500);
  });

  it.each(['too_many_concurrent_requests', 'system_busy'] as const)('maps 429 %s with Retry-After to a retryable error carrying the code', async (code) => {
    fake.setFaults([{ type: 'rate-limit', code, retryAfterS: 2 }]);
    const e = asError((await collect(conv, phrase(100))).error);
    expect(e).toMatchObject({ kind: 'http', retryable: true });
    expect(e.status).toBe(429);
    expect(e.code).toBe(code);
    expect(e.retryAfterMs).toBe(2000);
  });

  it('maps 401 (injected, and a real wrong key) to a permanent error', async () => {
    fake.setFaults([{ type: 'unauthorized' }]);
    const e1 = asError((await collect(conv, phrase(100))).error);
    expect(e1).toMatchObject({ kind: 'http', retryable: false });
    expect(e1.status).toBe(401);
    expect(e1.code).toBe('invalid_api_key');

    const wrong = createElevenLabsConverter(elevenLabsOptions(testConfig(fake.baseUrl, { ELEVENLABS_API_KEY: 'sk_wrong' })), silentLog);
    extra.push(wrong);
    const e2 = asError((await collect(wrong, phrase(100))).error);
    expect(e2.status).toBe(401);
    expect(e2.retryable).toBe(false);
    expect(e2.message).not.toContain('sk_wrong');
  });

  it('maps 403 and 422 to permanent errors, reading the validation detail', async () => {
    fake.setFaults([{ type: 'status', status: 403, body: { detail: { status: 'quota_exceeded', message: 'quota' } } }, { type: 'validation' }]);
    const e403 = asError((await collect(conv, phrase(100))).error);
    expect(e403).toMatchObject({ retryable: false, status: 403 });
    expect(e403.code).toBe('quota_exceeded');
    const e422 = asError((await collect(conv, phrase(100))).error);
    expect(e422).toMatchObject({ retryable: false, status: 422 });
    expect(e422.message).toContain('body.model_id');
  });

  it('maps a reset before the first byte to a retryable network error', async () => {
    fake.setFaults([{ type: 'reset-before-first-byte' }]);
    const out = await collect(conv, phrase(100));
    const e = asError(out.error);
    expect(out.bytes.length).toBe(0);
    expect(e).toMatchObject({ kind: 'network', retryable: true });
    expect(e.afterFirstByte).toBe(false);
  });

  it('yields what arrived, then fails permanently on a reset mid-stream', async () => {
    fake.setFaults([{ type: 'reset-mid-stream', afterBytes: 1600 }]);
    const out = await collect(conv, phrase(1000));
    const e = asError(out.error);
    expect(out.bytes.length).toBe(1600);
    expect(Buffer.from(out.bytes).equals(Buffer.from(expectedUlaw(1000).subarray(0, 1600)))).toBe(true);
    expect(e).toMatchObject({ kind: 'network', retryable: false });
    expect(e.afterFirstByte).toBe(true);
  });

  it('times out a slow first byte (headers late or headers early) as retryable', async () => {
    fake.setFaults([{ type: 'slow-first-byte', delayMs: 1500 }, { type: 'slow-first-byte', delayMs: 1500, headersEarly: true }]);
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const e = asError((await collect(conv, phrase(100))).error);
      const took = performance.now() - t0;
      expect(e).toMatchObject({ kind: 'timeout', retryable: true });
      expect(took).toBeGreaterThanOrEqual(380);
      expect(took).toBeLessThan(1200);
    }
  });

  it('waits for a first byte slower than usual but within the timeout', async () => {
    fake.setFaults([{ type: 'slow-first-byte', delayMs: 200 }]);
    const out = await collect(conv, phrase(200));
    expect(out.error).toBeUndefined();
    expect(out.bytes.length).toBe(1600);
  });

  it('a hung request neither blocks a later phrase nor outlives its first-byte timeout', async () => {
    fake.setFaults([{ type: 'hang' }]);
    const hung = collect(conv, phrase(100));
    await fake.whenReceived(1);
    const next = await collect(conv, phrase(100));
    expect(next.error).toBeUndefined();
    expect(next.bytes.length).toBe(800);
    expect(fake.requests[0]!.endedAt).toBeUndefined(); // served while the first still hangs
    const e = asError((await hung).error);
    expect(e).toMatchObject({ kind: 'timeout', retryable: true });
    await fake.whenFinished(0); // the hung socket was released
  });

  it('fails with a non-retryable timeout when the total deadline passes mid-stream', async () => {
    const slow = await startFakeElevenLabs({ chunkMs: 20, chunkDelayMs: 150 });
    extra.push(slow);
    const c = new ElevenLabsConverter({ ...elevenLabsOptions(testConfig(slow.baseUrl)), firstByteTimeoutMs: 200, minTotalTimeoutMs: 300 }, silentLog);
    extra.push(c);
    const out = await collect(c, phrase(100)); // total = max(300, 200 + 2×100) = 400 ms; the answer takes ~600 ms
    const e = asError(out.error);
    expect(out.bytes.length).toBeGreaterThan(0);
    expect(out.bytes.length).toBeLessThan(800);
    expect(e).toMatchObject({ kind: 'timeout', retryable: false });
    expect(e.afterFirstByte).toBe(true);
  });

  it('cancels through req.signal as an aborted (not failed) conversion', async () => {
    fake.setFaults([{ type: 'hang' }]);
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 50);
    const e = asError((await collect(conv, phrase(100, { signal: ac.signal }))).error);
    expect(e.kind).toBe('aborted');
    expect(performance.now() - t0).toBeLessThan(300);
  });

  it('maps a refused connection to a retryable network error', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const c = createElevenLabsConverter(elevenLabsOptions(testConfig(`http://127.0.0.1:${port}`)), silentLog);
    extra.push(c);
    const e = asError((await collect(c, phrase(100))).error);
    expect(e).toMatchObject({ kind: 'network', retryable: true });
  });
});

describe('ElevenLabs error parsing', () => {
  it('reads both detail shapes and plain text', () => {
    expect(parseErrorBody('{"detail":{"status":"system_busy","message":"busy"}}')).toEqual({ code: 'system_busy', message: 'busy' });
    expect(parseErrorBody('{"detail":[{"loc":["body","seed"],"msg":"too big","type":"less_than_equal"}]}')).toEqual({
      code: 'less_than_equal',
      message: 'body.seed: too big',
    });
    expect(parseErrorBody('Bad Gateway')).toEqual({ message: 'Bad Gateway' });
    expect(parseErrorBody('')).toBeUndefined();
  });

  it('reads Retry-After in seconds, as an HTTP date, and retry-after-ms', () => {
    expect(parseRetryAfter({ 'retry-after': '3' })).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter({ 'retry-after': 'Thu, 01 Jan 2026 00:00:02 GMT' }, now)).toBe(2000);
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
    expect(parseRetryAfter({ 'retry-after': 'soon' })).toBeUndefined();
  });
});
