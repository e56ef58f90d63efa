/**
 * Conversion errors, each saying whether a retry can help (after livekit's APIError).
 * 4xx are permanent except 408 and 429; 5xx, resets and timeouts are retryable.
 */
export type ConversionErrorKind =
  | 'http' // the converter answered with an error status
  | 'timeout' // connect, first byte or total deadline passed
  | 'network' // reset, refused, closed mid-stream
  | 'aborted' // the call ended or the phrase was cancelled (not a failure)
  | 'stale' // the phrase became too old to be worth converting
  | 'circuit-open' // the converter is marked down
  | 'internal'; // a bug or an unexpected answer

export class ConversionError extends Error {
  override name = 'ConversionError';
  constructor(
    message: string,
    readonly kind: ConversionErrorKind,
    readonly retryable: boolean,
    readonly opts: {
      status?: number;
      /** ElevenLabs' detail.status, e.g. too_many_concurrent_requests or system_busy */
      code?: string;
      /** From Retry-After, in ms */
      retryAfterMs?: number;
      /** True once any audio of this phrase has been delivered: a retry would repeat it. */
      afterFirstByte?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: opts.cause });
  }

  get status(): number | undefined {
    return this.opts.status;
  }

  static fromStatus(status: number, message: string, extra: { code?: string; retryAfterMs?: number } = {}): ConversionError {
    const retryable = status === 408 || status === 429 || status >= 500;
    return new ConversionError(message, 'http', retryable, { status, ...extra });
  }
}

/** ConversionError code of an answer that stopped mid-phrase (no byte within the idle timeout). */
export const STALLED = 'stalled';

/** ElevenLabs' code for a 429 over the account's concurrency (the other 429 is system_busy). */
export const TOO_MANY_CONCURRENT = 'too_many_concurrent_requests';

/** A 429 that means "every slot of the account is taken": wait for one; the service is fine. */
export function isConcurrencyRefusal(err: unknown): err is ConversionError {
  return err instanceof ConversionError && err.status === 429 && err.opts.code === TOO_MANY_CONCURRENT;
}

export function isAbort(err: unknown): boolean {
  return (
    (err instanceof ConversionError && err.kind === 'aborted') ||
    (err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR'))
  );
}
