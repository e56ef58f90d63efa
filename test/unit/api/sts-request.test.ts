/** The shared STS request validation, exercised over a real loopback server (the fake). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_FORMATS, matchStsPath } from '../../../src/api/sts-request.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../fakes/fake-elevenlabs.js';

let fake: FakeElevenLabs;
beforeAll(async () => {
  fake = await startFakeElevenLabs();
});
afterAll(() => fake.close());

function form(fields: Record<string, string>, audio: Uint8Array | null = new Uint8Array(3200)): FormData {
  const f = new FormData();
  if (audio) f.append('audio', new Blob([audio]), 'in.pcm');
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

async function post(path: string, body: FormData, key: string | null = 'test-key') {
  const res = await fetch(`${fake.baseUrl}${path}`, { method: 'POST', body, headers: key ? { 'xi-api-key': key } : {} });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), buf, json: () => JSON.parse(buf.toString()) as { detail: unknown } };
}

describe('STS request validation', () => {
  it('lists the 28 output formats of the spec', () => {
    expect(OUTPUT_FORMATS).toHaveLength(28);
    expect(new Set(OUTPUT_FORMATS).size).toBe(28);
  });

  it('matches both paths and decodes the voice id', () => {
    expect(matchStsPath('/v1/speech-to-speech/abc')).toEqual({ voiceId: 'abc', stream: false });
    expect(matchStsPath('/p/v1/speech-to-speech/a%20b/stream', '/p')).toEqual({ voiceId: 'a b', stream: true });
    expect(matchStsPath('/v1/speech-to-speech/')).toBeNull();
    expect(matchStsPath('/v1/text-to-speech/abc')).toBeNull();
  });

  it('accepts a valid request with defaults, treating empty fields as absent (as the Go example sends them)', async () => {
    const r = await post('/v1/speech-to-speech/v1?output_format=ulaw_8000', form({ model_id: '', voice_settings: '', seed: '', remove_background_noise: '', file_format: '' }));
    expect(r.status).toBe(200);
    const p = fake.requests.at(-1)!.parsed!;
    expect(p).toMatchObject({ voiceId: 'v1', stream: false, outputFormat: 'ulaw_8000', enableLogging: true, optimizeStreamingLatency: null, modelId: 'eleven_english_sts_v2', voiceSettings: null, seed: null, removeBackgroundNoise: false, fileFormat: 'other' });
    expect(p.audio.bytes.byteLength).toBe(3200);
  });

  it('parses every field and query parameter', async () => {
    const r = await post(
      '/v1/speech-to-speech/v2/stream?output_format=pcm_16000&enable_logging=false&optimize_streaming_latency=3',
      form({ model_id: 'eleven_multilingual_sts_v2', voice_settings: '{"stability":0.5}', seed: '4294967295', remove_background_noise: 'true', file_format: 'pcm_s16le_16' }),
    );
    expect(r.status).toBe(200);
    expect(r.buf.length).toBe(3200); // 100 ms of pcm_16000
    expect(fake.requests.at(-1)!.parsed).toMatchObject({ stream: true, outputFormat: 'pcm_16000', enableLogging: false, optimizeStreamingLatency: 3, seed: 4294967295, removeBackgroundNoise: true, fileFormat: 'pcm_s16le_16', voiceSettings: { value: { stability: 0.5 } } });
  });

  it('answers 422 with every problem in FastAPI shape', async () => {
    const r = await post(
      '/v1/speech-to-speech/v1?output_format=mp3_1&enable_logging=maybe&optimize_streaming_latency=x',
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
    const missing = await post('/v1/speech-to-speech/v1', form({ model_id: 'm' }, null));
    expect(missing.status).toBe(422);
    expect(missing.json().detail).toEqual([{ loc: ['body', 'audio'], msg: 'Field required', type: 'missing' }]);
    const neg = await post('/v1/speech-to-speech/v1', form({ seed: '-1' }));
    expect(neg.json().detail).toMatchObject([{ loc: ['body', 'seed'], type: 'greater_than_equal' }]);
    const frac = await post('/v1/speech-to-speech/v1', form({ seed: '1.5' }));
    expect(frac.json().detail).toMatchObject([{ loc: ['body', 'seed'], type: 'int_parsing' }]);
  });

  it('refuses a body over the limit with 413', async () => {
    const small = await startFakeElevenLabs({ maxBodyBytes: 10_000 });
    try {
      const res = await fetch(`${small.baseUrl}/v1/speech-to-speech/v1`, { method: 'POST', body: form({}, new Uint8Array(20_000)), headers: { 'xi-api-key': 'test-key' } });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ detail: { status: 'payload_too_large' } });
      const ok = await fetch(`${small.baseUrl}/v1/speech-to-speech/v1?output_format=ulaw_8000`, { method: 'POST', body: form({}, new Uint8Array(8_000)), headers: { 'xi-api-key': 'test-key' } });
      expect(ok.status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('answers 401 needs_authorization without a key and invalid_api_key with a wrong one, before reading the form', async () => {
    for (const [key, status] of [[null, 'needs_authorization'], ['nope', 'invalid_api_key']] as const) {
      const r = await post('/v1/speech-to-speech/v1', form({}), key);
      expect(r.status).toBe(401);
      expect(r.json().detail).toMatchObject({ status });
    }
  });

  it('refuses wav_* output on /stream (the 21 streaming formats only), as ElevenLabs does', async () => {
    const r = await post('/v1/speech-to-speech/v1/stream?output_format=wav_16000', form({}));
    expect(r.status).toBe(422);
    const issue = (r.json().detail as Array<{ loc: string[]; type: string; msg: string }>).find((d) => d.loc.join('.') === 'query.output_format')!;
    expect(issue.type).toBe('enum');
    expect(issue.msg).toContain("'pcm_16000'");
    expect(issue.msg).not.toContain('wav_');
  });
});
