/**
 * The outermost layer: a phrase the primary could not convert (circuit open, a permanent
 * error, or retryable errors after the retries) goes to the fallback converter when its
 * error's policy allows it (../errors.ts), FALLBACK=local and the phrase is still fresh, with
 * the request's voice mapped to the fallback's per phrase (their voice ids differ: the preset
 * closest to the phrase's own voice, ../local/closest-preset.ts); otherwise it is
 * dropped. The fallback masks too: raw audio never passes. A failure after audio was delivered
 * ends the phrase there: it is rethrown as is with no fallback, as the listener would hear the
 * start of the phrase twice. An abort is rethrown at once: the call ended, nothing failed.
 */
import type { Logger } from '../../observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { ConversionError, isAbort, policyOf } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import { isFresh } from './freshness.js';
import type { ResilienceStats } from './stats.js';

export interface FallbackOptions {
  /** 'silence' drops instead of falling back. */
  mode: 'local' | 'silence';
  fallback?: PhraseConverter;
  /** The fallback's voice for a phrase's voice (the preset closest to it); wins over fallbackVoiceId. */
  fallbackVoice?: (voiceId: string) => string;
  /** One fallback voice for every phrase (default: the request's voiceId unchanged). */
  fallbackVoiceId?: string;
  maxLagMs: number;
  stats?: ResilienceStats;
  log?: Logger;
}

export class FallbackConverter implements PhraseConverter {
  readonly name: string;
  private closed = false;

  constructor(
    private readonly primary: PhraseConverter,
    private readonly opts: FallbackOptions,
  ) {
    this.name = opts.fallback && opts.mode === 'local' ? `${primary.name}+${opts.fallback.name}` : primary.name;
  }

  async *convert(req: PhraseRequest): AsyncGenerator<MaskedAudio, void, undefined> {
    const { stats, fallback, mode, maxLagMs } = this.opts;
    const log = req.log ?? this.opts.log;
    let delivered = false;
    let why: { label: string; status: number | undefined } | undefined;
    try {
      for await (const chunk of this.primary.convert(req)) {
        delivered = true;
        yield chunk;
      }
      stats?.record({ type: 'success', callKey: req.callKey, via: 'primary' });
      return;
    } catch (err) {
      if (isAbort(err)) throw err;
      const { label, fallback: allowed } = policyOf(err);
      const status = err instanceof ConversionError ? err.status : undefined;
      if (delivered || (err instanceof ConversionError && err.afterFirstByte)) {
        stats?.record({ type: 'truncated', callKey: req.callKey, label });
        if (label === 'stalled') stats?.record({ type: 'stalled', callKey: req.callKey });
        log?.debug({ callKey: req.callKey, label, status }, 'conversion failed mid-phrase: not retried, no fallback');
        throw err;
      }
      if (!allowed || mode !== 'local' || !fallback || !isFresh(req, maxLagMs)) {
        stats?.record({ type: 'dropped', callKey: req.callKey, label });
        // the caller (the bridge) logs the drop with its own context
        log?.debug({ callKey: req.callKey, label, status, err: (err as Error).message }, 'no fallback for this phrase');
        throw err;
      }
      stats?.record({ type: 'fallback', callKey: req.callKey, label, ...(status !== undefined && { status }) });
      why = { label, status };
    }
    const voiceId = this.opts.fallbackVoice?.(req.voiceId) ?? this.opts.fallbackVoiceId ?? req.voiceId;
    log?.info({ callKey: req.callKey, ...why, voice: req.voiceId, fallbackVoice: voiceId, fallback: fallback.name }, 'phrase sent to the fallback converter');
    // The fallback, outside the catch: its own failure is not the primary's.
    try {
      yield* fallback.convert({ ...req, voiceId });
      stats?.record({ type: 'success', callKey: req.callKey, via: 'fallback' });
    } catch (err) {
      if (!isAbort(err)) stats?.record({ type: 'dropped', callKey: req.callKey, label: policyOf(err).label });
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.primary.close(), this.opts.fallback?.close()]);
  }
}
