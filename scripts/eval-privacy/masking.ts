/**
 * Runs the embedded engine the way a call does: 8 kHz mu-law in, masked 8 kHz mu-law out.
 * - streaming: one FrameStream per call, fed 20 ms frames (the bridge's default);
 * - phrase: each phrase (reference timings, padded like the VAD's pre-roll and hangover)
 *   upsampled to 16 kHz and converted on its own, as LOCAL_MODE=phrase does.
 * Outputs are aligned with the input (the stream's delay removed; silence between phrases).
 */
import { FRAME_BYTES_8K, MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { mulawDecode, mulawEncode } from '../../src/audio/mulaw.js';
import { resample } from '../../src/audio/resampler.js';
import type { LocalEngine } from '../../src/voice/local/index.js';

export type Mode = 'streaming' | 'phrase';

const PREROLL_S = 0.2;
const HANGOVER_S = 0.3;

export function maskStreaming(engine: LocalEngine, ulaw: Uint8Array, voiceId: string, seed: number): Uint8Array {
  const s = engine.openStream({ voiceId, seed });
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
