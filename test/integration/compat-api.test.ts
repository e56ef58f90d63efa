/**
 * The bridge serves its embedded engine behind an ElevenLabs-compatible speech-to-speech API:
 * the official SDK, pointed at the bridge, converts a real recording.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { findLeakedFrames, toFrames } from '../../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';
import { startBridge } from '../helpers/harness.js';

/** LOCAL_API_KEY must be at least 32 characters. */
const K32 = 'k'.repeat(32);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe('ElevenLabs-compatible API on the bridge', () => {
  it('the official SDK converts a real recording with the key; a wrong key gets 401', async () => {
    const b = await startBridge({ LOCAL_API_KEY: 'local-secret-key-0123456789abcdef0123', TWILIO_AUTH_TOKEN: 'a-token-that-must-not-guard-the-api' });
    try {
      const client = new ElevenLabsClient({ apiKey: 'local-secret-key-0123456789abcdef0123', baseUrl: b.url, maxRetries: 0 });
      const wav = readFileSync(CLIPS.p240!.file); // 8 kHz mu-law WAV, as a telephony recording would be
      const out = await readAll(
        await client.speechToSpeech.convert('bright-female', { audio: new Blob([wav], { type: 'audio/wav' }), outputFormat: 'ulaw_8000', seed: 7 }),
      );
      const input = loadClipMulaw('p240');
      expect(Math.abs(out.length - input.length)).toBeLessThan(8 * 40); // same duration within 40 ms
      expect(findLeakedFrames(toFrames(input), out)).toBe(0);
      expect(out.filter((x) => x !== 0xff).length).toBeGreaterThan(input.length / 2);

      const voices = await client.voices.getAll();
      expect(voices.voices.map((v) => v.voiceId)).toContain('bright-female');

      const bad = new ElevenLabsClient({ apiKey: 'wrong', baseUrl: b.url, maxRetries: 0 });
      await expect(bad.speechToSpeech.convert('bright-female', { audio: new Blob([wav]), outputFormat: 'ulaw_8000' })).rejects.toMatchObject({ statusCode: 401 });
    } finally {
      await b.close();
    }
  });

  it('is off by default without a key (LOCAL_API=auto), and LOCAL_API=false turns it off', async () => {
    const envs: Array<Record<string, string>> = [{}, { LOCAL_API: 'false', LOCAL_API_KEY: K32 }];
    for (const env of envs) {
      const b = await startBridge(env);
      try {
        expect((await fetch(`${b.url}/v1/voices`)).status).toBe(404);
      } finally {
        await b.close();
      }
    }
  });

  it('LOCAL_API=true without a key serves anyone, with a start-up warning', async () => {
    const b = await startBridge({ LOCAL_API: 'true' });
    try {
      expect((await fetch(`${b.url}/v1/voices`, { headers: { 'xi-api-key': 'anything' } })).status).toBe(200);
      expect(b.logs.some((l) => /accepts any key/.test(String(l.msg)))).toBe(true);
    } finally {
      await b.close();
    }
  });

  it('over HTTP_RATE_LIMIT_PER_MIN the API answers a JSON 429 system_busy with Retry-After, as ElevenLabs clients expect', async () => {
    const b = await startBridge({ LOCAL_API_KEY: K32, HTTP_RATE_LIMIT_PER_MIN: '2' });
    try {
      const get = () => fetch(`${b.url}/v2/voices`, { headers: { 'xi-api-key': K32 } });
      expect([(await get()).status, (await get()).status]).toEqual([200, 200]);
      const r = await get();
      expect([r.status, r.headers.get('content-type')]).toEqual([429, 'application/json']);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await r.json()).toMatchObject({ detail: { status: 'system_busy' } });
    } finally {
      await b.close();
    }
  });
});
