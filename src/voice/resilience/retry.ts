/**
 * The one retry loop. An error is tried again only when it is retryable (its policy allows it
 * and no audio of the phrase was delivered: ../errors.ts), its budget is not spent, and the
 * phrase stays fresh through the wait (age + wait < the lag budget; otherwise the phrase is
 * given up as stale, with the error as its cause). Two budgets, as the policy says:
 *  - 'attempts', faults that may pass (5xx, 408, a rate limit, a timeout, a reset): maxAttempts
 *    requests in all, waiting Retry-After or a jittered exponential backoff;
 *  - 'requeue', a 429 too_many_concurrent_requests (the account's slots were all taken): the
 *    phrase asks the limiter below for a slot again, up to maxRequeues times, after Retry-After
 *    or a shorter backoff. These are no fault of the service and spend none of the attempts.
 * The wait ends early when the phrase's signal aborts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { abortedError, ConversionError } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import { isFresh, phraseAgeMs, staleError } from './freshness.js';
import type { ResilienceStats } from './stats.js';

export interface RetryOptions {
  /** Requests in all for faults, the first included (default 3). */
  maxAttempts?: number;
  /** Backoff before retry n is base·2^(n-1), capped, then jittered to 50..100 % (defaults 100, 1000 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Concurrency 429s one phrase may meet before it is given up (default 8). */
  maxRequeues?: number;
  /** The first requeue's backoff (default 50 ms; capped by maxDelayMs). */
  requeueDelayMs?: number;
  maxLagMs: number;
  stats?: ResilienceStats;
  log?: Logger;
}

export function backoffMs(retry: number, base: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** (retry - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** timers/promises' setTimeout, rejecting with the aborted ConversionError on signal. */
async function delay(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal.aborted ? abortedError(signal.reason) : err;
  }
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
    const { maxAttempts = 3, baseDelayMs = 100, maxDelayMs = 1000, maxRequeues = 8, requeueDelayMs = 50, maxLagMs, stats } = this.opts;
    const log = req.log ?? this.opts.log;
    const spent = { attempts: 0, requeue: 0 };
    for (;;) {
      let delivered = false;
      try {
        for await (const chunk of this.inner.convert(req)) {
          delivered = true;
          yield chunk;
        }
        return;
      } catch (err) {
        if (delivered || !(err instanceof ConversionError) || !err.retryable) throw err;
        const budget = err.policy.retry === 'requeue' ? 'requeue' : 'attempts';
        const n = ++spent[budget];
        if (n >= (budget === 'requeue' ? maxRequeues : maxAttempts)) {
          log?.debug({ callKey: req.callKey, label: err.policy.label, [budget]: n }, 'not retrying: the phrase has used its budget');
          throw err;
        }
        const waitMs = err.retryAfterMs ?? (budget === 'requeue' ? backoffMs(n, requeueDelayMs, maxDelayMs) : backoffMs(n, baseDelayMs, maxDelayMs));
        const what = { callKey: req.callKey, waitMs, label: err.policy.label, status: err.status, code: err.code };
        if (!isFresh(req, maxLagMs, waitMs)) {
          stats?.record({ type: 'stale', callKey: req.callKey, where: 'retry', ageMs: Math.round(phraseAgeMs(req)) });
          log?.debug(what, 'not retrying: the phrase would be stale');
          throw staleError(req, maxLagMs, err);
        }
        const attempt = spent.attempts + spent.requeue;
        stats?.record({
          type: 'retry',
          callKey: req.callKey,
          attempt,
          waitMs,
          label: err.policy.label,
          ...(err.status !== undefined && { status: err.status }),
          ...(err.code !== undefined && { code: err.code }),
        });
        log?.debug({ ...what, attempt }, 'retrying phrase');
        await delay(waitMs, req.signal);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
