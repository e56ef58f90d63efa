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

/** The phrase is given up; `cause`: the failure that made it wait, if one did (the circuit counts that). */
export function staleError(req: Pick<PhraseRequest, 'endedAt'>, maxLagMs: number, cause?: unknown): ConversionError {
  return new ConversionError(`phrase dropped: ${Math.round(phraseAgeMs(req))} ms old, over the ${maxLagMs} ms lag budget`, 'stale', {
    ...(cause !== undefined && { cause }),
  });
}
