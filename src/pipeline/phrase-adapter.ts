/**
 * PhraseStreamAdapter: a phrase backend (a whole phrase in, converted audio out) as a
 * streaming Converter — the shape of livekit agents-js `stt/stream_adapter.ts`, which turns a
 * batch STT plus a VAD into a stream.
 *
 * It owns the VAD segmentation (src/vad/): a turn is cut into phrases at the hangover and,
 * while it goes on, into chunks at micro-pauses or at the chunk limit. Each chunk is sent as
 * soon as it closes; several chunks of a call may be in flight at once (the backend's fair
 * limiter bounds them); each has its own slot, opened in speaking order, so they play strictly
 * in order, each right after the one before, with no overlap and no repeated audio.
 *
 * Fail closed, in order: a chunk that fails or times out fails its slot at once (the listener
 * hears silence there) and the chunks after it still play. Closing the stream (hang-up) or
 * clearing a slot (the listener barged in) cancels the requests in flight and their timers.
 * Barge-in is not decided here: the adapter reports each speech onset (onSpeechStart) and the
 * call decides whose playout it clears.
 */
import { CALL_RATE, type AudioFrame, type Converter, type ConverterStream, type PhraseConverter, type StreamOptions } from '../voice/converter.js';
import { ConversionError, isAbort } from '../voice/errors.js';
import { metrics } from '../observability/metrics.js';
import { PhraseSegmenter, type SegmentEvent, type SegmenterOptions } from './vad/index.js';

export interface PhraseStats {
  /** Chunks sent for conversion. */
  detected: number;
  converted: number;
  failed: number;
  /** Sounds too short to be speech, not sent. */
  discarded: number;
}

export class PhraseStreamAdapter implements Converter {
  readonly segmentsSpeech = true;
  readonly name: string;

  constructor(
    private readonly backend: PhraseConverter,
    private readonly segmenter: SegmenterOptions,
  ) {
    this.name = backend.name;
  }

  open(opts: StreamOptions): PhraseStream {
    return new PhraseStream(this.backend, new PhraseSegmenter(this.segmenter), opts);
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

export class PhraseStream implements ConverterStream {
  private readonly ctl = new AbortController();
  private closed = false;
  private voice: string;
  /** Stream time (ms) where the last phrase or chunk ended: the gap before the next onset. */
  private lastSpeechEndMs = Number.NEGATIVE_INFINITY;
  readonly stats: PhraseStats = { detected: 0, converted: 0, failed: 0, discarded: 0 };

  constructor(
    private readonly backend: PhraseConverter,
    private readonly segmenter: PhraseSegmenter,
    private readonly opts: StreamOptions,
  ) {
    this.voice = opts.voiceId;
    opts.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  get voiceId(): string {
    return this.voice;
  }

  push(frame: AudioFrame): void {
    if (this.closed) return;
    for (const ev of this.segmenter.push(frame.pcm)) this.onSegment(ev);
  }

  flush(): void {
    if (this.closed) return;
    for (const ev of this.segmenter.flush()) this.onSegment(ev);
  }

  setVoice(voiceId: string): void {
    this.voice = voiceId;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctl.abort(new Error('call ended'));
    this.segmenter.close();
  }

  private onSegment(ev: SegmentEvent): void {
    const log = this.opts.log;
    switch (ev.type) {
      case 'speech-start':
        this.opts.onSpeechStart?.({ atMs: ev.atMs, gapMs: ev.atMs - this.lastSpeechEndMs });
        return;
      case 'discarded':
        this.stats.discarded++;
        metrics.phrases.inc({ outcome: 'too-short' });
        log.debug({ startMs: ev.startMs, endMs: ev.endMs }, 'sound too short for a phrase: not sent');
        return;
      case 'phrase':
        this.stats.detected++;
        this.lastSpeechEndMs = ev.endMs;
        metrics.phrases.inc({ outcome: 'detected' });
        log.debug({ startMs: ev.startMs, endMs: ev.endMs, reason: ev.reason }, 'phrase detected');
        void this.convert(ev.pcm, ev.endMs - ev.startMs);
    }
  }

  /** One chunk: its slot is opened now, in speaking order; its audio fills it as it arrives. */
  private async convert(pcm: Int16Array, durationMs: number): Promise<void> {
    const slot = this.opts.output.openSlot();
    const name = this.backend.name;
    const log = this.opts.log.child({ phrase: slot.name });
    const endedAt = performance.now();
    const signal = AbortSignal.any([this.ctl.signal, slot.signal]);
    let bytes = 0;
    let firstAudioMs: number | undefined;
    try {
      for await (const chunk of this.backend.convert({ pcm, sampleRate: CALL_RATE, voiceId: this.voice, signal, callKey: this.opts.callKey, endedAt, log })) {
        if (bytes === 0) {
          firstAudioMs = performance.now() - endedAt;
          metrics.conversionLatency.observe(firstAudioMs / 1000);
        }
        bytes += chunk.length;
        slot.write(chunk);
      }
      slot.end();
      this.stats.converted++;
      metrics.conversions.inc({ converter: name, result: 'ok' });
      log.info({ inMs: durationMs, outMs: bytes / 8, firstAudioMs: Math.round(firstAudioMs ?? 0) }, 'phrase converted');
    } catch (err) {
      slot.fail();
      if (isAbort(err) || signal.aborted) {
        log.debug('phrase cancelled');
        return;
      }
      this.stats.failed++;
      const e = err instanceof ConversionError ? err : undefined;
      metrics.conversions.inc({ converter: name, result: e?.kind ?? 'internal' });
      log.warn(
        { kind: e?.kind ?? 'internal', status: e?.status, code: e?.code, playedMs: bytes / 8, err: e ? undefined : err },
        `phrase dropped: conversion failed (${(err as Error).message}); the listener hears silence`,
      );
    }
  }
}
