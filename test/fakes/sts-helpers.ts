/** Helpers shared by the ElevenLabs client, resilience and compat-API tests. */
import { performance } from 'node:perf_hooks';
import { loadConfig, type Config } from '../../src/config/env.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../../src/voice/converter.js';

export const TEST_KEY = 'test-key';
export const silentLog: Logger = createLogger('silent');

/** A config pointed at a fake, with short timeouts; override any variable. */
export function testConfig(baseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    CONVERTER: 'elevenlabs',
    ELEVENLABS_API_KEY: TEST_KEY,
    ELEVENLABS_BASE_URL: baseUrl,
    ELEVENLABS_VOICE_ID: 'voiceA',
    ELEVENLABS_CONNECT_TIMEOUT_MS: '500',
    ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '400',
    ELEVENLABS_MAX_LAG_MS: '2000',
    ...env,
  });
}

/** A phrase of `ms` milliseconds of 16 kHz speech-like PCM (a 180 Hz tone with harmonics). */
export function phrasePcm(ms: number): Int16Array {
  const n = Math.round(ms * 16);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    out[i] = Math.round(6000 * Math.sin(2 * Math.PI * 180 * t) + 2000 * Math.sin(2 * Math.PI * 360 * t));
  }
  return out;
}

export function phrase(ms: number, over: Partial<PhraseRequest> = {}): PhraseRequest {
  return { pcm16k: phrasePcm(ms), voiceId: 'voiceA', signal: new AbortController().signal, callKey: 'call-1', endedAt: performance.now(), ...over };
}

export interface Collected {
  chunks: Uint8Array[];
  bytes: Uint8Array;
  /** performance.now() of each chunk */
  at: number[];
  error?: unknown;
}

/** Runs a conversion to the end; never throws (the error is in the result). */
export async function collect(conv: PhraseConverter, req: PhraseRequest): Promise<Collected> {
  const chunks: Uint8Array[] = [];
  const at: number[] = [];
  let error: unknown;
  try {
    for await (const c of conv.convert(req)) {
      chunks.push(Uint8Array.from(c));
      at.push(performance.now());
    }
  } catch (err) {
    error = err;
  }
  return { chunks, at, bytes: Buffer.concat(chunks), ...(error !== undefined && { error }) };
}
