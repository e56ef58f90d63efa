/**
 * One leg of a two-party call: a stream (the customer's, or the agent's) and what the room
 * needs of it. Events go to the room; ending a leg the other party left is done in order: the
 * call is ended through Twilio's REST API first and its stream closed after (or when that
 * fails or takes too long), so that no TwiML after <Connect> runs by accident.
 */
import type { Logger } from '../../observability/logger.js';
import type { MediaStreamConnection } from '../../twilio/connection.js';
import type { AudioFrame } from '../../twilio/media-in.js';
import type { CallSession } from '../call-session.js';
import type { CallLeg } from '../manager.js';
import type { CallControl } from './call-control.js';

/** How long a leg's stream waits for its REST hang-up before it is closed anyway. */
export const HANG_UP_WAIT_MS = 5000;

export type LegRole = 'customer' | 'agent';

export interface LegEvents {
  onMedia(leg: Leg, frame: AudioFrame): void;
  onDtmf(leg: Leg, digit: string): void;
  /** The leg's stream ended (the party hung up, or the socket closed). */
  onHangUp(leg: Leg): void;
}

export class Leg implements CallLeg {
  private ending = false;

  constructor(
    readonly role: LegRole,
    readonly conn: MediaStreamConnection,
    readonly callSid: string,
    readonly log: Logger,
    readonly session: CallSession,
    private readonly events: LegEvents,
  ) {}

  onMedia(frame: AudioFrame): void {
    this.events.onMedia(this, frame);
  }

  onDtmf(digit: string): void {
    this.events.onDtmf(this, digit);
  }

  close(): void {
    if (!this.ending) this.events.onHangUp(this);
  }

  /** Ends this leg's call through the REST API, then closes its stream. Idempotent. */
  end(control: CallControl, why: string): void {
    if (this.ending) return;
    this.ending = true;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((r) => {
      timer = setTimeout(r, HANG_UP_WAIT_MS);
      timer.unref();
    });
    void Promise.race([control.hangUp(this.callSid).catch(() => false), waited]).finally(() => {
      clearTimeout(timer);
      this.conn.close(1000, why);
    });
  }
}
