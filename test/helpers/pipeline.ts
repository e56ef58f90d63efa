/**
 * Helpers for tests that drive the pipeline with real speech: speech assembled from the clips
 * (each clip one phrase, a second of silence after it), frames pushed as Twilio's media would
 * bring them, a PlayoutSink that records what would go to Twilio, and event-loop waits (no
 * fixed sleeps).
 */
import { FRAME_BYTES_8K, MULAW_SILENCE, mulawDecode } from '../../src/audio/mulaw.js';
import type { PlayoutSink } from '../../src/twilio/media-out.js';
import type { AudioFrame } from '../../src/twilio/media-in.js';
import { loadClipMulaw } from '../../tools/clips.js';

/** The clips, each followed by `silenceMs` of digital silence (past the VAD hangover), as one 8 kHz PCM signal. */
export function speechOf(clips: string[], silenceMs = 1000): Int16Array {
  const silence = new Int16Array((silenceMs * 8000) / 1000);
  const parts = clips.flatMap((c) => [mulawDecode(loadClipMulaw(c)), silence]);
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `pcm` as 20 ms frames, as media-in would deliver them. */
export function* framesOf(pcm: Int16Array): Generator<AudioFrame> {
  for (let o = 0; o + FRAME_BYTES_8K <= pcm.length; o += FRAME_BYTES_8K) yield { pcm: pcm.subarray(o, o + FRAME_BYTES_8K) };
}

export type Sent = { kind: 'media'; bytes: Uint8Array } | { kind: 'mark'; name: string } | { kind: 'clear' };

/** A PlayoutSink that keeps everything the playout sends, in order. */
export class RecordingSink implements PlayoutSink {
  readonly sent: Sent[] = [];
  sendMedia(mulaw: Uint8Array): boolean {
    this.sent.push({ kind: 'media', bytes: Uint8Array.from(mulaw) });
    return true;
  }
  sendMark(name: string): boolean {
    this.sent.push({ kind: 'mark', name });
    return true;
  }
  sendClear(): boolean {
    this.sent.push({ kind: 'clear' });
    return true;
  }

  get marks(): string[] {
    return this.sent.flatMap((s) => (s.kind === 'mark' ? [s.name] : []));
  }

  /**
   * What was sent, runs collapsed: each run of media messages as the byte they carry (a message
   * holds one slot's audio, padded with mu-law silence), each mark by name, each clear as 'clear'.
   */
  summary(): Array<number | string> {
    const out: Array<number | string> = [];
    for (const s of this.sent) {
      if (s.kind !== 'media') {
        out.push(s.kind === 'mark' ? s.name : 'clear');
        continue;
      }
      const tag = s.bytes.find((b) => b !== MULAW_SILENCE) ?? MULAW_SILENCE;
      if (!s.bytes.every((b) => b === tag || b === MULAW_SILENCE)) throw new Error('a media message mixes two answers');
      if (out.at(-1) !== tag) out.push(tag);
    }
    return out;
  }

  /** Bytes of media sent that carry `tag`. */
  bytesOf(tag: number): number {
    let n = 0;
    for (const s of this.sent) if (s.kind === 'media') for (const b of s.bytes) if (b === tag) n++;
    return n;
  }
}

/** Resolves when `cond` holds, re-checked on every turn of the event loop (gives up after `limitMs`). */
export async function until(cond: () => boolean, what = 'condition', limitMs = 10_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what} never held`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets `n` turns of the event loop pass (to show that nothing more happens). */
export async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
