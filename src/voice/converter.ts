/**
 * The converter contract. Every masking path is one shape: a ConverterStream that takes the
 * speaker's audio as 20 ms PCM frames and writes MaskedAudio (8 kHz mu-law) into ordered output
 * slots, with an explicit lifecycle: push (each frame), flush (end of input: finish what is
 * open), close (stop now: everything in flight is cancelled). The caller's AbortSignal does
 * what close does.
 *
 * Two kinds of backend produce streams:
 *  - frame backends (the embedded engine in streaming mode; the two-party passthrough) turn
 *    each frame into masked audio at once, into one long slot (src/pipeline/frame-adapter.ts);
 *  - phrase backends (ElevenLabs, the embedded engine in phrase mode, and the resilience
 *    wrappers around them) convert whole phrases (PhraseConverter below); the
 *    PhraseStreamAdapter (src/pipeline/phrase-adapter.ts) turns one into a stream: it owns the VAD
 *    segmentation into phrases and chunks, one ordered slot per chunk, and the cancellation.
 * Each backend converts sample rates itself: the stream's audio is 8 kHz, as the call's.
 *
 * Fail closed: the only audio a stream can write is MaskedAudio (./masked.ts), made inside
 * src/voice/ from what a converter produced. A failed chunk fails its slot: the listener hears
 * silence there and the slots after it still play.
 */
import type { Logger } from '../observability/logger.js';
import type { MaskedAudio } from './masked.js';

/** Sample rate of all audio inside the bridge (Twilio's). */
export const CALL_RATE = 8000;

/** 20 ms of the speaker's audio: 160 samples of 8 kHz PCM16, at a point of the stream's clock. */
export interface AudioFrame {
  pcm: Int16Array;
  /** Stream time of the first sample, ms since the stream started (Twilio's media timestamp). */
  timestampMs: number;
}

/** One phrase's (or one stream's) place in the listener's playout order. */
export interface OutputSlot {
  /** Names the slot in logs and in the mark that follows its audio. */
  readonly name: string;
  write(audio: MaskedAudio): void;
  /** The audio is complete: a mark follows it. */
  end(): void;
  /** The conversion failed: what arrived plays, nothing more; the slots after it move up. */
  fail(): void;
  /** Aborted when the slot is cleared (the listener barged in) or the playout closed. */
  readonly signal: AbortSignal;
}

/** Where a stream writes: the listener's playout. */
export interface MaskedOutput {
  /** A new slot at the end of the order. */
  openSlot(prefix?: string): OutputSlot;
}

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
  /** Aborted when the call ends: cancels every request and timer of the stream. */
  signal: AbortSignal;
  log: Logger;
  /** Streams that segment speech report each onset (barge-in decisions belong to the caller). */
  onSpeechStart?: (ev: SpeechStart) => void;
}

export interface ConverterStream {
  push(frame: AudioFrame): void;
  /** End of input: the open phrase is converted, nothing more will be pushed. */
  flush(): void;
  /** Switches voice for what comes next (DTMF voice cycling). */
  setVoice(voiceId: string): void;
  readonly voiceId: string;
  /** Stops at once: chunks in flight are cancelled, nothing more is written. Idempotent. */
  close(): void;
}

export interface Converter {
  readonly name: string;
  /** Whether the stream reports speech onsets itself (else the caller runs a VAD if it needs one). */
  readonly segmentsSpeech: boolean;
  open(opts: StreamOptions): ConverterStream;
  close(): Promise<void>;
}

/** A whole phrase for a phrase backend. */
export interface PhraseRequest {
  /** The phrase's audio, mono PCM16 at `sampleRate` (the call's 8 kHz): backends resample themselves. */
  pcm: Int16Array;
  sampleRate: number;
  /** ElevenLabs voice id, or an embedded-engine preset id. */
  voiceId: string;
  /** Aborted when the call ends or the phrase is cleared; cancels the request and its timers. */
  signal: AbortSignal;
  /** Fair-queueing key: one talkative call cannot starve the others. Usually the callSid. */
  callKey: string;
  /** performance.now() when the phrase ended: a phrase older than the lag budget is dropped. */
  endedAt: number;
  log?: Logger;
}

/** Duration of a request's audio, in ms. */
export const phraseMs = (req: Pick<PhraseRequest, 'pcm' | 'sampleRate'>): number => (req.pcm.length * 1000) / req.sampleRate;

/** A phrase backend: a whole phrase in, converted audio streamed out as it arrives. */
export interface PhraseConverter {
  readonly name: string;
  /**
   * Yields converted 8 kHz mu-law chunks of any size, as soon as they arrive.
   * Throws ConversionError on failure (after any retries the implementation makes).
   * Uses the backend's own seed (each backend has its own: ELEVENLABS_SEED, LOCAL_SEED).
   */
  convert(req: PhraseRequest): AsyncIterable<MaskedAudio>;
  close(): Promise<void>;
}

/** A frame backend's per-call state: 20 ms of PCM in, 20 ms of masked mu-law out, a fixed delay behind. */
export interface FrameStream {
  push(pcm: Int16Array): MaskedAudio;
  /** The audio still held in the delay line, at the end of a stream. */
  flush(): MaskedAudio;
  /** Switches preset without a click (DTMF voice cycling). */
  setVoice(voiceId: string): void;
  close(): void;
}

/** What one voice offers: listed by the embedded engine's presets. */
export interface VoiceInfo {
  id: string;
  name: string;
  description: string;
}


/** The voices a call may ask for (stream parameter `voice`), and the default. */
export interface VoiceCatalog {
  readonly defaultVoiceId: string;
  isValid(id: string): boolean;
  /** For error messages. */
  describe(): string;
}
