/**
 * Circuit breaker: after `failureThreshold` consecutive failures, or at once on an auth failure
 * (401/403), the primary is marked down for a cool-down; meanwhile requests fail fast with
 * ConversionError kind 'circuit-open' (the fallback layer above sends them elsewhere). After
 * the cool-down one probe request is let through (half-open): success closes the circuit,
 * failure opens it again. Aborts and stale drops say nothing about the primary's health.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../observability/logger.js';
import type { PhraseConverter, PhraseRequest } from '../converter.js';
import { ConversionError, isAbort } from '../errors.js';
import type { MaskedAudio } from '../masked.js';
import type { CircuitState, ResilienceStats } from './stats.js';

export interface CircuitOptions {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold?: number;
  /** How long the circuit stays open (default 30 s). */
  cooldownMs?: number;
  /** Cool-down after a 401/403 (default 5 min): a bad key will not fix itself quickly. */
  authCooldownMs?: number;
  stats?: ResilienceStats;
  log?: Logger;
}

type Outcome = 'success' | 'failure' | 'auth-failure' | 'neutral';

function classify(err: unknown): Outcome {
  if (isAbort(err)) return 'neutral';
  if (err instanceof ConversionError) {
    if (err.kind === 'stale' || err.kind === 'circuit-open') return 'neutral';
    if (err.status === 401 || err.status === 403) return 'auth-failure';
  }
  return 'failure';
}

export class CircuitBreakerConverter implements PhraseConverter {
  readonly name: string;
  private state: CircuitState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private probeInFlight = false;

  constructor(
    private readonly inner: PhraseConverter,
    private readonly opts: CircuitOptions = {},
  ) {
    this.name = inner.name;
  }

  get circuit(): CircuitState {
    // report an expired open circuit as half-open: the next request will probe
    return this.state === 'open' && performance.now() >= this.openUntil ? 'half-open' : this.state;
  }

  async *convert(req: PhraseRequest): AsyncGenerator<MaskedAudio, void, undefined> {
    const probe = this.admit();
    let outcome: Outcome = 'neutral';
    let delivered = false;
    try {
      for await (const chunk of this.inner.convert(req)) {
        delivered = true;
        yield chunk;
      }
      outcome = 'success';
    } catch (err) {
      outcome = classify(err);
      throw err;
    } finally {
      // A consumer that stopped reading after audio arrived saw a working primary.
      if (outcome === 'neutral' && delivered) outcome = 'success';
      this.settle(outcome, probe);
    }
  }

  /** Returns whether this request is the half-open probe; throws when the circuit is open. */
  private admit(): boolean {
    if (this.state === 'closed') return false;
    if (this.state === 'open' && performance.now() >= this.openUntil) this.transition('half-open', 'cool-down over');
    if (this.state === 'half-open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return true;
    }
    const inMs = Math.max(0, Math.round(this.openUntil - performance.now()));
    throw new ConversionError(
      this.state === 'open' ? `${this.inner.name} is marked down (retry in ${inMs} ms)` : `${this.inner.name} is being probed`,
      'circuit-open',
      false,
    );
  }

  private settle(outcome: Outcome, probe: boolean): void {
    if (probe) {
      this.probeInFlight = false;
      if (outcome === 'success') {
        this.failures = 0;
        this.transition('closed', 'probe succeeded');
      } else if (outcome !== 'neutral') {
        this.open(outcome, 'probe failed');
      }
      return;
    }
    if (outcome === 'auth-failure') return this.open(outcome, 'authentication failed (401/403)');
    if (this.state !== 'closed') return;
    if (outcome === 'success') this.failures = 0;
    else if (outcome === 'failure' && ++this.failures >= (this.opts.failureThreshold ?? 5)) {
      this.open(outcome, `${this.failures} consecutive failures`);
    }
  }

  private open(outcome: Outcome, reason: string): void {
    const ms = outcome === 'auth-failure' ? (this.opts.authCooldownMs ?? 300_000) : (this.opts.cooldownMs ?? 30_000);
    this.openUntil = Math.max(this.openUntil, performance.now() + ms);
    this.failures = 0;
    this.transition('open', reason);
  }

  private transition(to: CircuitState, reason: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.opts.stats?.record({ type: 'circuit', from, to, reason });
    const log = this.opts.log;
    if (to === 'open') log?.warn({ converter: this.inner.name, from, to, reason }, 'converter circuit opened: using the fallback');
    else log?.info({ converter: this.inner.name, from, to, reason }, 'converter circuit state changed');
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
