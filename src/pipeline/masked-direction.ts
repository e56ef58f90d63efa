/**
 * One masked direction of a call: a speaker's 20 ms PCM frames in, masked audio out into the
 * listener's connection (its outbound clock). It does not know which leg it serves: hotline
 * mode plays back to the speaker's own connection, two-party mode to the other leg's.
 *
 * Speech onsets (for barge-in) come from the converter stream when it segments speech (phrase
 * mode), or from the VAD run here when it does not (streaming mode, passthrough).
 *
 * Fail closed: the only audio that reaches the listener is what the converter wrote (MaskedAudio).
 */
import type { Logger } from '../observability/logger.js';
import type { MaskedOutput } from '../twilio/media-out.js';
import type { AudioFrame, Converter, ConverterStream, Persona, SpeechStart } from './contracts.js';
import { OnsetTracker, PhraseSegmenter, type SegmenterOptions } from './vad/index.js';

export interface DirectionOptions {
  converter: Converter;
  /** The listener's connection. */
  output: MaskedOutput;
  voiceId: string;
  /** Fair-queueing key toward the converter: the speaker's call sid. */
  callKey: string;
  /** The call's signal: the direction stops when the call ends. */
  signal: AbortSignal;
  log: Logger;
  /** The speaker started talking (for barge-in on whichever output the call chooses). */
  onSpeechStart?: (ev: SpeechStart) => void;
  /** VAD settings for onsets when the converter does not segment speech itself. */
  segmenter: SegmenterOptions;
  /** A stable persona (see StreamOptions). */
  persona?: Persona;
}

export class MaskedDirection {
  private readonly stream: ConverterStream;
  private readonly ctl = new AbortController();
  private readonly signal: AbortSignal;
  private readonly onsetVad: PhraseSegmenter | undefined;
  private readonly onsets = new OnsetTracker();
  private readonly onSpeechStart: ((ev: SpeechStart) => void) | undefined;

  constructor(opts: DirectionOptions) {
    const signal = AbortSignal.any([opts.signal, this.ctl.signal]);
    this.signal = signal;
    this.stream = opts.converter.open({
      voiceId: opts.voiceId,
      callKey: opts.callKey,
      output: opts.output,
      signal,
      log: opts.log,
      ...(opts.onSpeechStart && { onSpeechStart: opts.onSpeechStart }),
      ...(opts.persona && { persona: opts.persona }),
    });
    if (opts.onSpeechStart && !opts.converter.segmentsSpeech) {
      this.onsetVad = new PhraseSegmenter({ ...opts.segmenter, chunkMinMs: 0 });
      signal.addEventListener('abort', () => this.onsetVad?.close(), { once: true });
    }
    this.onSpeechStart = opts.onSpeechStart;
  }

  get voiceId(): string {
    return this.stream.voiceId;
  }

  get closed(): boolean {
    return this.signal.aborted;
  }

  push(frame: AudioFrame): void {
    if (this.closed) return;
    this.stream.push(frame);
    if (!this.onsetVad) return;
    for (const ev of this.onsetVad.push(frame.pcm)) {
      const onset = this.onsets.see(ev);
      if (onset) this.onSpeechStart?.(onset);
    }
  }

  setVoice(voiceId: string): void {
    this.stream.setVoice(voiceId);
  }

  /** Stops now: conversions in flight are cancelled, nothing more is written. Idempotent. */
  close(): void {
    if (!this.closed) this.ctl.abort(new Error('direction closed'));
  }
}
