/**
 * One round of dialling for a waiting caller: the agents presence claimed for it are rung at
 * once (one agent, or every available one with strategy ringall); the first to accept wins and
 * the others are cancelled. A state machine over REST calls and Twilio's status callbacks.
 *
 * Per agent call: placed (paced: Twilio's outbound call rate) -> ringing (Twilio's Timeout =
 * ringTimeoutS; our own timer adds a grace in case the callback never comes) -> answered
 * (Twilio's `answered` event: the ring timer stops; with screening the agent now hears the
 * whisper and has acceptTimeoutS to press 1) -> accepted (the room joins the agent) or a
 * failure outcome. Only the status events used are requested: `answered` and the final ones.
 *
 * A REST answer that arrives after its call was given up (or another agent won, or the round
 * stopped) cancels that call. A status callback that arrives before the REST answer is kept
 * until it does.
 */
import type { Logger } from '../../observability/logger.js';
import { maskPhone, maskPhonesIn } from '../../observability/logger.js';
import type { CallControl } from './call-control.js';

/** Past Twilio's ring timeout (or the accept time), how long to wait for its callback before giving up. */
export const RING_GRACE_S = 5;

/** Twilio's final statuses for a call that never connected. */
const FAILED_STATUSES = new Set(['busy', 'failed', 'no-answer', 'canceled']);

/** Why an agent's call did not join the caller. */
export type DialOutcome = 'busy' | 'failed' | 'no-answer' | 'canceled' | 'ring-timeout' | 'not-accepted' | 'rest-error' | 'hung-up';

export interface RingTarget {
  readonly agentId: string;
  readonly endpoint: string;
}

export interface DialerOptions {
  control: CallControl;
  callerId: string;
  ringTimeoutS: number;
  /** After Twilio answers: the time to press 1 (plus the whisper), then the call is not accepted. */
  acceptTimeoutS: number;
  /** Where Twilio fetches the agent's TwiML and sends its status callbacks. */
  agentUrls: { url: string; statusCallback: string };
  /** Resolves when the next outbound call may be placed (the account's call rate). */
  pace: () => Promise<void>;
  log: Logger;
  /** Twilio answered an agent's call (ring time to answer, ms). */
  onAnswered?(agentId: string, ringMs: number): void;
  /** An agent's call ended without joining: its claim can be released. Called once per agent. */
  onFailed(agentId: string, outcome: DialOutcome): void;
  /** The accepted agent's call completed (the agent hung up). */
  onWinnerHungUp(): void;
}

interface Dial {
  target: RingTarget;
  sid?: string;
  /** No longer ringing: accepted, or given up (reported). */
  done: boolean;
  reported: boolean;
  answered: boolean;
  placedAt: number;
  timer?: NodeJS.Timeout;
}

export type DialerState = 'idle' | 'ringing' | 'won' | 'stopped';

export class Dialer {
  state: DialerState = 'idle';
  private readonly dials: Dial[] = [];
  private readonly earlyStatus = new Map<string, string>();
  private winner: Dial | undefined;

  constructor(private readonly opts: DialerOptions) {}

  /** The CallSids of the agent calls placed so far. */
  get dialledSids(): string[] {
    return this.dials.flatMap((d) => (d.sid ? [d.sid] : []));
  }

  get dialled(): number {
    return this.dials.length;
  }

  /** Whether an agent of this round answered and has not pressed 1 or given up yet (the whisper). */
  get screening(): boolean {
    return this.dials.some((d) => d.answered && !d.done);
  }

  /** Whether every call of this round has ended without a winner. */
  get exhausted(): boolean {
    return this.state === 'ringing' && this.dials.every((d) => d.done);
  }

  /** The agent a call of this round rings. */
  agentOf(callSid: string): string | undefined {
    return this.dials.find((d) => d.sid === callSid)?.target.agentId;
  }

  /** Rings these agents at once. */
  start(targets: readonly RingTarget[]): void {
    if (this.state !== 'idle') return;
    this.state = 'ringing';
    for (const t of targets) void this.place(t);
  }

  /** The agent of this call accepted (pressed 1, or its stream started unscreened): first one wins. */
  accept(callSid: string): string | undefined {
    const dial = this.dials.find((d) => d.sid === callSid);
    if (this.state !== 'ringing' || !dial || dial.done) return undefined;
    this.state = 'won';
    this.winner = dial;
    dial.done = true;
    clearTimeout(dial.timer);
    for (const d of this.dials) if (d !== dial && !d.done) this.give(d, 'canceled');
    return dial.target.agentId;
  }

  /** The round is over (the caller left, or the room ended): cancel whatever still rings. Idempotent. */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.earlyStatus.clear();
    for (const d of this.dials) if (!d.done) this.give(d, 'canceled');
  }

  /** A status callback for one of this round's calls. */
  onStatus(callSid: string, status: string): void {
    const dial = this.dials.find((d) => d.sid === callSid);
    if (!dial) {
      // The REST answer has not arrived yet: keep the status for when it does.
      if (this.state === 'ringing' || this.state === 'won') this.earlyStatus.set(callSid, status);
      return;
    }
    this.earlyStatus.delete(callSid);
    this.opts.log.debug({ agent: maskPhone(dial.target.agentId), status }, 'agent call status');
    if (dial === this.winner) {
      if (status === 'completed' || FAILED_STATUSES.has(status)) this.opts.onWinnerHungUp();
      return;
    }
    if (dial.reported) return;
    if (FAILED_STATUSES.has(status)) return this.give(dial, status as DialOutcome, false);
    if (status === 'in-progress' || status === 'answered') {
      if (dial.answered) return;
      dial.answered = true;
      this.opts.onAnswered?.(dial.target.agentId, performance.now() - dial.placedAt);
      // The ring timer gives way to the accept timer: the whisper plays, the agent presses 1.
      clearTimeout(dial.timer);
      dial.timer = setTimeout(() => this.give(dial, 'not-accepted'), (this.opts.acceptTimeoutS + RING_GRACE_S) * 1000);
      dial.timer.unref();
      return;
    }
    if (status === 'completed') this.give(dial, dial.answered ? 'not-accepted' : 'hung-up', false);
  }

  private async place(target: RingTarget): Promise<void> {
    const { control, log, ringTimeoutS } = this.opts;
    const dial: Dial = { target, done: false, reported: false, answered: false, placedAt: performance.now() };
    this.dials.push(dial);
    await this.opts.pace();
    if (this.state !== 'ringing' || dial.done) {
      this.give(dial, 'canceled');
      return;
    }
    dial.placedAt = performance.now();
    dial.timer = setTimeout(() => this.give(dial, 'ring-timeout'), (ringTimeoutS + RING_GRACE_S) * 1000);
    dial.timer.unref();
    const req = { to: target.endpoint, from: this.opts.callerId, url: this.opts.agentUrls.url, statusCallback: this.opts.agentUrls.statusCallback, timeoutS: ringTimeoutS };
    try {
      const sid = await control.dial(req);
      dial.sid = sid;
      log.info({ agent: maskPhone(target.agentId), agentCallSid: sid }, 'agent call placed');
      // Cancel a call nobody wants any more: another agent won, the round stopped, or this dial
      // already gave up (its ring timer fired before Twilio's answer came back).
      if (dial.done || this.state !== 'ringing') {
        if (dial !== this.winner) void control.cancel(sid);
        this.give(dial, 'canceled', false);
        return;
      }
      const early = this.earlyStatus.get(sid);
      if (early) this.onStatus(sid, early);
    } catch (err) {
      const e = err as Error & { status?: number; code?: number };
      // Twilio's error text names the number it refused: agents' numbers are never logged in full.
      log.warn({ agent: maskPhone(target.agentId), status: e.status, code: e.code, message: maskPhonesIn(String(e.message)) }, 'agent call could not be placed');
      this.give(dial, 'rest-error', false);
    }
  }

  /** This agent's call will not join: stop it (unless it already ended) and report once. */
  private give(dial: Dial, outcome: DialOutcome, cancel = true): void {
    if (dial.reported || dial === this.winner) return;
    dial.reported = true;
    dial.done = true;
    clearTimeout(dial.timer);
    // A call Twilio answered is ended, not cancelled: Status=canceled only stops one still ringing.
    if (cancel && dial.sid) void (dial.answered ? this.opts.control.hangUp(dial.sid) : this.opts.control.cancel(dial.sid));
    this.opts.log.info({ agent: maskPhone(dial.target.agentId), outcome }, 'agent did not join');
    this.opts.onFailed(dial.target.agentId, outcome);
  }
}
