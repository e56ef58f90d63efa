/** The lag budget: a phrase older than ELEVENLABS_MAX_LAG_MS is not worth converting any more. */
import { performance } from 'node:perf_hooks';
import type { PhraseRequest } from '../converter.js';
import { ConversionError } from '../errors.js';

export function phraseAgeMs(req: Pick<PhraseRequest, 'endedAt'>): number {
  return performance.now() - req.endedAt;
}

/** Fresh if age + waitMs < maxLagMs. A maxLagMs of 0 turns the check off. */
export function isFresh(req: Pick<PhraseRequest, 'endedAt'>, maxLagMs: number, waitMs = 0): boolean {
  return maxLagMs <= 0 || phraseAgeMs(req) + waitMs < maxLagMs;
}

export function staleError(req: Pick<PhraseRequest, 'endedAt'>, maxLagMs: number, cause?: unknown): ConversionError {
  return new ConversionError(`phrase dropped: ${Math.round(phraseAgeMs(req))} ms old, over the ${maxLagMs} ms lag budget`, 'stale', false, {
    ...(cause !== undefined && { cause }),
  });
}

export function abortedError(): ConversionError {
  return new ConversionError('phrase cancelled', 'aborted', false);
}

/** setTimeout as a promise that rejects with an aborted ConversionError on signal. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortedError());
    const onAbort = () => {
      clearTimeout(t);
      reject(abortedError());
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
