/**
 * Circuit breaker, measured in phrases. It sits above the retries, so it sees one outcome per
 * phrase: a phrase that failed after its retries is one failure. After `failureThreshold`
 * failed phrases in a row (default 2), or at once on an auth failure (401/403), the primary is
 * marked down for a cool-down; meanwhile phrases fail fast with ConversionError kind
 * 'circuit-open' (the fallback layer above masks them with the embedded engine or drops them).
 *
 * The cool-down is short and grows while the primary stays down: 1 s, then ×1.6 per failed
 * probe up to 30 s (a 429's Retry-After stretches it, within the cap). It counts from the
 * moment the failed phrase was sent, so a phrase that took its whole timeout to fail has
 * already served most of it. Auth failures (401/403: a bad key, exhausted credits) wait 1 s,
 * 2 s and 5 s (a key being rotated, a glitch), then 15 s and 30 s from then on: a topped-up quota
 * or a fixed key is noticed within half a minute. When the cool-down is over, the next live
 * phrase is the half-open probe: converted if the primary is back (the circuit closes),
 * otherwise it fails over like the others and the circuit re-opens for the next, longer
 * cool-down. What a phrase's error says of the primary (a failure, an auth failure, or
 * nothing: an abort, a queue-stale drop, a concurrency 429) is its policy's (../errors.ts).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { ConversionError, policyOf, type AuthCause } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import type { CircuitState, ResilienceStats } from './stats.js';

export interface CircuitOptions {
  /** Failed phrases in a row that open the circuit (default 2). */
  failureThreshold?: number;
  /** First cool-down (default 1000 ms). */
  cooldownMs?: number;
  /** Each failed probe multiplies the cool-down by this (default 1.6). */
  cooldownGrowth?: number;
  /** Longest cool-down (default 30 s). */
  maxCooldownMs?: number;
  /** Cool-downs after successive 401/403s (default 1 s, 2 s, 5 s, 15 s, 30 s; the last repeats). */
  authCooldownsMs?: number[];
  stats?: ResilienceStats;
  log?: Logger;
}

type Outcome = { kind: 'success' } | { kind: 'neutral' } | { kind: 'failure'; retryAfterMs?: number } | { kind: 'auth'; cause: AuthCause };

const AUTH_HELP: Record<AuthCause, string> = {
  quota_exceeded: 'ElevenLabs credits are exhausted (401 quota_exceeded): top up the account or raise its quota; the bridge probes again with a live phrase',
  invalid_api_key: 'ElevenLabs refused the key (401 invalid_api_key): check ELEVENLABS_API_KEY; the bridge probes again with a live phrase',
  needs_authorization: 'ElevenLabs saw no API key (401 needs_authorization): set ELEVENLABS_API_KEY; the bridge probes again with a live phrase',
  unauthorized: 'ElevenLabs answered 401: check ELEVENLABS_API_KEY and the account; the bridge probes again with a live phrase',
  forbidden: 'ElevenLabs answered 403: the key lacks permission for speech-to-speech or this voice; the bridge probes again with a live phrase',
};

/** One phrase's outcome, as the error's policy says (a stale drop counts as what made it wait, if anything did). */
export function classifyOutcome(err: unknown): Outcome {
  const policy = policyOf(err);
  switch (policy.circuit) {
    case 'neutral':
      return { kind: 'neutral' };
    case 'as-cause':
      return err instanceof Error && err.cause !== undefined ? classifyOutcome(err.cause) : { kind: 'neutral' };
    case 'auth':
      return { kind: 'auth', cause: policy.auth ?? 'unauthorized' };
    case 'failure': {
      const retryAfterMs = err instanceof ConversionError ? err.retryAfterMs : undefined;
      return { kind: 'failure', ...(retryAfterMs !== undefined && { retryAfterMs }) };
    }
  }
}

export class CircuitBreakerConverter implements PhraseConverter {
  readonly name: string;
  private state: CircuitState = 'closed';
  private failures = 0;
  private openUntil = 0;
  /** Cool-downs in a row without a success: sets the next cool-down's length. */
  private opens = 0;
  private probeInFlight = false;

  constructor(
    private readonly inner: PhraseConverter,
    private readonly opts: CircuitOptions = {},
  ) {
    this.name = inner.name;
  }

  get circuit(): CircuitState {
    // report an expired open circuit as half-open: the next phrase will probe
    return this.state === 'open' && performance.now() >= this.openUntil ? 'half-open' : this.state;
  }

  async *convert(req: PhraseRequest): AsyncGenerator<MaskedAudio, void, undefined> {
    const probe = this.admit();
    const sentAt = performance.now();
    let outcome: Outcome = { kind: 'neutral' };
    let delivered = false;
    try {
      for await (const chunk of this.inner.convert(req)) {
        delivered = true;
        yield chunk;
      }
      outcome = { kind: 'success' };
    } catch (err) {
      outcome = classifyOutcome(err);
      throw err;
    } finally {
      // A consumer that stopped reading after audio arrived saw a working primary.
      if (outcome.kind === 'neutral' && delivered) outcome = { kind: 'success' };
      this.settle(outcome, probe, sentAt);
    }
  }

  /** Returns whether this phrase is the half-open probe; throws when the circuit is open. */
  private admit(): boolean {
    if (this.state === 'closed') return false;
    if (this.state === 'open' && performance.now() >= this.openUntil) this.transition('half-open', 'cool-down over: the next phrase probes');
    if (this.state === 'half-open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return true;
    }
    const inMs = Math.max(0, Math.round(this.openUntil - performance.now()));
    throw new ConversionError(
      this.state === 'open' ? `${this.inner.name} is marked down (next probe in ${inMs} ms)` : `${this.inner.name} is being probed`,
      'circuit-open',
    );
  }

  private settle(outcome: Outcome, probe: boolean, sentAt: number): void {
    if (probe) this.probeInFlight = false;
    if (outcome.kind === 'neutral') return;
    if (outcome.kind === 'success') {
      this.failures = 0;
      if (this.state !== 'closed') {
        this.opens = 0;
        this.transition('closed', probe ? 'probe succeeded' : 'a phrase succeeded');
      }
      return;
    }
    if (outcome.kind === 'auth') return this.open(outcome, probe ? `probe failed: ${outcome.cause}` : outcome.cause, sentAt);
    if (probe) return this.open(outcome, 'probe failed', sentAt);
    if (this.state === 'closed' && ++this.failures >= (this.opts.failureThreshold ?? 2)) {
      this.open(outcome, `${this.failures} phrases failed in a row`, sentAt);
    }
  }

  private cooldown(outcome: Outcome): number {
    const max = this.opts.maxCooldownMs ?? 30_000;
    if (outcome.kind === 'auth') {
      const steps = this.opts.authCooldownsMs ?? [1000, 2000, 5000, 15_000, 30_000];
      return Math.min(max, steps[Math.min(this.opens, steps.length - 1)] ?? max);
    }
    const grown = (this.opts.cooldownMs ?? 1000) * (this.opts.cooldownGrowth ?? 1.6) ** this.opens;
    const retryAfter = outcome.kind === 'failure' ? (outcome.retryAfterMs ?? 0) : 0;
    return Math.min(max, Math.max(grown, retryAfter));
  }

  private open(outcome: Outcome, reason: string, sentAt: number): void {
    const ms = Math.round(this.cooldown(outcome));
    this.opens++;
    this.failures = 0;
    this.openUntil = Math.max(this.openUntil, sentAt + ms);
    const log = this.opts.log;
    if (outcome.kind === 'auth') log?.error({ converter: this.inner.name, cause: outcome.cause, nextProbeInMs: ms }, AUTH_HELP[outcome.cause]);
    this.transition('open', reason, { cooldownMs: ms, ...(outcome.kind === 'auth' && { cause: outcome.cause }) });
  }

  private transition(to: CircuitState, reason: string, extra: { cooldownMs?: number; cause?: AuthCause } = {}): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.opts.stats?.record({ type: 'circuit', from, to, reason, ...extra });
    const log = this.opts.log;
    if (to === 'open') log?.warn({ converter: this.inner.name, from, to, reason, ...extra }, 'converter circuit opened: using the fallback');
    else log?.info({ converter: this.inner.name, from, to, reason }, 'converter circuit state changed');
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
