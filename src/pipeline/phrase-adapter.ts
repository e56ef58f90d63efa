/**
 * PhraseStreamAdapter: a phrase backend (a whole phrase in, converted audio out) as a
 * streaming Converter — the shape of livekit agents-js `stt/stream_adapter.ts`, which turns a
 * batch STT plus a VAD into a stream.
 *
 * It owns the VAD segmentation (./vad/): a turn is cut into phrases at the hangover and,
 * while it goes on, into chunks at micro-pauses or at the chunk limit. Each chunk is sent as
 * soon as it closes; several chunks of a call may be in flight at once (the backend's fair
 * limiter bounds them); each has its own slot, opened in speaking order, so they play strictly
 * in order, each right after the one before, with no overlap and no repeated audio.
 *
 * Fail closed, in order: a chunk that fails or times out fails its slot at once (the listener
 * hears silence there) and the chunks after it still play. The stream's signal (hang-up) or
 * clearing a slot (the listener barged in) cancels the requests in flight and their timers.
 * Barge-in is not decided here: the adapter reports each speech onset (onSpeechStart) and the
 * call decides whose playout it clears.
 */
import { CALL_RATE, type PhraseConverter } from '../voice/converter.js';
import type { AudioFrame, Converter, ConverterStream, StreamOptions } from './contracts.js';
import { ConversionError, isAbort } from '../voice/errors.js';
import { metrics } from '../observability/metrics.js';
import { OnsetTracker, PhraseSegmenter, type SegmentEvent, type SegmenterOptions } from './vad/index.js';

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

class PhraseStream implements ConverterStream {
  private closed = false;
  private voice: string;
  private readonly onsets = new OnsetTracker();

  constructor(
    private readonly backend: PhraseConverter,
    private readonly segmenter: PhraseSegmenter,
    private readonly opts: StreamOptions,
  ) {
    this.voice = opts.voiceId;
    if (opts.signal.aborted) this.stop();
    else opts.signal.addEventListener('abort', () => this.stop(), { once: true });
  }

  get voiceId(): string {
    return this.voice;
  }

  push(frame: AudioFrame): void {
    if (this.closed) return;
    for (const ev of this.segmenter.push(frame.pcm)) this.onSegment(ev);
  }

  setVoice(voiceId: string): void {
    this.voice = voiceId;
  }

  private stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.segmenter.close();
  }

  private onSegment(ev: SegmentEvent): void {
    const log = this.opts.log;
    const onset = this.onsets.see(ev);
    switch (ev.type) {
      case 'speech-start':
        if (onset) this.opts.onSpeechStart?.(onset);
        return;
      case 'discarded':
        metrics.phrases.inc({ outcome: 'too-short' });
        log.debug({ startMs: ev.startMs, endMs: ev.endMs }, 'sound too short for a phrase: not sent');
        return;
      case 'phrase':
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
    const signal = AbortSignal.any([this.opts.signal, slot.signal]);
    let bytes = 0;
    let firstAudioMs: number | undefined;
    try {
      for await (const chunk of this.backend.convert({ pcm, sampleRate: CALL_RATE, voiceId: this.voice, signal, callKey: this.opts.callKey, endedAt, log, ...(this.opts.persona && { personaSeed: this.opts.persona.seed }) })) {
        if (bytes === 0) {
          firstAudioMs = performance.now() - endedAt;
          metrics.conversionLatency.observe(firstAudioMs / 1000);
        }
        bytes += chunk.length;
        slot.write(chunk);
      }
      slot.end();
      metrics.conversions.inc({ converter: name, result: 'ok' });
      log.info({ inMs: durationMs, outMs: bytes / 8, firstAudioMs: Math.round(firstAudioMs ?? 0) }, 'phrase converted');
    } catch (err) {
      slot.fail();
      if (isAbort(err) || signal.aborted) {
        log.debug('phrase cancelled');
        return;
      }
      const e = err instanceof ConversionError ? err : undefined;
      metrics.conversions.inc({ converter: name, result: e?.kind ?? 'internal' });
      log.warn(
        { kind: e?.kind ?? 'internal', status: e?.status, code: e?.code, playedMs: bytes / 8, err: e ? undefined : err },
        `phrase dropped: conversion failed (${(err as Error).message}); the listener hears silence`,
      );
    }
  }
}
