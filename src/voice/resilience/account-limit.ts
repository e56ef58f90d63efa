/**
 * The ElevenLabs account's concurrency limit as the bridge knows it: the configured
 * ELEVENLABS_MAX_CONCURRENCY, capped by what the API says (`maximum-concurrent-requests`) and,
 * for a while after a 429 too_many_concurrent_requests, by what was in flight when it came
 * (someone else is using the key: leave them their slots). Never below 1.
 */
import { performance } from 'node:perf_hooks';

export interface AccountLimitOptions {
  /** ELEVENLABS_MAX_CONCURRENCY. */
  configured: number;
  /** How long a 429's lowered limit holds (default 30 s). */
  lowerForMs?: number;
  now?: () => number;
}

export class AccountLimit {
  readonly configured: number;
  /** The account's limit from the last answer that carried it. */
  learned: number | undefined;
  private lowered: { value: number; until: number } | undefined;
  private readonly lowerForMs: number;
  private readonly now: () => number;

  constructor(opts: AccountLimitOptions) {
    if (!(opts.configured >= 1)) throw new RangeError('max concurrency must be at least 1');
    this.configured = opts.configured;
    this.lowerForMs = opts.lowerForMs ?? 30_000;
    this.now = opts.now ?? (() => performance.now());
  }

  get value(): number {
    let v = Math.min(this.configured, this.learned ?? Infinity);
    if (this.lowered && this.now() < this.lowered.until) v = Math.min(v, this.lowered.value);
    return Math.max(1, v);
  }

  /** When the lowered limit lifts (performance.now() time), if one holds. */
  get loweredUntil(): number | undefined {
    return this.lowered && this.now() < this.lowered.until ? this.lowered.until : undefined;
  }

  /** maximum-concurrent-requests from an answer. Returns whether the limit changed. */
  learn(max: number): boolean {
    if (!(max >= 1) || max === this.learned) return false;
    const before = this.value;
    this.learned = max;
    return this.value !== before;
  }

  /** A concurrency 429 with `inFlight` requests out (the refused one included): hold one fewer. */
  lower(inFlight: number): number {
    this.lowered = { value: Math.max(1, Math.min(inFlight - 1, this.value)), until: this.now() + this.lowerForMs };
    return this.value;
  }
}
