/**
 * One two-party call: a customer's leg and (once one answers) an agent's leg, in one process,
 * in one CallSession (opened by the customer's webhook).
 *
 *   created (webhook answered) -> dialing (customer stream started: hold tone, Dialer rings agents)
 *     -> paired (first agent stream started: hold tone stops, audio flows) -> ended
 *   any state -> ended: a leg hung up, no agent in time, or the customer never connected.
 * Dialling itself (sequential / simultaneous ringing, timeouts, cancels) is the Dialer's; the
 * audio paths once paired are ./audio-paths.ts's.
 *
 * Teardown is idempotent: whichever of a stream's stop, a socket close, a status callback or a
 * timer comes first ends the room (its session); the rest find it ended.
 */
import type { Logger } from '../../observability/logger.js';
import { maskPhone } from '../../observability/logger.js';
import type { MaskingProfile } from '../../pipeline/profile.js';
import type { MediaStreamConnection } from '../../twilio/connection.js';
import type { AudioFrame } from '../../twilio/media-in.js';
import type { StartInfo } from '../../twilio/messages.js';
import { holdToneCycle, HOLD_TONE_CYCLE_MS } from '../../voice/hold-tone.js';
import type { CallSession } from '../call-session.js';
import { HoldAudio } from '../hold-audio.js';
import type { CallLeg } from '../manager.js';
import { VoiceKeys } from '../voice-keys.js';
import { connectLegs, type AudioPaths } from './audio-paths.js';
import type { CallControl } from './call-control.js';
import { Dialer } from './dialer.js';
import { Leg, type LegEvents } from './leg.js';
import type { LineConfig } from './lines-file.js';
import type { CallRecording } from '../../recording/index.js';

export type RoomState = 'created' | 'dialing' | 'paired' | 'ended';
export type EndReason = 'customer-hung-up' | 'agent-hung-up' | 'no-answer' | 'customer-never-connected' | 'shutdown' | 'internal error';

export interface RoomDeps {
  profile: MaskingProfile;
  control: CallControl;
  /** Voices the agent's DTMF key cycles through; empty: cycling unavailable. */
  voiceCycle: readonly string[];
  /** Whether the agent's '*' and '#' change the agent's voice (AGENT_DTMF_VOICE_CYCLE). */
  agentVoiceKeys: boolean;
  /** Where Twilio fetches the agent's TwiML and sends its status callbacks (this instance). */
  agentUrls: { url: string; statusCallback: string };
  /** TwiML the customer's call is switched to when no agent answers. */
  noAnswerTwiml: string;
  /** This call's recording (src/recording), when it is recorded: each leg's clock is tapped as it opens. */
  recording?: CallRecording | undefined;
}

/** Seconds a room waits for the customer's stream after its webhook was answered. */
const CUSTOMER_STREAM_WAIT_MS = 60_000;

export class Room implements LegEvents {
  state: RoomState = 'created';
  endReason: EndReason | undefined;
  readonly log: Logger;
  private customer: Leg | undefined;
  private agent: Leg | undefined;
  private hold: HoldAudio | undefined;
  private paths: AudioPaths | undefined;
  private readonly dialer: Dialer;
  private readonly voiceKeys: VoiceKeys;
  private readonly createdTimer: NodeJS.Timeout;

  constructor(
    readonly id: string,
    readonly line: LineConfig,
    /** The call: opened for the customer's CallSid by the webhook. */
    readonly session: CallSession,
    private readonly deps: RoomDeps,
  ) {
    this.log = session.log.child({ room: id.slice(0, 8), line: maskPhone(line.number) });
    this.voiceKeys = new VoiceKeys(deps.voiceCycle, line.voice ?? deps.profile.voices.defaultVoiceId);
    this.dialer = new Dialer({
      plan: line,
      control: deps.control,
      agentUrls: deps.agentUrls,
      log: this.log,
      onNoAnswer: (why) => this.noAnswer(why),
      onWinnerHungUp: () => this.end('agent-hung-up'),
    });
    session.awaitingStream = true;
    // The webhook was answered but Twilio never opened the stream: forget the room.
    this.createdTimer = setTimeout(() => {
      if (this.state === 'created') this.end('customer-never-connected');
    }, CUSTOMER_STREAM_WAIT_MS);
    this.createdTimer.unref();
    session.onClose(() => this.teardown());
  }

  /** The customer's CallSid, from the voice webhook. */
  get customerCallSid(): string {
    return this.session.id;
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
  joinCustomer(conn: MediaStreamConnection, start: StartInfo, log: Logger): CallLeg | undefined {
    if (this.state !== 'created' || start.callSid !== this.customerCallSid) {
      log.warn({ state: this.state }, 'customer stream refused: room not waiting for it');
      return undefined;
    }
    clearTimeout(this.createdTimer);
    this.customer = new Leg('customer', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'customer' }), this.session, this);
    this.state = 'dialing';
    const output = conn.openOutput(this.deps.profile.playout);
    this.hold = new HoldAudio(output, holdToneCycle(), HOLD_TONE_CYCLE_MS);
    this.deps.recording?.tap('customer-heard', output); // recording: hold audio, then the masked agent
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
  joinAgent(conn: MediaStreamConnection, start: StartInfo, log: Logger): CallLeg | undefined {
    if (this.state !== 'dialing' || !this.customer || !this.dialer.accept(start.callSid)) {
      log.warn({ state: this.state }, 'agent stream refused: the call was taken or has ended');
      void this.deps.control.hangUp(start.callSid);
      return undefined;
    }
    const { profile } = this.deps;
    const agent = new Leg('agent', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'agent' }), this.session, this);
    this.agent = agent;
    this.state = 'paired';
    this.session.awaitingStream = false;
    this.hold?.stop();
    this.hold = undefined;
    this.paths = connectLegs({ profile, line: this.line, customer: this.customer, agent, signal: this.session.signal });
    this.deps.recording?.tap('agent-heard', agent.conn.output, { agent: this.line.agents.length === 1 ? this.line.agents[0] : undefined, voice: this.paths.toCustomer.voiceId }); // recording
    this.log.info(
      { agentCallSid: start.callSid, engine: profile.engine, mode: profile.mode, agentVoice: this.paths.toCustomer.voiceId, mask: this.line.mask },
      'agent answered: call connected, agent voice masked',
    );
    return agent;
  }

  // ---- audio and keys ----

  onMedia(leg: Leg, frame: AudioFrame): void {
    if (this.state !== 'paired') return; // nobody listening yet: the customer's audio goes nowhere
    (leg.role === 'agent' ? this.paths?.toCustomer : this.paths?.toAgent)?.push(frame);
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
    const direction = this.paths?.toCustomer;
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

  onHangUp(leg: Leg): void {
    this.end(leg.role === 'customer' ? 'customer-hung-up' : 'agent-hung-up');
  }

  // ---- teardown ----

  /** Ends the room (its call) and the other leg. Safe to call any number of times, from anywhere. */
  end(reason: EndReason): void {
    if (this.state === 'ended') return;
    this.endReason = reason;
    this.session.close(reason);
  }

  private teardown(): void {
    const was = this.state;
    this.state = 'ended';
    const reason = this.endReason ?? 'shutdown';
    this.endReason = reason;
    clearTimeout(this.createdTimer);
    this.hold?.stop();
    this.hold = undefined;
    this.dialer.stop();
    // The legs that did not hang up are ended through the REST API, their streams closed after.
    const { control } = this.deps;
    if (reason !== 'customer-hung-up' && reason !== 'no-answer') this.customer?.end(control, 'the other party hung up');
    if (reason !== 'agent-hung-up') this.agent?.end(control, 'the other party hung up');
    this.log.info({ reason, was, dialled: this.dialer.dialled }, 'room ended');
  }
}
