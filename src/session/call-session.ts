/**
 * One call, whatever its shape (a hotline stream, or a two-party line's customer and agent
 * legs): one AbortController whose signal every stage of the call hangs on, one child logger,
 * one idempotent close. The manager counts sessions: MAX_CALLS and the calls gauge count calls,
 * not streams.
 */
import type { Logger } from '../observability/logger.js';

export type CallKind = 'hotline' | 'line' | (string & {});

export class CallSession {
  private readonly ctl = new AbortController();
  private readonly closers: Array<(reason: string) => void> = [];
  /** Whether a stream of this call is still expected (a line waiting for a leg): admitted past MAX_CALLS. */
  awaitingStream = false;
  readonly startedAt = performance.now();
  /** The caller's last four digits, when known (what the operator console shows; never more). */
  caller: string | undefined;
  /** The voice the call's masked speaker has now, set by its call type (the operator console). */
  voice: (() => string | undefined) | undefined;

  constructor(
    /** The CallSid that opened the call (the caller's). */
    readonly id: string,
    readonly kind: CallKind,
    readonly log: Logger,
  ) {}

  /** Aborted when the call ends: cancels every conversion, timer and request of the call. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  get isClosed(): boolean {
    return this.ctl.signal.aborted;
  }

  /** Runs at close, in registration order; an error in one does not stop the others. Runs at once if closed. */
  onClose(fn: (reason: string) => void): void {
    if (this.isClosed) this.run(fn, String(this.ctl.signal.reason));
    else this.closers.push(fn);
  }

  /** Ends the call. Safe to call any number of times, from anywhere. */
  close(reason: string): void {
    if (this.isClosed) return;
    this.ctl.abort(reason);
    for (const fn of this.closers.splice(0)) this.run(fn, reason);
  }

  private run(fn: (reason: string) => void, reason: string): void {
    try {
      fn(reason);
    } catch (err) {
      this.log.error({ err }, 'error while closing a call');
    }
  }
}
