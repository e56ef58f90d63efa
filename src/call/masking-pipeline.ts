/**
 * One masked direction of a call: a speaker's 20 ms mu-law frames in, masked audio out to a
 * Playout. The stages (re-framer -> VAD phrase segmenter -> converter -> ordered playout)
 * do not know which leg they serve: hotline mode plays back to the same stream, two-party
 * mode to the other leg.
 *
 * Fail closed: the only audio this class hands to playout is what a converter returned
 * (MaskedAudio). A failed, timed-out or cancelled phrase leaves its slot silent.
 */
import { Framer } from '../audio/framer.js';
import { FRAME_BYTES_8K, mulawDecode } from '../audio/mulaw.js';
import { resample } from '../audio/resampler.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { Playout, PlayoutSlot } from '../playout/playout.js';
import { PhraseSegmenter, type SegmentEvent, type SegmenterOptions } from '../vad/index.js';
import type { FrameStream, PhraseConverter, StreamingConverter } from '../voice/converter.js';
import { ConversionError, isAbort } from '../voice/errors.js';

export type MaskingMode =
  | { kind: 'phrase'; converter: PhraseConverter }
  | { kind: 'streaming'; converter: StreamingConverter };

export interface PipelineOptions {
  mode: MaskingMode;
  segmenter: SegmenterOptions;
  playout: Playout;
  voiceId: string;
  seed?: number;
  /** Fair-queueing key toward the converter: the call's sid. */
  callKey: string;
  log: Logger;
}

export interface PhraseStats {
  detected: number;
  converted: number;
  failed: number;
  discarded: number;
}

export class MaskingPipeline {
  private readonly framer = new Framer(FRAME_BYTES_8K);
  private readonly segmenter: PhraseSegmenter;
  private readonly ctl = new AbortController();
  private readonly stream: FrameStream | undefined;
  private readonly liveSlot: PlayoutSlot | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private voiceId: string;
  private closed = false;
  readonly stats: PhraseStats = { detected: 0, converted: 0, failed: 0, discarded: 0 };

  constructor(private readonly opts: PipelineOptions) {
    this.voiceId = opts.voiceId;
    this.segmenter = new PhraseSegmenter(opts.segmenter);
    if (opts.mode.kind === 'streaming') {
      this.stream = opts.mode.converter.openStream({ voiceId: opts.voiceId, seed: opts.seed, log: opts.log });
      this.liveSlot = opts.playout.openSlot('live');
    }
  }

  get converterName(): string {
    return this.opts.mode.converter.name;
  }

  get currentVoice(): string {
    return this.voiceId;
  }

  /** Audio from the speaker: any length, re-framed to 20 ms. */
  push(payload: Uint8Array): void {
    if (this.closed) return;
    this.framer.push(payload, (frame) => this.onFrame(frame));
  }

  setVoice(voiceId: string): void {
    this.voiceId = voiceId;
    this.stream?.setVoice(voiceId);
  }

  /** Stops everything now: pending conversions are cancelled, nothing more is played. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctl.abort(new Error('call ended'));
    this.segmenter.close();
    this.stream?.close();
  }

  /** Resolves when every started conversion has settled (tests, draining). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private onFrame(frame: Uint8Array): void {
    // A send can end the call from inside this loop (the peer stopped reading): stop there.
    if (this.closed) return;
    if (this.stream && this.liveSlot) this.liveSlot.write(this.stream.push(frame));
    if (this.closed) return;
    for (const ev of this.segmenter.push(frame)) {
      if (this.closed) return;
      this.onSegment(ev);
    }
  }

  private onSegment(ev: SegmentEvent): void {
    const log = this.opts.log;
    switch (ev.type) {
      case 'speech-start':
        if (this.opts.mode.kind === 'phrase') this.opts.playout.bargeIn();
        return;
      case 'discarded':
        this.stats.discarded++;
        metrics.phrases.inc({ outcome: 'too-short' });
        log.debug({ startMs: ev.startMs, endMs: ev.endMs }, 'sound too short for a phrase: not sent');
        return;
      case 'phrase': {
        this.stats.detected++;
        metrics.phrases.inc({ outcome: 'detected' });
        log.debug({ startMs: ev.startMs, endMs: ev.endMs, reason: ev.reason }, 'phrase detected');
        if (this.liveSlot) {
          this.liveSlot.mark(`phrase-${this.stats.detected}`);
          this.stats.converted++;
          return;
        }
        const p = this.convertPhrase(ev.mulaw, ev.endMs - ev.startMs).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
        return;
      }
    }
  }

  private async convertPhrase(mulaw: Uint8Array, durationMs: number): Promise<void> {
    if (this.opts.mode.kind !== 'phrase') return;
    const converter = this.opts.mode.converter;
    const slot = this.opts.playout.openSlot();
    const log = this.opts.log.child({ phrase: slot.name });
    const endedAt = performance.now();
    const signal = AbortSignal.any([this.ctl.signal, slot.signal]);
    let bytes = 0;
    let firstAudioMs: number | undefined;
    try {
      const pcm16k = resample(mulawDecode(mulaw), 8000, 16000);
      for await (const chunk of converter.convert({
        pcm16k,
        voiceId: this.voiceId,
        seed: this.opts.seed,
        signal,
        callKey: this.opts.callKey,
        endedAt,
        log,
      })) {
        if (bytes === 0) {
          firstAudioMs = performance.now() - endedAt;
          metrics.conversionLatency.observe(firstAudioMs / 1000);
        }
        bytes += chunk.length;
        slot.write(chunk);
      }
      slot.end();
      this.stats.converted++;
      metrics.conversions.inc({ converter: converter.name, result: 'ok' });
      log.info({ inMs: durationMs, outMs: bytes / 8, firstAudioMs: Math.round(firstAudioMs ?? 0) }, 'phrase converted');
    } catch (err) {
      slot.fail();
      if (isAbort(err) || signal.aborted) {
        log.debug('phrase cancelled');
        return;
      }
      this.stats.failed++;
      const e = err instanceof ConversionError ? err : undefined;
      metrics.conversions.inc({ converter: converter.name, result: e?.kind ?? 'internal' });
      log.warn(
        { kind: e?.kind ?? 'internal', status: e?.status, code: e?.opts.code, playedMs: bytes / 8, err: e ? undefined : err },
        `phrase dropped: conversion failed (${(err as Error).message}); the listener hears silence`,
      );
    }
  }
}
