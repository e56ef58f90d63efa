/**
 * One masked direction of a call: a speaker's 20 ms PCM frames in, masked audio out to the
 * listener's stream. It is the converter stream plus the listener's playout, with one close().
 * It does not know which leg it serves: hotline mode plays back to the speaker's own stream,
 * two-party mode to the other leg.
 *
 * Speech onsets (for barge-in) come from the converter stream when it segments speech (phrase
 * mode), or from a VAD run here when the caller asked for them and the converter does not.
 *
 * Fail closed: the only audio that reaches the playout is what the converter wrote (MaskedAudio).
 */
import type { Logger } from '../observability/logger.js';
import { PhraseSegmenter, type SegmenterOptions } from './vad/index.js';
import type { AudioFrame, Converter, ConverterStream, SpeechStart } from '../voice/converter.js';
import { Playout, type PlayoutOptions, type PlayoutSink } from '../twilio/media-out.js';

export interface DirectionOptions {
  converter: Converter;
  /** The listener's stream. */
  sink: PlayoutSink;
  playout: PlayoutOptions;
  voiceId: string;
  /** Fair-queueing key toward the converter: the speaker's call sid. */
  callKey: string;
  log: Logger;
  /** The speaker started talking (for barge-in on whichever playout the call chooses). */
  onSpeechStart?: (ev: SpeechStart) => void;
  /** VAD settings for onsets when the converter does not segment speech itself. */
  segmenter?: SegmenterOptions;
}

export class MaskedDirection {
  readonly playout: Playout;
  private readonly stream: ConverterStream;
  private readonly ctl = new AbortController();
  private readonly onsets: PhraseSegmenter | undefined;
  private readonly onSpeechStart: ((ev: SpeechStart) => void) | undefined;
  private lastEndMs = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(opts: DirectionOptions) {
    this.playout = new Playout(opts.sink, opts.playout, opts.log);
    this.stream = opts.converter.open({
      voiceId: opts.voiceId,
      callKey: opts.callKey,
      output: this.playout,
      signal: this.ctl.signal,
      log: opts.log,
      ...(opts.onSpeechStart && { onSpeechStart: opts.onSpeechStart }),
    });
    if (opts.onSpeechStart && !opts.converter.segmentsSpeech && opts.segmenter) {
      this.onsets = new PhraseSegmenter({ ...opts.segmenter, chunkMinMs: 0 });
    }
    this.onSpeechStart = opts.onSpeechStart;
  }

  get voiceId(): string {
    return this.stream.voiceId;
  }

  push(frame: AudioFrame): void {
    if (this.closed) return;
    this.stream.push(frame);
    if (!this.onsets) return;
    for (const ev of this.onsets.push(frame.pcm)) {
      if (ev.type === 'speech-start') this.onSpeechStart?.({ atMs: ev.atMs, gapMs: ev.atMs - this.lastEndMs });
      else this.lastEndMs = ev.endMs;
    }
  }

  setVoice(voiceId: string): void {
    this.stream.setVoice(voiceId);
  }

  onMark(name: string): boolean {
    return this.playout.onMarkEchoed(name);
  }

  /** Stops now: conversions in flight are cancelled, nothing more is played. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctl.abort(new Error('call ended'));
    this.stream.close();
    this.onsets?.close();
    this.playout.close();
  }
}
