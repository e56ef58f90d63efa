/**
 * Streaming mode: one LocalFrameStream per call. 20 ms frames of 8 kHz PCM in (160 samples),
 * 160 bytes of masked mu-law out, a fixed delay behind: 16 kHz -> MaskProcessor -> 8 kHz -> mu-law.
 * Every buffer is allocated once here; the per-frame work is the DSP itself.
 */
import type { FrameStream } from '../converter.js';
import { asMasked, type MaskedAudio } from '../masked.js';
import { FRAME_BYTES_8K, mulawEncode } from '../../audio/mulaw.js';
import { Resampler } from '../../audio/resampler.js';
import type { Logger } from '../../observability/logger.js';
import { HOP } from './hop-track.js';
import { LATENCY, MaskProcessor, type MaskProcessorOptions } from './processor.js';
import { getPreset } from './presets.js';
import { engineWorked } from './load.js';

/** Speex quality of the stream's resamplers (as the bridge's own): 8 ms of delay each way. */
export const STREAM_RESAMPLER_QUALITY = 7;
const UP_LATENCY_16K = 128;
const DOWN_LATENCY_8K = 64;
/**
 * The processor emits output when a hop completes; the upsampler's first output is short by its
 * latency, so every frame ends this many 16 kHz samples into a hop, which wait for the next frame.
 */
const HOP_WAIT = (2 * FRAME_BYTES_8K - UP_LATENCY_16K) % HOP;
/** Input-to-output delay of a stream, in 8 kHz samples (54 ms). */
export const STREAM_DELAY_8K = (UP_LATENCY_16K + LATENCY + HOP_WAIT) / 2 + DOWN_LATENCY_8K;
const FIFO = 4096;

export class LocalFrameStream implements FrameStream {
  private readonly up: Resampler;
  private readonly down: Resampler;
  private readonly proc: MaskProcessor;
  private readonly procOut = new Int16Array(4 * FRAME_BYTES_8K + HOP);
  /** 8 kHz output queue, primed with the delay's worth of silence. */
  private readonly fifo = new Int16Array(FIFO);
  private head = 0;
  private size: number;
  private readonly frameOut = new Int16Array(FRAME_BYTES_8K);
  private closed = false;
  private underruns = 0;

  constructor(
    voiceId: string,
    seed: number,
    private readonly log?: Logger,
    dsp: MaskProcessorOptions = {},
  ) {
    // The preset first: an unknown voice throws before any WASM memory is taken.
    this.proc = new MaskProcessor(getPreset(voiceId), seed, dsp);
    this.up = new Resampler(8000, 16000, STREAM_RESAMPLER_QUALITY);
    this.down = new Resampler(16000, 8000, STREAM_RESAMPLER_QUALITY);
    if (this.up.latencySamples !== UP_LATENCY_16K || this.down.latencySamples !== DOWN_LATENCY_8K) {
      throw new Error('unexpected resampler latency: update STREAM_DELAY_8K');
    }
    this.size = STREAM_DELAY_8K;
  }

  push(frame: Int16Array): MaskedAudio {
    if (this.closed) throw new Error('frame stream used after close');
    if (frame.length <= FRAME_BYTES_8K) return this.pushFrame(frame);
    // Longer input in 20 ms pieces: procOut and the FIFO are sized for one frame (the output
    // does not depend on how the input is cut).
    const out = new Uint8Array(frame.length);
    for (let o = 0; o < frame.length; o += FRAME_BYTES_8K) out.set(this.pushFrame(frame.subarray(o, o + FRAME_BYTES_8K)), o);
    return asMasked(out);
  }

  private pushFrame(frame: Int16Array): MaskedAudio {
    const t0 = performance.now();
    const x16 = this.up.process(frame);
    const n = this.proc.process(x16, this.procOut, 0);
    if (n > 0) this.enqueue(this.down.process(this.procOut.subarray(0, n)));
    const out = this.dequeue(frame.length);
    engineWorked(t0);
    return out;
  }

  flush(): MaskedAudio {
    if (this.closed) throw new Error('frame stream used after close');
    const frames = Math.ceil(STREAM_DELAY_8K / FRAME_BYTES_8K);
    const silence = new Int16Array(FRAME_BYTES_8K);
    const out = new Uint8Array(frames * FRAME_BYTES_8K);
    for (let i = 0; i < frames; i++) out.set(this.push(silence), i * FRAME_BYTES_8K);
    return asMasked(out);
  }

  setVoice(voiceId: string): void {
    this.proc.setPreset(getPreset(voiceId));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.destroy();
    this.down.destroy();
  }

  private enqueue(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i++) {
      if (this.size === FIFO) break; // cannot happen at one frame in, one frame out
      this.fifo[(this.head + this.size) % FIFO] = pcm[i]!;
      this.size++;
    }
  }

  private dequeue(len: number): MaskedAudio {
    const out = len === FRAME_BYTES_8K ? this.frameOut : new Int16Array(len);
    const have = Math.min(len, this.size);
    if (have < len) {
      // Only if the caller sends frames of other sizes: pad with silence, never with input.
      if (this.underruns++ === 0) this.log?.warn({ have, len }, 'local engine stream underrun');
      out.fill(0);
    }
    for (let i = 0; i < have; i++) out[len - have + i] = this.fifo[(this.head + i) % FIFO]!;
    this.head = (this.head + have) % FIFO;
    this.size -= have;
    return asMasked(mulawEncode(out));
  }
}
