/**
 * Conversion errors and the one table that says what each kind of error means to every layer
 * (the ElevenLabs client, the retry loop, the limiter, the circuit breaker, the fallback, the
 * metrics). No other module decides from statuses or codes: they read the error's `policy`.
 *
 * An error is described by what happened (`kind`, the HTTP `status`, ElevenLabs' `code`) and
 * when (`afterFirstByte`); its policy is the first row of POLICIES that matches. A failure
 * after the first byte is never retried nor sent to the fallback, whatever its row says: the
 * listener would hear the start of the phrase twice.
 */

export type ConversionErrorKind =
  | 'http' // the converter answered with an error status
  | 'timeout' // connect, first byte, idle or total deadline passed
  | 'network' // reset, refused, closed mid-stream
  | 'aborted' // the call ended or the phrase was cancelled (not a failure)
  | 'stale' // the phrase became too old to be worth converting
  | 'circuit-open' // the converter is marked down
  | 'internal'; // a bug or an unexpected answer

/** Why ElevenLabs refused the key (401/403), as it says it. */
export type AuthCause = 'quota_exceeded' | 'invalid_api_key' | 'needs_authorization' | 'unauthorized' | 'forbidden';

/** ElevenLabs' code for a 429 over the account's concurrency (the other 429 is system_busy). */
export const TOO_MANY_CONCURRENT = 'too_many_concurrent_requests';
/** Code of an answer that stopped mid-phrase (no byte within the idle timeout). */
export const STALLED = 'stalled';
/** Code of a 200 answer that carried no audio. */
export const EMPTY_ANSWER = 'empty_answer';

/** Names a class of error in logs, events and metric labels. */
export type ErrorLabel =
  | 'aborted'
  | 'stale'
  | 'circuit-open'
  | 'concurrency'
  | 'rate-limited'
  | 'auth'
  | 'server'
  | 'refused'
  | 'timeout'
  | 'stalled'
  | 'network'
  | 'empty-answer'
  | 'internal';

/** What the layers do with one class of error. */
export interface ErrorPolicy {
  readonly label: ErrorLabel;
  /**
   * Whether another attempt could help, and from which budget:
   * 'attempts': a fault that may pass (RetryOptions.maxAttempts);
   * 'requeue': the account's slots were all taken: the limiter lowers its limit and the phrase
   *   waits for a slot again (RetryOptions.maxRequeues; the service is fine);
   * 'never': the same request would fail the same way, or there is nobody left to serve.
   */
  readonly retry: 'attempts' | 'requeue' | 'never';
  /** What a phrase that ended with it tells the circuit breaker; 'as-cause': what its cause tells. */
  readonly circuit: 'neutral' | 'failure' | 'auth' | 'as-cause';
  /** Whether the fallback may mask the phrase instead (while it is fresh and nothing was delivered). */
  readonly fallback: boolean;
  /** For 'auth': what to tell the operator. */
  readonly auth?: AuthCause;
}

interface Row extends ErrorPolicy {
  readonly kind: ConversionErrorKind;
  /** Any of these statuses ('5xx': 500-599); unset: any status or none. */
  readonly status?: readonly number[] | '5xx';
  /** Unset: any code or none. */
  readonly code?: string;
}

const NOT_AGAIN = { retry: 'never', circuit: 'failure', fallback: true } as const;
const AGAIN = { retry: 'attempts', circuit: 'failure', fallback: true } as const;
const KEY = { retry: 'never', circuit: 'auth', fallback: true } as const;
const AUTH = [401, 403];

/** First match wins. */
const POLICIES: readonly Row[] = [
  { kind: 'aborted', label: 'aborted', retry: 'never', circuit: 'neutral', fallback: false },
  // a phrase given up for lack of time: what made it wait (if anything) is what the circuit counts
  { kind: 'stale', label: 'stale', retry: 'never', circuit: 'as-cause', fallback: true },
  { kind: 'circuit-open', label: 'circuit-open', retry: 'never', circuit: 'neutral', fallback: true },
  // every slot of the account is taken (by this fleet or another user of the key): not a fault
  { kind: 'http', status: [429], code: TOO_MANY_CONCURRENT, label: 'concurrency', retry: 'requeue', circuit: 'neutral', fallback: true },
  { kind: 'http', status: [429], label: 'rate-limited', ...AGAIN },
  { kind: 'http', status: [408], label: 'timeout', ...AGAIN },
  { kind: 'http', status: AUTH, code: 'quota_exceeded', label: 'auth', ...KEY, auth: 'quota_exceeded' },
  { kind: 'http', status: AUTH, code: 'invalid_api_key', label: 'auth', ...KEY, auth: 'invalid_api_key' },
  { kind: 'http', status: AUTH, code: 'needs_authorization', label: 'auth', ...KEY, auth: 'needs_authorization' },
  { kind: 'http', status: [401], label: 'auth', ...KEY, auth: 'unauthorized' },
  { kind: 'http', status: [403], label: 'auth', ...KEY, auth: 'forbidden' },
  { kind: 'http', status: '5xx', label: 'server', ...AGAIN },
  // 400, 404, 422 (a voice or a setting it refuses): the same request fails the same way
  { kind: 'http', label: 'refused', ...NOT_AGAIN },
  { kind: 'timeout', code: STALLED, label: 'stalled', ...NOT_AGAIN },
  { kind: 'timeout', label: 'timeout', ...AGAIN },
  { kind: 'network', label: 'network', ...AGAIN },
  { kind: 'internal', code: EMPTY_ANSWER, label: 'empty-answer', ...AGAIN },
  { kind: 'internal', label: 'internal', ...NOT_AGAIN },
];

function lookup(kind: ConversionErrorKind, status: number | undefined, code: string | undefined): ErrorPolicy {
  const row = POLICIES.find(
    (r) =>
      r.kind === kind &&
      (r.code === undefined || r.code === code) &&
      (r.status === undefined || (status !== undefined && (r.status === '5xx' ? status >= 500 && status <= 599 : r.status.includes(status)))),
  );
  // every kind has a catch-all row
  return row!;
}

export interface ConversionErrorDetails {
  status?: number;
  /** ElevenLabs' detail.status (e.g. too_many_concurrent_requests), a transport code, or one of ours. */
  code?: string;
  /** From Retry-After, in ms. */
  retryAfterMs?: number;
  /** Some audio of this phrase was delivered already. */
  afterFirstByte?: boolean;
  cause?: unknown;
}

export class ConversionError extends Error {
  override readonly name = 'ConversionError';
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly afterFirstByte: boolean;
  /** This error's row of the table. */
  readonly policy: ErrorPolicy;
  /** Another attempt could help: its policy allows one and nothing of the phrase was delivered. */
  readonly retryable: boolean;

  constructor(
    message: string,
    readonly kind: ConversionErrorKind,
    details: ConversionErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
    this.afterFirstByte = details.afterFirstByte ?? false;
    this.policy = lookup(kind, this.status, this.code);
    this.retryable = this.policy.retry !== 'never' && !this.afterFirstByte;
  }

  static fromStatus(status: number, message: string, extra: Pick<ConversionErrorDetails, 'code' | 'retryAfterMs'> = {}): ConversionError {
    return new ConversionError(message, 'http', { status, ...extra });
  }
}

/** The one error for a phrase cancelled by its signal (the call ended, the phrase was cleared). */
export function abortedError(reason?: unknown): ConversionError {
  return new ConversionError('phrase cancelled', 'aborted', reason === undefined ? {} : { cause: reason });
}

/** An AbortError from the platform (fetch, timers) counts as our 'aborted'. */
const isPlatformAbort = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR');

const UNKNOWN = lookup('internal', undefined, undefined);
const ABORTED = lookup('aborted', undefined, undefined);

/** The policy of anything thrown: a ConversionError's own, else 'aborted' or 'internal'. */
export function policyOf(err: unknown): ErrorPolicy {
  if (err instanceof ConversionError) return err.policy;
  return isPlatformAbort(err) ? ABORTED : UNKNOWN;
}

/** The call ended or the phrase was cancelled: not a failure of anything. */
export function isAbort(err: unknown): boolean {
  return policyOf(err) === ABORTED;
}
