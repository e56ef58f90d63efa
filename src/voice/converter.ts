/**
 * The converter contract: every voice backend (ElevenLabs, the embedded engine, the
 * resilience wrappers around them) implements one of these two shapes.
 *
 * Audio in is what the caller said; audio out is MaskedAudio (8 kHz mu-law), the only kind
 * of audio playout accepts (see ./masked.ts).
 */
import type { Logger } from '../observability/logger.js';
import type { MaskedAudio } from './masked.js';

export interface PhraseRequest {
  /** The whole phrase, 16 kHz mono PCM16 (ElevenLabs' pcm_s16le_16). */
  pcm16k: Int16Array;
  /** ElevenLabs voice id, or an embedded-engine preset id. */
  voiceId: string;
  seed?: number;
  /** Aborted when the call ends or the phrase is cleared; cancels the request and its timers. */
  signal: AbortSignal;
  /** Fair-queueing key: one talkative call cannot starve the others. Usually the callSid. */
  callKey: string;
  /** performance.now() when the phrase ended: a phrase older than the lag budget is dropped. */
  endedAt: number;
  log?: Logger;
}

/** Phrase mode: a whole phrase in, converted audio streamed out as it arrives. */
export interface PhraseConverter {
  readonly name: string;
  /**
   * Yields converted 8 kHz mu-law chunks of any size, as soon as they arrive.
   * Throws ConversionError on failure (after any retries the implementation makes).
   */
  convert(req: PhraseRequest): AsyncIterable<MaskedAudio>;
  close(): Promise<void>;
}

/** Streaming mode: 20 ms in, 20 ms out, with a fixed algorithmic delay. */
export interface FrameStream {
  /** One 20 ms frame of 8 kHz mu-law in (160 bytes); one 20 ms frame of masked mu-law out. */
  push(frame: Uint8Array): MaskedAudio;
  /** The audio still held in the delay line, at the end of a stream. */
  flush(): MaskedAudio;
  /** Switches preset without a click (DTMF voice cycling). */
  setVoice(voiceId: string): void;
  close(): void;
}

export interface StreamingConverter {
  readonly name: string;
  /** The algorithmic delay of a FrameStream, in ms. */
  readonly delayMs: number;
  openStream(opts: { voiceId: string; seed?: number; log?: Logger }): FrameStream;
}

/** What one voice offers: listed by the embedded engine's presets. */
export interface VoiceInfo {
  id: string;
  name: string;
  description: string;
}
