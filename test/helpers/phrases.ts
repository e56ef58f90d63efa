/**
 * Helpers shared by the ElevenLabs client, resilience and compat-API tests: a test key (the fake
 * ElevenLabs' default), a speech-like phrase, and a collector for a converter's output.
 * Structurally typed (the converter contract is matched by shape). The config pointed at a fake
 * lives in ./config.ts.
 */
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';

export const TEST_KEY = 'test-key';
export const silentLog: Logger = pino({ level: 'silent' });

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

/** A phrase request: PCM at sampleRate, voice, abort signal, fair-queueing key, end time. */
export interface TestPhrase {
  pcm: Int16Array;
  sampleRate: number;
  voiceId: string;
  signal: AbortSignal;
  callKey: string;
  endedAt: number;
  log?: Logger;
}

export function phrase(ms: number, over: Partial<TestPhrase> = {}): TestPhrase {
  return { pcm: phrasePcm(ms), sampleRate: 16000, voiceId: 'voiceA', signal: new AbortController().signal, callKey: 'call-1', endedAt: performance.now(), ...over };
}

export interface Collected {
  chunks: Uint8Array[];
  bytes: Uint8Array;
  /** performance.now() of each chunk */
  at: number[];
  error?: unknown;
}

/** Runs a conversion to the end; never throws (the error is in the result). */
export async function collect<R>(conv: { convert(req: R): AsyncIterable<Uint8Array> }, req: R): Promise<Collected> {
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
