/**
 * The product's STS request validation (src/api/sts-request.ts), over a real loopback server,
 * and the fake ElevenLabs (written from the spec, sharing no code) answering the same requests:
 * the two readings of the spec must agree, so a misreading in either fails here.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_FORMATS, STREAM_OUTPUT_FORMATS, matchStsPath, parseStsRequest, sendStsError, type StsRequest } from '../../../src/api/sts-request.js';
import { SPEC_OUTPUT_FORMATS, SPEC_STREAM_OUTPUT_FORMATS, startFakeElevenLabs, type FakeElevenLabs } from '../../../tools/fakes/fake-elevenlabs.js';

/** A bare server around the product's parser: 200 with the parsed request as JSON, or the error answer. */
async function startParserServer(maxBodyBytes?: number): Promise<{ url: string; last?: StsRequest; close(): Promise<void> }> {
  const state: { url: string; last?: StsRequest; close(): Promise<void> } = { url: '', close: async () => {} };
  const server: Server = createServer((req, res) => {
    const route = matchStsPath(new URL(req.url ?? '/', 'http://x').pathname);
    if (!route) return void res.writeHead(404).end();
    void parseStsRequest(req, { ...route, checkKey: (k) => k === 'test-key', ...(maxBodyBytes !== undefined && { maxBodyBytes }) }).then((r) => {
      if (!r.ok) return sendStsError(res, r.error);
      state.last = r.request;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

let fake: FakeElevenLabs;
let product: Awaited<ReturnType<typeof startParserServer>>;
beforeAll(async () => {
  [fake, product] = await Promise.all([startFakeElevenLabs(), startParserServer()]);
});
afterAll(() => Promise.all([fake.close(), product.close()]));

function form(fields: Record<string, string>, audio: Uint8Array | null = new Uint8Array(3200)): FormData {
  const f = new FormData();
  if (audio) f.append('audio', new Blob([audio]), 'in.pcm');
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

type Answer = { status: number; type: string | null; json: () => { detail: unknown } };
async function postTo(base: string, path: string, body: () => FormData, key: string | null): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body: body(), headers: key ? { 'xi-api-key': key } : {} });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), json: () => JSON.parse(buf.toString()) as { detail: unknown } };
}
/** The product's answer, after checking that the fake answers the same status and issue list. */
async function post(path: string, body: () => FormData, key: string | null = 'test-key'): Promise<Answer> {
  const [mine, spec] = await Promise.all([postTo(product.url, path, body, key), postTo(fake.baseUrl, path, body, key)]);
  expect(spec.status, `fake and product disagree on ${path}`).toBe(mine.status);
  if (mine.status !== 200) {
    const shape = (a: Answer) => {
      const d = a.json().detail;
      return Array.isArray(d) ? (d as Array<{ loc: unknown[]; type: string }>).map((i) => `${i.loc.join('.')}:${i.type}`).sort() : (d as { status: string }).status;
    };
    expect(shape(spec)).toEqual(shape(mine));
  }
  return mine;
}

describe('STS request validation', () => {
  it('lists the 28 output formats of the spec, 21 on /stream', () => {
    expect(OUTPUT_FORMATS).toHaveLength(28);
    expect([...OUTPUT_FORMATS].sort()).toEqual([...SPEC_OUTPUT_FORMATS].sort());
    expect([...STREAM_OUTPUT_FORMATS].sort()).toEqual([...SPEC_STREAM_OUTPUT_FORMATS].sort());
    expect(STREAM_OUTPUT_FORMATS).toHaveLength(21);
  });

  it('matches both paths and decodes the voice id', () => {
    expect(matchStsPath('/v1/speech-to-speech/abc')).toEqual({ voiceId: 'abc', stream: false });
    expect(matchStsPath('/p/v1/speech-to-speech/a%20b/stream', '/p')).toEqual({ voiceId: 'a b', stream: true });
    expect(matchStsPath('/v1/speech-to-speech/')).toBeNull();
    expect(matchStsPath('/v1/text-to-speech/abc')).toBeNull();
  });

  it('accepts a valid request with defaults, treating empty fields as absent (as the Go example sends them)', async () => {
    const r = await post('/v1/speech-to-speech/v1?output_format=ulaw_8000', () => form({ model_id: '', voice_settings: '', seed: '', remove_background_noise: '', file_format: '' }));
    expect(r.status).toBe(200);
    const expected = { voiceId: 'v1', stream: false, outputFormat: 'ulaw_8000', enableLogging: true, optimizeStreamingLatency: null, modelId: 'eleven_english_sts_v2', voiceSettings: null, seed: null, removeBackgroundNoise: false, fileFormat: 'other' };
    expect(product.last).toMatchObject(expected);
    expect(fake.requests.at(-1)!.parsed).toMatchObject(expected);
    expect(product.last!.audio.bytes.byteLength).toBe(3200);
  });

  it('parses every field and query parameter', async () => {
    const r = await post('/v1/speech-to-speech/v2/stream?output_format=pcm_16000&enable_logging=false&optimize_streaming_latency=3', () =>
      form({ model_id: 'eleven_multilingual_sts_v2', voice_settings: '{"stability":0.5}', seed: '4294967295', remove_background_noise: 'true', file_format: 'pcm_s16le_16' }),
    );
    expect(r.status).toBe(200);
    const expected = { stream: true, outputFormat: 'pcm_16000', enableLogging: false, optimizeStreamingLatency: 3, seed: 4294967295, removeBackgroundNoise: true, fileFormat: 'pcm_s16le_16', voiceSettings: { value: { stability: 0.5 } } };
    expect(product.last).toMatchObject(expected);
    expect(fake.requests.at(-1)!.parsed).toMatchObject(expected);
  });

  it('answers 422 with every problem in FastAPI shape', async () => {
    const r = await post('/v1/speech-to-speech/v1?output_format=mp3_1&enable_logging=maybe&optimize_streaming_latency=x', () =>
      form({ seed: '4294967296', remove_background_noise: 'perhaps', file_format: 'wav', voice_settings: '[1]' }),
    );
    expect(r.status).toBe(422);
    expect(r.type).toBe('application/json');
    const locs = (r.json().detail as Array<{ loc: string[]; type: string; msg: string }>).map((d) => `${d.loc.join('.')}:${d.type}`);
    expect(locs.sort()).toEqual(
      [
        'query.output_format:enum',
        'query.enable_logging:bool_parsing',
        'query.optimize_streaming_latency:int_parsing',
        'body.voice_settings:json_invalid',
        'body.seed:less_than_equal',
        'body.remove_background_noise:bool_parsing',
        'body.file_format:enum',
      ].sort(),
    );
  });

  it('requires the audio file, and rejects a negative or non-integer seed', async () => {
    const missing = await post('/v1/speech-to-speech/v1', () => form({ model_id: 'm' }, null));
    expect(missing.status).toBe(422);
    expect(missing.json().detail).toEqual([{ loc: ['body', 'audio'], msg: 'Field required', type: 'missing' }]);
    const neg = await post('/v1/speech-to-speech/v1', () => form({ seed: '-1' }));
    expect(neg.json().detail).toMatchObject([{ loc: ['body', 'seed'], type: 'greater_than_equal' }]);
    const frac = await post('/v1/speech-to-speech/v1', () => form({ seed: '1.5' }));
    expect(frac.json().detail).toMatchObject([{ loc: ['body', 'seed'], type: 'int_parsing' }]);
  });

  it('refuses a body over the limit with 413', async () => {
    const [small, smallFake] = await Promise.all([startParserServer(10_000), startFakeElevenLabs({ maxBodyBytes: 10_000 })]);
    try {
      for (const base of [small.url, smallFake.baseUrl]) {
        const res = await fetch(`${base}/v1/speech-to-speech/v1`, { method: 'POST', body: form({}, new Uint8Array(20_000)), headers: { 'xi-api-key': 'test-key' } });
        expect(res.status).toBe(413);
        expect(await res.json()).toMatchObject({ detail: { status: 'payload_too_large' } });
        const ok = await fetch(`${base}/v1/speech-to-speech/v1?output_format=ulaw_8000`, { method: 'POST', body: form({}, new Uint8Array(8_000)), headers: { 'xi-api-key': 'test-key' } });
        expect(ok.status).toBe(200);
        await ok.arrayBuffer();
      }
    } finally {
      await Promise.all([small.close(), smallFake.close()]);
    }
  });

  it('answers 401 needs_authorization without a key and invalid_api_key with a wrong one, before reading the form', async () => {
    for (const [key, status] of [[null, 'needs_authorization'], ['nope', 'invalid_api_key']] as const) {
      const r = await post('/v1/speech-to-speech/v1', () => form({}), key);
      expect(r.status).toBe(401);
      expect(r.json().detail).toMatchObject({ status });
    }
  });

  it('refuses wav_* output on /stream (the 21 streaming formats only), as ElevenLabs does', async () => {
    const r = await post('/v1/speech-to-speech/v1/stream?output_format=wav_16000', () => form({}));
    expect(r.status).toBe(422);
    const issue = (r.json().detail as Array<{ loc: string[]; type: string; msg: string }>).find((d) => d.loc.join('.') === 'query.output_format')!;
    expect(issue.type).toBe('enum');
    expect(issue.msg).toContain("'pcm_16000'");
    expect(issue.msg).not.toContain('wav_');
  });
});

describe('the fake ElevenLabs, beyond the shared validation', () => {
  it('refuses a model that cannot change voices with 400 and an unknown voice with 404 (elevenlabs-facts.md)', async () => {
    const scoped = await startFakeElevenLabs({ voices: ['known'] });
    try {
      const send = (voice: string, model: string) =>
        fetch(`${scoped.baseUrl}/v1/speech-to-speech/${voice}?output_format=ulaw_8000`, { method: 'POST', body: form({ model_id: model }), headers: { 'xi-api-key': 'test-key' } });
      const tts = await send('known', 'eleven_flash_v2_5');
      expect(tts.status).toBe(400);
      expect(((await tts.json()) as { detail: { message: string } }).detail.message).toContain('eleven_flash_v2_5');
      const voice = await send('nobody', 'eleven_multilingual_sts_v2');
      expect(voice.status).toBe(404);
      expect(await voice.json()).toMatchObject({ detail: { status: 'voice_not_found' } });
      const ok = await send('known', 'eleven_multilingual_sts_v2');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('request-id')).toBeTruthy();
      expect(ok.headers.get('character-cost')).toBe('2'); // 100 ms at 1,000 characters a minute
      expect((await ok.arrayBuffer()).byteLength).toBe(800);
    } finally {
      await scoped.close();
    }
  });
});
