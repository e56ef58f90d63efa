/**
 * Retries with jittered exponential backoff, honouring Retry-After, only while the phrase is
 * fresh (age + wait < the lag budget); otherwise the phrase is given up as stale. Never
 * retried: permanent errors (401, 403, 422, ...), aborts, and anything after the first byte
 * (the audio already delivered would repeat).
 */
import type { Logger } from '../../observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { ConversionError, isAbort } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import { delay, isFresh, phraseAgeMs, staleError } from './freshness.js';
import type { ResilienceStats } from './stats.js';

export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  maxAttempts?: number;
  /** Backoff before retry n is base·2^(n-1), capped, then jittered to 50..100 % (defaults 100, 1000 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxLagMs: number;
  stats?: ResilienceStats;
  log?: Logger;
}

export function backoffMs(retry: number, base: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** (retry - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** Whether another attempt could help: retryable, nothing delivered yet, not cancelled. */
export function canRetry(err: unknown): err is ConversionError {
  return err instanceof ConversionError && err.retryable && !err.opts.afterFirstByte && !isAbort(err);
}

export class RetryingConverter implements PhraseConverter {
  readonly name: string;

  constructor(
    private readonly inner: PhraseConverter,
    private readonly opts: RetryOptions,
  ) {
    this.name = inner.name;
  }

  async *convert(req: PhraseRequest): AsyncGenerator<MaskedAudio, void, undefined> {
    const { maxAttempts = 3, baseDelayMs = 100, maxDelayMs = 1000, maxLagMs, stats } = this.opts;
    const log = req.log ?? this.opts.log;
    for (let attempt = 1; ; attempt++) {
      let delivered = false;
      try {
        for await (const chunk of this.inner.convert(req)) {
          delivered = true;
          yield chunk;
        }
        return;
      } catch (err) {
        if (delivered || !canRetry(err) || attempt >= maxAttempts) throw err;
        const waitMs = err.opts.retryAfterMs ?? backoffMs(attempt, baseDelayMs, maxDelayMs);
        if (!isFresh(req, maxLagMs, waitMs)) {
          stats?.record({ type: 'stale', callKey: req.callKey, where: 'retry', ageMs: Math.round(phraseAgeMs(req)) });
          log?.debug({ callKey: req.callKey, waitMs, kind: err.kind, status: err.status }, 'not retrying: the phrase would be stale');
          throw staleError(req, maxLagMs, err);
        }
        stats?.record({
          type: 'retry',
          callKey: req.callKey,
          attempt,
          waitMs,
          kind: err.kind,
          ...(err.status !== undefined && { status: err.status }),
          ...(err.opts.code !== undefined && { code: err.opts.code }),
        });
        log?.debug({ callKey: req.callKey, attempt, waitMs, kind: err.kind, status: err.status, code: err.opts.code }, 'retrying phrase');
        await delay(waitMs, req.signal);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
