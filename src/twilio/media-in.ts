/**
 * Twilio media payloads -> 20 ms PCM frames on the stream's clock.
 *
 * The payload is decoded from mu-law once, here; every stage after works on PCM. Media
 * messages carry a timestamp (ms since the stream started): a gap in it (frames Twilio never
 * delivered) is filled with silence, so the gap stays a gap for the VAD and the converters
 * instead of compressing time. A timestamp that goes backwards or repeats is not trusted (the
 * audio is appended). Payloads of any length are re-framed to 160 samples.
 *
 * Media time is honest: a gap is filled only up to the wall-clock time that has passed since
 * the stream started (plus GAP_SLACK_MS of jitter), so a peer whose timestamps jump ahead
 * cannot make the bridge process audio nobody has said yet. The stream position (audio
 * received plus silence inserted) is what the connection's audio-ahead budget counts.
 */
import { FRAME_BYTES_8K, mulawDecode } from '../audio/mulaw.js';

/** 20 ms of the speaker's audio: 160 samples of 8 kHz PCM16, in stream order (gaps filled). */
export interface AudioFrame {
  pcm: Int16Array;
}

const FRAME = FRAME_BYTES_8K;
/** Longest gap filled with silence; a longer one is filled up to this (the call was stalled anyway). */
export const MAX_GAP_MS = 5000;
/** How far past the wall clock a gap may be filled (Twilio's timestamps and our clock jitter apart). */
export const GAP_SLACK_MS = 1000;

export class MediaFramer {
  private readonly buf = new Int16Array(FRAME);
  private len = 0;
  /** Samples emitted or buffered so far: the stream position. */
  private samples = 0;
  /** Total silence inserted for gaps, ms (diagnostics). */
  gapMs = 0;
  /** Silence a gap asked for but the wall clock did not allow, ms (diagnostics). */
  clampedMs = 0;

  /** Stream position: the audio received plus the silence inserted for gaps, ms. */
  get positionMs(): number {
    return this.samples / 8;
  }

  /**
   * The silence (samples) a message stamped `timestampMs` inserts before its audio. `wallMs`,
   * the wall-clock time since the stream started, caps it; without it only MAX_GAP_MS does.
   */
  gapSamples(timestampMs: number | undefined, wallMs?: number): { fill: number; asked: number } {
    if (timestampMs === undefined) return { fill: 0, asked: 0 };
    const gap = Math.round((timestampMs - this.samples / 8) * 8);
    // Half a frame of slack: Twilio's timestamps are whole ms and jitter a little.
    if (gap < FRAME / 2) return { fill: 0, asked: 0 };
    let fill = Math.min(gap, MAX_GAP_MS * 8);
    if (wallMs !== undefined) fill = Math.max(0, Math.min(fill, Math.floor((wallMs + GAP_SLACK_MS) * 8) - this.samples));
    return { fill, asked: gap };
  }

  /** The stream position, ms, once a message of `payloadBytes` stamped `timestampMs` is taken. */
  positionAfter(payloadBytes: number, timestampMs: number | undefined, wallMs?: number): number {
    return (this.samples + this.gapSamples(timestampMs, wallMs).fill + payloadBytes) / 8;
  }

  /** Calls emit once per complete 20 ms frame; each frame is its own copy. */
  push(mulaw: Uint8Array, timestampMs: number | undefined, emit: (frame: AudioFrame) => void, wallMs?: number): void {
    const { fill, asked } = this.gapSamples(timestampMs, wallMs);
    if (asked > fill) this.clampedMs += (asked - fill) / 8;
    if (fill > 0) {
      this.gapMs += fill / 8;
      this.append(new Int16Array(fill), emit);
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
