/**
 * Dialling a line's agents: a state machine over REST calls and Twilio's status callbacks.
 *
 *   idle -> dialing (start: agents rung one by one, or all at once)
 *        -> won (an agent's stream started: every other dial is cancelled)
 *        -> failed (every agent failed, or the line's dial timeout passed: onNoAnswer)
 *        -> stopped (the room ended: every dial still ringing is cancelled)
 *
 * Each dial has its own ring timer (Twilio's ring timeout + 5 s, in case its no-answer callback
 * never comes). A REST answer that arrives after its dial gave up (or after another agent won,
 * or after the room ended) cancels that call. A status callback that arrives before the REST
 * answer is kept until it does.
 */
import type { Logger } from '../../observability/logger.js';
import { maskPhonesIn } from '../../observability/logger.js';
import type { CallControl } from './call-control.js';

export type DialerState = 'idle' | 'dialing' | 'won' | 'failed' | 'stopped';

/** Twilio's final statuses for a call that never connected. */
const FAILED_STATUSES = new Set(['busy', 'failed', 'no-answer', 'canceled']);
/** Past Twilio's ring timeout, how long to wait for its no-answer callback before moving on. */
export const RING_GRACE_S = 5;

export interface DialPlan {
  readonly agents: readonly string[];
  readonly ring: 'sequential' | 'simultaneous';
  readonly ringTimeoutS: number;
  /** The whole dialling, all agents included. */
  readonly dialTimeoutS: number;
  readonly callerId: string;
}

export interface DialerOptions {
  plan: DialPlan;
  control: CallControl;
  /** Where Twilio fetches the agent's TwiML and sends its status callbacks. */
  agentUrls: { url: string; statusCallback: string };
  log: Logger;
  /** Nobody will answer: every agent failed or the dial timeout passed. */
  onNoAnswer(why: string): void;
  /** The agent whose stream won hung up (status `completed`). */
  onWinnerHungUp(): void;
}

interface Dial {
  agent: string;
  index: number;
  sid?: string;
  done: boolean;
  timer?: NodeJS.Timeout;
}

export class Dialer {
  state: DialerState = 'idle';
  private readonly dials: Dial[] = [];
  private readonly earlyStatus = new Map<string, string>();
  private winnerSid: string | undefined;
  private nextAgent = 0;
  private deadline: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DialerOptions) {}

  /** The CallSids of the agent calls placed so far. */
  get dialledSids(): string[] {
    return this.dials.flatMap((d) => (d.sid ? [d.sid] : []));
  }

  get dialled(): number {
    return this.dials.length;
  }

  start(): void {
    if (this.state !== 'idle') return;
    const { plan } = this.opts;
    this.state = 'dialing';
    this.deadline = setTimeout(() => this.fail('timeout'), plan.dialTimeoutS * 1000);
    if (plan.ring === 'simultaneous') for (const _ of plan.agents) this.dialNext();
    else this.dialNext();
    if (plan.agents.length === 0) this.fail('no agents');
  }

  /** An agent's stream started: that call wins if dialling is still on. */
  accept(callSid: string): boolean {
    if (this.state !== 'dialing') return false;
    this.state = 'won';
    this.winnerSid = callSid;
    clearTimeout(this.deadline);
    for (const d of this.dials) {
      if (d.sid === callSid) {
        d.done = true;
        clearTimeout(d.timer);
      } else if (!d.done) void this.cancelDial(d); // still ringing (or its REST answer pending)
    }
    return true;
  }

  /** The room ended: cancel whatever still rings. Idempotent. */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.deadline);
    this.earlyStatus.clear();
    for (const d of this.dials) if (!d.done) void this.cancelDial(d);
  }

  /** A status callback for one of this line's agent calls. */
  onStatus(callSid: string, status: string): void {
    const dial = this.dials.find((d) => d.sid === callSid);
    if (!dial) {
      // The REST answer has not arrived yet: keep the status for when it does.
      if (this.state === 'dialing' || this.state === 'won') this.earlyStatus.set(callSid, status);
      return;
    }
    this.earlyStatus.delete(callSid);
    this.opts.log.debug({ agent: dial.index, status }, 'agent call status');
    if (FAILED_STATUSES.has(status)) this.dialFailed(dial, status, false);
    else if (status === 'completed' && callSid !== this.winnerSid) this.dialFailed(dial, 'hung up before the stream started', false);
    else if (status === 'completed' && this.state === 'won') this.opts.onWinnerHungUp();
  }

  private dialNext(): void {
    const { plan, control, agentUrls, log } = this.opts;
    if (this.state !== 'dialing' || this.nextAgent >= plan.agents.length) return;
    const index = this.nextAgent++;
    const dial: Dial = { agent: plan.agents[index]!, index, done: false };
    this.dials.push(dial);
    dial.timer = setTimeout(() => this.dialFailed(dial, 'ring-timeout', true), (plan.ringTimeoutS + RING_GRACE_S) * 1000);
    control.dial({ to: dial.agent, from: plan.callerId, url: agentUrls.url, statusCallback: agentUrls.statusCallback, timeoutS: plan.ringTimeoutS }).then(
      (sid) => {
        dial.sid = sid;
        log.info({ agent: index, agentCallSid: sid }, 'agent call placed');
        // Cancel a call nobody wants any more: another agent won, the room ended, or this dial
        // already gave up (its ring timer fired before Twilio's answer came back).
        if ((this.state === 'won' && sid !== this.winnerSid) || this.state === 'stopped' || this.state === 'failed' || dial.done) {
          void this.cancelDial(dial);
          return;
        }
        const early = this.earlyStatus.get(sid);
        if (early) this.onStatus(sid, early);
      },
      (err: Error & { status?: number; code?: number }) => {
        // Twilio's error text names the number it refused: agents' numbers are never logged in full.
        log.warn({ agent: index, status: err.status, code: err.code, message: maskPhonesIn(String(err.message)) }, 'agent call could not be placed');
        this.dialFailed(dial, 'rest-error', false);
      },
    );
  }

  private dialFailed(dial: Dial, reason: string, cancel: boolean): void {
    if (dial.done) return;
    dial.done = true;
    clearTimeout(dial.timer);
    if (this.state !== 'dialing') return;
    this.opts.log.info({ agent: dial.index, reason }, 'agent did not answer');
    if (cancel) void this.cancelDial(dial);
    const { plan } = this.opts;
    if (plan.ring === 'sequential' && this.nextAgent < plan.agents.length) return this.dialNext();
    if (this.dials.every((d) => d.done) && this.nextAgent >= plan.agents.length) this.fail('every agent failed');
  }

  private fail(why: string): void {
    if (this.state !== 'dialing') return;
    this.state = 'failed';
    clearTimeout(this.deadline);
    for (const d of this.dials) if (!d.done) void this.cancelDial(d);
    this.opts.onNoAnswer(why);
  }

  private async cancelDial(dial: Dial): Promise<void> {
    dial.done = true;
    clearTimeout(dial.timer);
    if (dial.sid && dial.sid !== this.winnerSid) await this.opts.control.cancel(dial.sid);
  }
}
