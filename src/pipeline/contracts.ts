/**
 * The stream contract of a call's masked direction. Every masking path is one shape: a
 * ConverterStream takes the speaker's 20 ms PCM frames and writes MaskedAudio into ordered
 * output slots of the listener's connection (src/twilio/media-out.ts).
 *
 *  - the frame adapter (./frame-adapter.ts) turns a frame backend into a stream: one long slot;
 *  - the phrase adapter (./phrase-adapter.ts) turns a phrase backend into a stream: it owns the
 *    VAD segmentation into phrases and chunks, one ordered slot per chunk.
 *
 * One cancel path: the stream lives until its signal aborts (the call ended, or the direction
 * was closed); then every conversion in flight is cancelled and nothing more is written. A
 * failed chunk fails its slot: the listener hears silence there and the slots after it play.
 */
import type { Logger } from '../observability/logger.js';
import type { AudioFrame } from '../twilio/media-in.js';
import type { MaskedOutput } from '../twilio/media-out.js';

export type { AudioFrame } from '../twilio/media-in.js';
export type { MaskedOutput, OutputSlot } from '../twilio/media-out.js';

/** The speaker started talking: `gapMs` of silence (stream time) since their last speech. */
export interface SpeechStart {
  atMs: number;
  gapMs: number;
}

export interface StreamOptions {
  voiceId: string;
  /** Fair-queueing key toward a shared backend: one talkative call cannot starve the others. */
  callKey: string;
  output: MaskedOutput;
  /** Aborted when the stream must stop: cancels every request and timer of the stream. */
  signal: AbortSignal;
  log: Logger;
  /** Streams that segment speech report each onset (barge-in decisions belong to the call). */
  onSpeechStart?: (ev: SpeechStart) => void;
  /**
   * A stable persona: mask with this seed and no per-phrase variation, so the speaker has the
   * same voice on every call (absent: the backend's own seed rules).
   */
  persona?: Persona;
}

export interface Persona {
  seed: number;
}

export interface ConverterStream {
  push(frame: AudioFrame): void;
  /** Switches voice for what comes next (DTMF voice cycling). */
  setVoice(voiceId: string): void;
  readonly voiceId: string;
}

export interface Converter {
  readonly name: string;
  /** Whether the stream reports speech onsets itself (else the direction runs the VAD for them). */
  readonly segmentsSpeech: boolean;
  open(opts: StreamOptions): ConverterStream;
  close(): Promise<void>;
}
