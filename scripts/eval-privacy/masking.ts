/**
 * Runs the embedded engine the way a call does (8 kHz mu-law in, masked 8 kHz mu-law out), or
 * the way the compatible API does:
 * - streaming: one FrameStream per call, fed 20 ms frames (the bridge's default);
 * - phrase: each phrase (reference timings, padded like the VAD's pre-roll and hangover)
 *   upsampled to 16 kHz and converted on its own, as LOCAL_MODE=phrase does;
 * - api: the whole clip as one request to /v1/speech-to-speech (16 kHz in, as the API decodes a
 *   telephone recording; default voice settings; the request's seed), through the same adapter
 *   and facade call the API uses, answered as ulaw_8000.
 * Outputs are aligned with the input (the stream's delay removed; silence between phrases).
 */
import { FRAME_BYTES_8K, MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { mulawDecode, mulawEncode } from '../../src/audio/mulaw.js';
import { resample } from '../../src/audio/resampler.js';
import { localStsEngine } from '../../src/api/engine.js';
import { createOutputEncoder } from '../../src/api/output-encoder.js';
import { DEFAULT_VOICE_SETTINGS } from '../../src/api/voice-settings.js';
import type { LocalEngine } from '../../src/voice/local/index.js';

export type Mode = 'streaming' | 'phrase' | 'api' | 'call';

const PREROLL_S = 0.2;
const HANGOVER_S = 0.3;

/** `stable`: a stable persona's stream (no per-phrase draw), as a contact line opens it. */
export function maskStreaming(engine: LocalEngine, ulaw: Uint8Array, voiceId: string, seed: number, stable = false): Uint8Array {
  const s = engine.openStream({ voiceId, seed, ...(stable && { stable: true }) });
  const delay = Math.round(engine.delayMs * 8);
  const out = new Uint8Array(ulaw.length + delay + 4 * FRAME_BYTES_8K);
  let w = 0;
  try {
    for (let o = 0; o < ulaw.length; o += FRAME_BYTES_8K) {
      const frame = new Uint8Array(FRAME_BYTES_8K).fill(MULAW_SILENCE);
      frame.set(ulaw.subarray(o, o + FRAME_BYTES_8K));
      const y = s.push(mulawDecode(frame));
      out.set(y, w);
      w += y.length;
    }
    const tail = s.flush();
    out.set(tail.subarray(0, Math.min(tail.length, out.length - w)), w);
  } finally {
    s.close();
  }
  return out.slice(delay, delay + ulaw.length);
}

export async function maskPhrases(
  engine: LocalEngine,
  ulaw: Uint8Array,
  phrases: ReadonlyArray<readonly [number, number]>,
  voiceId: string,
  seed: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(ulaw.length).fill(MULAW_SILENCE);
  let prevEnd = 0;
  for (let i = 0; i < phrases.length; i++) {
    const [s, e] = phrases[i]!;
    const next = phrases[i + 1]?.[0] ?? Infinity;
    const from = Math.max(prevEnd, Math.round((s - PREROLL_S) * 8000), 0);
    const to = Math.min(ulaw.length, Math.round(Math.min(e + HANGOVER_S, (e + next) / 2) * 8000));
    prevEnd = to;
    const pcm16k = resample(mulawDecode(ulaw.subarray(from, to)), 8000, 16000);
    // The engine's phrase path (convert) is maskPcm16k, downsampled and mu-law encoded, with the
    // engine's seed; here each evaluated call takes its own seed explicitly.
    const y = mulawEncode(resample(await engine.maskPcm16kAsync(pcm16k, { voiceId, seed }), 16000, 8000));
    out.set(y.subarray(0, Math.max(0, to - from)), from);
  }
  return out;
}

/** The clip as one compatible-API request with `seed`, answered as ulaw_8000. */
export async function maskRequest(engine: LocalEngine, ulaw: Uint8Array, voiceId: string, seed: number): Promise<Uint8Array> {
  const pcm16k = resample(mulawDecode(ulaw), 8000, 16000);
  const enc = await createOutputEncoder('ulaw_8000', pcm16k.length);
  const parts: Uint8Array[] = [];
  try {
    const masked = localStsEngine(engine).mask(pcm16k, { voiceId, settings: { ...DEFAULT_VOICE_SETTINGS }, seed, denoise: false, signal: new AbortController().signal });
    for await (const chunk of masked) parts.push(...enc.push(chunk));
    parts.push(...enc.end());
  } finally {
    enc.destroy();
  }
  return Buffer.concat(parts);
}
