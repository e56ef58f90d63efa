/**
 * Twilio media payloads -> 20 ms PCM frames on the stream's clock.
 *
 * The payload is decoded from mu-law once, here; every stage after works on PCM. Media
 * messages carry a timestamp (ms since the stream started): a gap in it (frames Twilio never
 * delivered) is filled with silence, so the gap stays a gap for the VAD and the converters
 * instead of compressing time. A timestamp that goes backwards or repeats is not trusted (the
 * audio is appended). Payloads of any length are re-framed to 160 samples.
 */
import { FRAME_BYTES_8K, mulawDecode } from '../audio/mulaw.js';

/** 20 ms of the speaker's audio: 160 samples of 8 kHz PCM16, in stream order (gaps filled). */
export interface AudioFrame {
  pcm: Int16Array;
}

const FRAME = FRAME_BYTES_8K;
/** Longest gap filled with silence; a longer one is filled up to this (the call was stalled anyway). */
export const MAX_GAP_MS = 5000;

export class MediaFramer {
  private readonly buf = new Int16Array(FRAME);
  private len = 0;
  /** Samples emitted or buffered so far: the stream position. */
  private samples = 0;
  /** Total silence inserted for gaps, ms (diagnostics). */
  gapMs = 0;

  /** Calls emit once per complete 20 ms frame; each frame is its own copy. */
  push(mulaw: Uint8Array, timestampMs: number | undefined, emit: (frame: AudioFrame) => void): void {
    if (timestampMs !== undefined) {
      const gap = Math.round((timestampMs - this.samples / 8) * 8);
      // Half a frame of slack: Twilio's timestamps are whole ms and jitter a little.
      if (gap >= FRAME / 2) {
        const fill = Math.min(gap, MAX_GAP_MS * 8);
        this.gapMs += fill / 8;
        this.append(new Int16Array(fill), emit);
      }
    }
    this.append(mulawDecode(mulaw), emit);
  }

  private append(pcm: Int16Array, emit: (frame: AudioFrame) => void): void {
    let off = 0;
    while (off < pcm.length) {
      const take = Math.min(FRAME - this.len, pcm.length - off);
      this.buf.set(pcm.subarray(off, off + take), this.len);
      this.len += take;
      off += take;
      this.samples += take;
      if (this.len === FRAME) {
        emit({ pcm: this.buf.slice() });
        this.len = 0;
      }
    }
  }
}
