/**
 * The error policy table: what each error means to the retries, the limiter, the circuit and
 * the fallback, and the label it is counted under.
 */
import { describe, expect, it } from 'vitest';
import { abortedError, ConversionError, EMPTY_ANSWER, isAbort, policyOf, STALLED, TOO_MANY_CONCURRENT } from '../../../src/voice/errors.js';

const http = (status: number, code?: string) => ConversionError.fromStatus(status, `answered ${status}`, code === undefined ? {} : { code });

describe('the error policy table', () => {
  it.each([
    [http(429, TOO_MANY_CONCURRENT), 'concurrency', 'requeue', 'neutral', true],
    [http(429, 'system_busy'), 'rate-limited', 'attempts', 'failure', true],
    [http(408), 'timeout', 'attempts', 'failure', true],
    [http(500), 'server', 'attempts', 'failure', true],
    [http(503), 'server', 'attempts', 'failure', true],
    [http(400), 'refused', 'never', 'failure', true],
    [http(422, 'missing'), 'refused', 'never', 'failure', true],
    [http(401), 'auth', 'never', 'auth', true],
    [http(403), 'auth', 'never', 'auth', true],
    [new ConversionError('t', 'timeout'), 'timeout', 'attempts', 'failure', true],
    [new ConversionError('t', 'timeout', { code: STALLED, afterFirstByte: true }), 'stalled', 'never', 'failure', true],
    [new ConversionError('r', 'network', { code: 'ECONNRESET' }), 'network', 'attempts', 'failure', true],
    [new ConversionError('e', 'internal', { status: 200, code: EMPTY_ANSWER }), 'empty-answer', 'attempts', 'failure', true],
    [new ConversionError('bug', 'internal'), 'internal', 'never', 'failure', true],
    [new ConversionError('down', 'circuit-open'), 'circuit-open', 'never', 'neutral', true],
    [new ConversionError('old', 'stale'), 'stale', 'never', 'as-cause', true],
    [abortedError(), 'aborted', 'never', 'neutral', false],
  ] as const)('%s: %s, retry %s, circuit %s, fallback %s', (err, label, retry, circuit, fallback) => {
    expect(err.policy).toMatchObject({ label, retry, circuit, fallback });
    expect(err.retryable).toBe(retry !== 'never');
  });

  it('names the cause of an auth failure from the code ElevenLabs sends, else from the status', () => {
    expect(http(401, 'quota_exceeded').policy.auth).toBe('quota_exceeded');
    expect(http(403, 'quota_exceeded').policy.auth).toBe('quota_exceeded');
    expect(http(401, 'invalid_api_key').policy.auth).toBe('invalid_api_key');
    expect(http(401, 'needs_authorization').policy.auth).toBe('needs_authorization');
    expect(http(401, 'something_new').policy.auth).toBe('unauthorized');
    expect(http(403).policy.auth).toBe('forbidden');
  });

  it('never retries what failed after the first byte, whatever its class', () => {
    const e = new ConversionError('reset', 'network', { afterFirstByte: true });
    expect(e.policy.retry).toBe('attempts');
    expect(e.retryable).toBe(false);
  });

  it('reads anything thrown: a platform AbortError is an abort, anything else internal', () => {
    const platform = new DOMException('The operation was aborted', 'AbortError');
    expect(isAbort(platform)).toBe(true);
    expect(isAbort(abortedError('hang-up'))).toBe(true);
    expect(abortedError('hang-up').cause).toBe('hang-up');
    expect(isAbort(http(500))).toBe(false);
    expect(policyOf(new TypeError('bug')).label).toBe('internal');
    expect(policyOf('a string').label).toBe('internal');
  });

  it('exposes what callers need as fields', () => {
    const e = ConversionError.fromStatus(429, 'x', { code: TOO_MANY_CONCURRENT, retryAfterMs: 1500 });
    expect(e).toMatchObject({ kind: 'http', status: 429, code: TOO_MANY_CONCURRENT, retryAfterMs: 1500, afterFirstByte: false, retryable: true });
  });
});
