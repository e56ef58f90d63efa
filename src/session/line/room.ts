/**
 * One two-party call: a customer's leg and (once one answers) an agent's leg, in one process.
 *
 *   created (webhook answered) -> dialing (customer stream started: hold tone, Dialer rings agents)
 *     -> paired (first agent stream started: hold tone stops, audio flows) -> ended
 *   any state -> ended: a leg hung up, no agent in time, or the customer never connected.
 * Dialling itself (sequential / simultaneous ringing, timeouts, cancels) is the Dialer's.
 *
 * Audio, once paired, is two MaskedDirections:
 *   agent    -> the profile's converter                        -> the customer's stream
 *   customer -> passthrough (mask: agent) or the converter     -> the agent's stream
 * Barge-in belongs to the listener: a leg's speech may clear only what that leg is hearing
 * (the other direction's playout), never its own words on their way to the other side.
 * Each direction writes only to its own room's streams: nothing crosses between rooms.
 *
 * Teardown is idempotent: whichever of a stream's stop, a socket close, a
 * status callback or a timer comes first ends the room; the rest find it ended.
 */
import type { Logger } from '../../observability/logger.js';
import { maskPhone } from '../../observability/logger.js';
import type { ActiveCall } from '../manager.js';
import { VoiceKeys } from '../voice-keys.js';
import { MaskedDirection } from '../../pipeline/masked-direction.js';
import { Playout } from '../../twilio/media-out.js';
import type { MaskingProfile } from '../../pipeline/profile.js';
import type { MediaStreamConnection } from '../../twilio/connection.js';
import type { StartInfo } from '../../twilio/messages.js';
import type { AudioFrame, Converter } from '../../voice/converter.js';
import { holdToneCycle, HOLD_TONE_CYCLE_MS } from '../../voice/hold-tone.js';
import { openPassthroughFrames } from '../../voice/passthrough.js';
import { frameConverter } from '../../pipeline/frame-adapter.js';
import type { CallControl } from './call-control.js';
import { Dialer } from './dialer.js';
import type { LineConfig } from './lines-file.js';

export type RoomState = 'created' | 'dialing' | 'paired' | 'ended';
export type EndReason = 'customer-hung-up' | 'agent-hung-up' | 'no-answer' | 'customer-never-connected' | 'shutdown';

export interface RoomDeps {
  profile: MaskingProfile;
  control: CallControl;
  log: Logger;
  /** Voices the agent's DTMF key cycles through; empty: cycling unavailable. */
  voiceCycle: readonly string[];
  /** Whether the agent's '*' and '#' change the agent's voice (AGENT_DTMF_VOICE_CYCLE). */
  agentVoiceKeys: boolean;
  /** Where Twilio fetches the agent's TwiML and sends its status callbacks (this instance). */
  agentUrls: { url: string; statusCallback: string };
  /** TwiML the customer's call is switched to when no agent answers. */
  noAnswerTwiml: string;
  onEnded(room: Room): void;
}

/** A leg's stream: what CallManager drives. */
class Leg implements ActiveCall {
  constructor(
    readonly role: 'customer' | 'agent',
    readonly conn: MediaStreamConnection,
    readonly callSid: string,
    readonly log: Logger,
    private readonly room: Room,
  ) {}
  onMedia(frame: AudioFrame): void {
    this.room.onMedia(this, frame);
  }
  onMark(name: string): void {
    this.room.onMark(this, name);
  }
  onDtmf(digit: string): void {
    this.room.onDtmf(this, digit);
  }
  close(): void {
    this.room.end(this.role === 'customer' ? 'customer-hung-up' : 'agent-hung-up');
  }
}

/** Ringback into the customer's stream on its own Playout, so that stopping it drops what is queued. */
class HoldTone {
  private readonly playout: Playout;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly conn: MediaStreamConnection, profile: MaskingProfile, log: Logger) {
    this.playout = new Playout(conn, { ...profile.playout, clearBacklogMs: 0 }, log);
    const slot = this.playout.openSlot('hold');
    const top = () => {
      if (this.playout.backlogMs() < HOLD_TONE_CYCLE_MS / 2) slot.write(holdToneCycle());
    };
    top();
    this.timer = setInterval(top, 1000);
  }

  onMark(name: string): void {
    this.playout.onMarkEchoed(name);
  }

  stop(): void {
    clearInterval(this.timer);
    this.playout.close();
    // What Twilio already holds (at most the playout's lead) is cleared too.
    if (this.conn.isOpen) this.conn.sendClear();
  }
}

export class Room {
  state: RoomState = 'created';
  endReason: EndReason | undefined;
  readonly log: Logger;
  private customer: Leg | undefined;
  private agent: Leg | undefined;
  private hold: HoldTone | undefined;
  /** What the customer hears (the agent's voice, masked) and what the agent hears. */
  private toCustomer: MaskedDirection | undefined;
  private toAgent: MaskedDirection | undefined;
  private readonly dialer: Dialer;
  private readonly voiceKeys: VoiceKeys;
  private readonly createdTimer: NodeJS.Timeout;

  constructor(
    readonly id: string,
    readonly line: LineConfig,
    /** The customer's CallSid, from the voice webhook. */
    readonly customerCallSid: string,
    private readonly deps: RoomDeps,
  ) {
    this.log = deps.log.child({ room: id.slice(0, 8), line: maskPhone(line.number) });
    this.voiceKeys = new VoiceKeys(deps.voiceCycle, line.voice ?? deps.profile.voices.defaultVoiceId);
    this.dialer = new Dialer({
      plan: line,
      control: deps.control,
      agentUrls: deps.agentUrls,
      log: this.log,
      onNoAnswer: (why) => this.noAnswer(why),
      onWinnerHungUp: () => this.end('agent-hung-up'),
    });
    // The webhook was answered but Twilio never opened the stream: forget the room.
    this.createdTimer = setTimeout(() => {
      if (this.state === 'created') this.end('customer-never-connected');
    }, 60_000);
    this.createdTimer.unref();
  }

  get agentCallSid(): string | undefined {
    return this.agent?.callSid;
  }

  /** The CallSids of the agent calls placed so far. */
  get dialledSids(): string[] {
    return this.dialer.dialledSids;
  }

  // ---- customer ----

  /** The customer's stream started (token already checked against its CallSid). */
  joinCustomer(conn: MediaStreamConnection, start: StartInfo, log: Logger): ActiveCall | undefined {
    if (this.state !== 'created' || start.callSid !== this.customerCallSid) {
      log.warn({ state: this.state }, 'customer stream refused: room not waiting for it');
      return undefined;
    }
    clearTimeout(this.createdTimer);
    this.customer = new Leg('customer', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'customer' }), this);
    this.state = 'dialing';
    this.hold = new HoldTone(conn, this.deps.profile, this.customer.log);
    this.log.info({ agents: this.line.agents.length, ring: this.line.ring, timeoutS: this.line.dialTimeoutS }, 'customer connected: dialling agents');
    this.dialer.start();
    return this.customer;
  }

  /** A status callback for one of this room's agent calls. */
  onAgentStatus(callSid: string, status: string): void {
    this.dialer.onStatus(callSid, status);
  }

  private noAnswer(why: string): void {
    if (this.state !== 'dialing') return;
    this.log.warn({ why, dialled: this.dialer.dialled }, 'no agent answered: playing the no-answer message to the customer');
    const customer = this.customer;
    this.end('no-answer');
    if (!customer) return;
    const twiml = this.line.fallbackTwiml ?? this.deps.noAnswerTwiml;
    // The new TwiML ends the stream on Twilio's side; close ours once Twilio has taken it.
    void this.deps.control.redirect(customer.callSid, twiml).finally(() => customer.conn.close(1000, 'no agent answered'));
  }

  // ---- agent ----

  /** The agent's webhook: may this call still join? */
  get acceptsAgent(): boolean {
    return this.state === 'dialing';
  }

  /** An agent's stream started (token already checked against its CallSid). First one wins. */
  joinAgent(conn: MediaStreamConnection, start: StartInfo, log: Logger): ActiveCall | undefined {
    if (this.state !== 'dialing' || !this.customer || !this.dialer.accept(start.callSid)) {
      log.warn({ state: this.state }, 'agent stream refused: the call was taken or has ended');
      void this.deps.control.hangUp(start.callSid);
      return undefined;
    }
    const { profile } = this.deps;
    const customer = this.customer;
    const agent = new Leg('agent', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'agent' }), this);
    this.agent = agent;
    this.state = 'paired';
    this.hold?.stop();
    this.hold = undefined;

    const agentVoice = this.line.voice ?? profile.voices.defaultVoiceId;
    // Passthrough: frame by frame, 20 ms chunks, never cleared: nothing is held back.
    const passthrough = this.line.mask === 'agent';
    const customerConverter: Converter = passthrough ? frameConverter('passthrough', openPassthroughFrames) : profile.converter;
    this.toCustomer = new MaskedDirection({
      converter: profile.converter,
      sink: customer.conn,
      playout: profile.playout,
      voiceId: agentVoice,
      callKey: start.callSid,
      log: agent.log,
      segmenter: profile.segmenter,
      // The agent talking over what the customer said clears the customer's words queued for the agent.
      onSpeechStart: () => this.toAgent?.playout.bargeIn(),
    });
    this.toAgent = new MaskedDirection({
      converter: customerConverter,
      sink: conn,
      playout: passthrough ? { chunkMs: 20, leadMs: profile.playout.leadMs, clearBacklogMs: 0 } : profile.playout,
      voiceId: this.line.customerVoice ?? profile.voices.defaultVoiceId,
      callKey: customer.callSid,
      log: customer.log,
      segmenter: profile.segmenter,
      // The customer talking over a long backlog of the agent's masked answer clears it.
      onSpeechStart: () => this.toCustomer?.playout.bargeIn(),
    });
    this.log.info(
      { agentCallSid: start.callSid, engine: profile.engine, mode: profile.mode, agentVoice, mask: this.line.mask },
      'agent answered: call connected, agent voice masked',
    );
    return agent;
  }

  // ---- audio and keys ----

  onMedia(leg: Leg, frame: AudioFrame): void {
    if (this.state !== 'paired') return; // nobody listening yet: the customer's audio goes nowhere
    (leg.role === 'agent' ? this.toCustomer : this.toAgent)?.push(frame);
  }

  onMark(leg: Leg, name: string): void {
    if (leg.role === 'customer') {
      this.hold?.onMark(name);
      this.toCustomer?.onMark(name);
    } else this.toAgent?.onMark(name);
  }

  /**
   * The agent's '*' cycles voices, '#' returns to the line's voice (AGENT_DTMF_VOICE_CYCLE).
   * The customer's keys are ignored and their digits not logged (they may be a PIN).
   */
  onDtmf(leg: Leg, digit: string): void {
    if (leg.role === 'customer') {
      leg.log.debug('customer key press ignored');
      return;
    }
    const direction = this.toCustomer;
    if (!this.deps.agentVoiceKeys || !direction || (digit !== '*' && digit !== '#')) return;
    if (!this.voiceKeys.available) {
      leg.log.info('voice cycling requested but this converter has no voice list (set voices: in the lines file)');
      return;
    }
    const voice = this.voiceKeys.press(digit, direction.voiceId);
    if (!voice) return;
    direction.setVoice(voice);
    leg.log.info({ voice }, 'agent changed voice');
  }

  // ---- teardown ----

  /** Ends the room and the other leg. Safe to call any number of times, from anywhere. */
  end(reason: EndReason): void {
    if (this.state === 'ended') return;
    const was = this.state;
    this.state = 'ended';
    this.endReason = reason;
    clearTimeout(this.createdTimer);
    this.hold?.stop();
    this.hold = undefined;
    this.dialer.stop();
    this.toCustomer?.close();
    this.toAgent?.close();
    const { control } = this.deps;
    // The leg that did not hang up is ended through the REST API (Twilio ends its stream) and
    // its socket closed here too, so that nothing lingers if the REST call fails.
    if (reason !== 'customer-hung-up' && reason !== 'no-answer' && this.customer) {
      const c = this.customer;
      void control.hangUp(c.callSid);
      c.conn.close(1000, 'the other party hung up');
    }
    if (reason !== 'agent-hung-up' && this.agent) {
      const a = this.agent;
      void control.hangUp(a.callSid);
      a.conn.close(1000, 'the other party hung up');
    }
    this.log.info({ reason, was, dialled: this.dialer.dialled }, 'room ended');
    this.deps.onEnded(this);
  }
}
