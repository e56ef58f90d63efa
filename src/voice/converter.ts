/**
 * The backends' contracts. A phrase backend (ElevenLabs, the embedded engine in phrase mode, the
 * resilience wrappers around them) converts a whole phrase and streams the masked audio back
 * (PhraseConverter); a frame backend (the embedded engine in streaming mode, the two-party
 * passthrough) masks 20 ms at a time behind a fixed delay (FrameStream). The pipeline
 * (src/pipeline/) turns either into a stream of a call. Each backend converts sample rates
 * itself: the audio it is given is the call's 8 kHz.
 *
 * Fail closed: the only audio a backend returns is MaskedAudio (./masked.ts), made inside
 * src/voice/ from what a converter produced.
 */
import type { Logger } from '../observability/logger.js';
import type { MaskedAudio } from './masked.js';

/** Sample rate of all audio inside the bridge (Twilio's). */
export const CALL_RATE = 8000;

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
  /** A stable persona: this seed and no per-phrase variation (absent: the backend's own seed rules). */
  personaSeed?: number;
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
