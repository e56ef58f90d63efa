/**
 * One contact-line call: the customer's leg and, once a person accepted, an agent's leg, in one
 * CallSession (opened by the customer's webhook).
 *
 *   created (webhook answered)
 *     -> waiting (customer stream started: hold audio; in the line's queue; rounds of dialling
 *                 the agents presence offers: ring, answer, whisper, press 1)
 *     -> accepted (an agent pressed 1: waiting for the agent's stream; still hold audio)
 *     -> connected (the agent's stream started: hold audio stops, masked audio flows)
 *     -> ended
 *   waiting -> (maxWaitS) the overflow line's queue, or a message and hang-up.
 *   any state -> ended: a leg hung up, the customer never connected, shutdown.
 *
 * Until an agent accepted, nothing of the agent's call reaches the caller (the agent's call has
 * no stream: a whisper and a key press only) and nothing of the caller reaches the agent.
 * Teardown is idempotent: whichever of a stream's stop, a socket close, a status callback or a
 * timer comes first ends the room (its session); the rest find it ended.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '../../observability/logger.js';
import { maskPhone } from '../../observability/logger.js';
import type { MaskingProfile } from '../../pipeline/profile.js';
import type { MediaStreamConnection } from '../../twilio/connection.js';
import type { AudioFrame } from '../../twilio/media-in.js';
import type { StartInfo } from '../../twilio/messages.js';
import type { CallSession } from '../call-session.js';
import { HoldAudio, type HoldSound } from '../hold-audio.js';
import type { CallLeg } from '../manager.js';
import { VoiceKeys } from '../voice-keys.js';
import { connectLegs, personPlayout, type AudioPaths } from './audio-paths.js';
import type { CallControl } from './call-control.js';
import { Dialer, type DialOutcome } from './dialer.js';
import { Leg, type LegEvents } from './leg.js';
import type { AgentConfig, LineConfig } from './lines-file.js';
import type { LineMetrics } from './line-metrics.js';
import type { PresenceStore } from './presence.js';
import type { CallRecording } from '../../recording/index.js';

export type RoomState = 'created' | 'waiting' | 'accepted' | 'connected' | 'ended';
export type EndReason = 'customer-hung-up' | 'agent-hung-up' | 'queue-timeout' | 'customer-never-connected' | 'shutdown' | 'internal error';

/** What every room of an instance shares: built once by the line service. */
export interface RoomDeps {
  profile: MaskingProfile;
  control: CallControl;
  presence: PresenceStore;
  metrics: LineMetrics;
  /** Voices the agent's DTMF key cycles through; empty: cycling unavailable. */
  voiceCycle: (line: LineConfig) => readonly string[];
  /** Whether the agent's '*' and '#' change the agent's voice (AGENT_DTMF_VOICE_CYCLE). */
  agentVoiceKeys: boolean;
  /** Where Twilio fetches the agent's TwiML and sends its status callbacks (this instance). */
  agentUrls: { url: string; statusCallback: string };
  /** What the caller hears while waiting on a line. */
  holdSound: (line: LineConfig) => HoldSound;
  /** Resolves when the next outbound call may be placed. */
  pace: () => Promise<void>;
  /** Secret the stable personas' seeds derive from. */
  personaSecret: string;
  /** TwiML the customer's call is switched to when the wait ends with no overflow line. */
  queueTimeoutTwiml: (line: LineConfig) => string;
  /** The line a caller moves to after maxWaitS (undefined: none). */
  lineOf: (number: string) => LineConfig | undefined;
  /** Ask the service to offer agents to the waiting callers (coalesced). */
  dispatch: () => void;
  /** This call's recording, when it is recorded: each leg's clock is tapped as it opens. */
  recording?: CallRecording | undefined;
}

/** How long an agent who did not join is not offered the same caller again (app_queue's retry). */
export const RETRY_SAME_AGENT_MS = 30_000;
/** Seconds a room waits for the customer's stream after its webhook was answered. */
const CUSTOMER_STREAM_WAIT_MS = 60_000;
/** How long the accepted agent's stream may take to start. */
const AGENT_STREAM_WAIT_MS = 15_000;

/** A stable persona's seed: the same agent on the same secret always masks alike. */
export function personaSeed(secret: string, agentId: string): number {
  return createHmac('sha256', secret).update(`persona:${agentId}`).digest().readUInt32LE(0);
}

export class Room implements LegEvents {
  state: RoomState = 'created';
  endReason: EndReason | undefined;
  readonly log: Logger;
  /** The line the caller waits on (it changes when the caller overflows to another line). */
  line: LineConfig;
  /** Epoch ms the caller joined the queue (kept across rounds and overflow). */
  enqueuedAt: number | undefined;
  /** Epoch ms the agent's stream joined (undefined: not connected yet). */
  connectedSince: number | undefined;
  private customer: Leg | undefined;
  private agent: Leg | undefined;
  private acceptedAgent: { config: AgentConfig; callSid: string } | undefined;
  private hold: HoldAudio | undefined;
  private paths: AudioPaths | undefined;
  private round: Dialer | undefined;
  /** Agents that did not join for this caller, until when (epoch ms). */
  private readonly declined = new Map<string, number>();
  private voiceKeys: VoiceKeys;
  private readonly timers = new Set<NodeJS.Timeout>();
  private waitTimer: NodeJS.Timeout | undefined;
  private connectedAt = 0;

  constructor(
    readonly id: string,
    line: LineConfig,
    /** The call: opened for the customer's CallSid by the webhook. */
    readonly session: CallSession,
    private readonly deps: RoomDeps,
  ) {
    this.line = line;
    this.log = session.log.child({ room: id.slice(0, 8), line: maskPhone(line.number) });
    this.voiceKeys = new VoiceKeys(deps.voiceCycle(line), line.voice ?? deps.profile.voices.defaultVoiceId);
    session.awaitingStream = true;
    // The webhook was answered but Twilio never opened the stream: forget the room.
    this.after(CUSTOMER_STREAM_WAIT_MS, () => {
      if (this.state === 'created') this.end('customer-never-connected');
    });
    session.onClose(() => this.teardown());
  }

  /** The customer's CallSid, from the voice webhook. */
  get customerCallSid(): string {
    return this.session.id;
  }

  get agentCallSid(): string | undefined {
    return this.agent?.callSid;
  }

  /** The agent on the call, or the one who accepted it. */
  get agentId(): string | undefined {
    return this.acceptedAgent?.config.id;
  }

  /** The CallSids of the agent calls of the current round. */
  get dialledSids(): string[] {
    return this.round?.dialledSids ?? [];
  }

  /**
   * Where the caller is, as an operator names it: queued (waiting, no agent rung), ringing,
   * screening (an agent answered and hears the whisper, or accepted and is joining), connected.
   */
  get phase(): 'connecting' | 'queued' | 'ringing' | 'screening' | 'connected' | 'ended' {
    switch (this.state) {
      case 'created':
        return 'connecting';
      case 'waiting':
        if (this.round?.state !== 'ringing') return 'queued';
        return this.round.screening ? 'screening' : 'ringing';
      case 'accepted':
        return 'screening';
      default:
        return this.state;
    }
  }

  /** Whether the service may offer this caller agents now. */
  get wantsAgent(): boolean {
    return this.state === 'waiting' && (this.round === undefined || this.round.state === 'stopped');
  }

  /** Agents not to offer this caller now. */
  excluded(): string[] {
    const now = Date.now();
    for (const [id, until] of this.declined) if (until <= now) this.declined.delete(id);
    return [...this.declined.keys()];
  }

  // ---- customer ----

  /** The customer's stream started (token already checked against its CallSid). */
  joinCustomer(conn: MediaStreamConnection, start: StartInfo, log: Logger): CallLeg | undefined {
    if (this.state !== 'created' || start.callSid !== this.customerCallSid) {
      log.warn({ state: this.state }, 'customer stream refused: room not waiting for it');
      return undefined;
    }
    this.customer = new Leg('customer', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'customer' }), this.session, this);
    this.session.awaitingStream = false;
    const output = conn.openOutput(personPlayout(this.deps.profile));
    this.hold = new HoldAudio(output, this.deps.holdSound(this.line));
    this.deps.recording?.tap('customer-heard', output); // hold audio, then the masked agent
    this.wait(this.line);
    return this.customer;
  }

  /** Into the line's queue (at its old place when it has one), with the line's wait limit. */
  private wait(line: LineConfig): void {
    this.state = 'waiting';
    this.line = line;
    const enqueuedAt = this.enqueuedAt;
    void this.deps.presence.enqueue({ line: line.number, callSid: this.customerCallSid, ...(enqueuedAt !== undefined && { enqueuedAt }) }).then(
      (w) => {
        this.enqueuedAt ??= w.enqueuedAt;
        this.deps.metrics.setState(this, 'queued');
        this.log.info({ agents: line.agents.length, strategy: line.strategy, maxWaitS: line.maxWaitS }, 'caller waiting for an agent');
        this.deps.dispatch();
      },
      (err: unknown) => {
        this.log.error({ err }, 'could not join the queue: the caller keeps hearing hold audio; retrying');
        this.after(1000, () => this.state === 'waiting' && this.wait(line));
      },
    );
    clearTimeout(this.waitTimer);
    this.waitTimer = setTimeout(() => this.waitTooLong(), Math.max(0, line.maxWaitS * 1000 - (Date.now() - (this.enqueuedAt ?? Date.now()))));
    this.waitTimer.unref();
  }

  private waitTooLong(): void {
    if (this.state !== 'waiting') return;
    this.round?.stop();
    const next = this.line.overflow ? this.deps.lineOf(this.line.overflow) : undefined;
    if (next) {
      this.log.warn({ waitedS: this.waitedS(), overflow: maskPhone(next.number) }, 'waited maxWaitS: moving to the overflow line');
      this.deps.metrics.overflowed(this.line, 'line');
      const from = this.line.number;
      void this.deps.presence
        .leave(from, this.customerCallSid)
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'presence: could not leave the queue (its lease expires it)'))
        .finally(() => {
          if (this.state === 'waiting') this.wait(next);
        });
      return;
    }
    this.log.warn({ waitedS: this.waitedS() }, 'waited maxWaitS with no overflow line: message and hang-up');
    this.deps.metrics.overflowed(this.line, 'message');
    const customer = this.customer;
    const twiml = this.deps.queueTimeoutTwiml(this.line);
    this.end('queue-timeout');
    // The new TwiML ends the stream on Twilio's side; close ours once Twilio has taken it.
    if (customer) void this.deps.control.redirect(customer.callSid, twiml).finally(() => customer.conn.close(1000, 'no agent in time'));
  }

  private waitedS(): number {
    return this.enqueuedAt === undefined ? 0 : Math.round((Date.now() - this.enqueuedAt) / 1000);
  }

  // ---- dialling ----

  /** Presence claimed these agents for this caller: ring them (one round). */
  ring(agentIds: readonly string[]): void {
    const targets = agentIds.flatMap((id) => {
      const a = this.line.agents.find((x) => x.id === id);
      return a ? [{ agentId: a.id, endpoint: a.endpoint }] : [];
    });
    if (this.state !== 'waiting' || targets.length === 0) {
      for (const id of agentIds) this.settle(this.deps.presence.release(id, this.customerCallSid, { wrapUpMs: 0, answered: false }), 'release an agent');
      return;
    }
    const line = this.line;
    const round = new Dialer({
      control: this.deps.control,
      callerId: line.callerId,
      ringTimeoutS: line.ringTimeoutS,
      acceptTimeoutS: line.screen ? line.acceptTimeoutS : AGENT_STREAM_WAIT_MS / 1000,
      agentUrls: this.deps.agentUrls,
      pace: this.deps.pace,
      log: this.log,
      onAnswered: (_agentId, ringMs) => this.deps.metrics.answered(line, ringMs),
      onFailed: (agentId, outcome) => this.agentFailed(round, agentId, outcome),
      onWinnerHungUp: () => this.end('agent-hung-up'),
    });
    this.round = round;
    this.deps.metrics.setState(this, 'ringing');
    this.log.info({ agents: targets.map((t) => maskPhone(t.agentId)), screen: line.screen }, 'ringing agents');
    round.start(targets);
  }

  private agentFailed(round: Dialer, agentId: string, outcome: DialOutcome): void {
    this.deps.metrics.dialOutcome(this.line, outcome);
    this.settle(this.deps.presence.release(agentId, this.customerCallSid, { wrapUpMs: 0, answered: false }), 'release an agent');
    if (outcome !== 'canceled') this.declined.set(agentId, Date.now() + RETRY_SAME_AGENT_MS);
    if (round !== this.round || !round.exhausted || this.state !== 'waiting') return;
    // Nobody of this round joined: back to waiting for the next agent presence offers.
    round.stop();
    this.deps.metrics.setState(this, 'queued');
    this.after(1000, () => this.deps.dispatch());
  }

  /** The agent webhook: the agent's call for this room, while it may still join. */
  screens(callSid: string): boolean {
    return this.state === 'waiting' && this.round?.agentOf(callSid) !== undefined;
  }

  /**
   * The agent of this call pressed 1 (or, unscreened, its TwiML is fetched): the first one wins
   * and is connected once its stream starts. False when the call was taken or has ended.
   */
  accept(callSid: string): boolean {
    if (this.state !== 'waiting' || !this.round) return false;
    const agentId = this.round.accept(callSid);
    const config = agentId === undefined ? undefined : this.line.agents.find((a) => a.id === agentId);
    if (!config) return false;
    this.state = 'accepted';
    this.acceptedAgent = { config, callSid };
    this.session.awaitingStream = true;
    this.deps.metrics.dialOutcome(this.line, 'accepted');
    this.settle(this.deps.presence.connected(config.id, this.customerCallSid), 'mark the agent on a call');
    this.settle(this.deps.presence.leave(this.line.number, this.customerCallSid), 'leave the queue');
    clearTimeout(this.waitTimer);
    this.log.info({ agent: maskPhone(config.id), waitedS: this.waitedS() }, 'agent accepted the call');
    this.after(AGENT_STREAM_WAIT_MS, () => {
      if (this.state === 'accepted') this.end('agent-hung-up');
    });
    return true;
  }

  /** A status callback for one of this room's agent calls. */
  onAgentStatus(callSid: string, status: string): void {
    this.round?.onStatus(callSid, status);
  }

  // ---- agent ----

  /**
   * The accepted agent's stream started (token already checked against its CallSid). On a line
   * without screening the first agent whose stream starts is the one accepted.
   */
  joinAgent(conn: MediaStreamConnection, start: StartInfo, log: Logger): CallLeg | undefined {
    if (!this.line.screen && this.state === 'waiting') this.accept(start.callSid);
    const accepted = this.acceptedAgent;
    if (this.state !== 'accepted' || !this.customer || !accepted || accepted.callSid !== start.callSid) {
      log.warn({ state: this.state }, 'agent stream refused: the call was taken or has ended');
      void this.deps.control.hangUp(start.callSid);
      return undefined;
    }
    const { profile } = this.deps;
    const agent = new Leg('agent', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'agent' }), this.session, this);
    this.agent = agent;
    this.state = 'connected';
    this.connectedAt = performance.now();
    this.connectedSince = Date.now();
    this.session.awaitingStream = false;
    this.hold?.stop();
    this.hold = undefined;
    const voice = accepted.config.voice ?? this.line.voice ?? profile.voices.defaultVoiceId;
    const persona = accepted.config.persona ?? this.line.persona;
    this.voiceKeys = new VoiceKeys(this.deps.voiceCycle(this.line), voice);
    this.paths = connectLegs({
      profile,
      line: this.line,
      customer: this.customer,
      agent,
      signal: this.session.signal,
      agentVoice: voice,
      ...(persona === 'stable' && { agentPersonaSeed: personaSeed(this.deps.personaSecret, accepted.config.id) }),
    });
    this.session.voice = () => this.paths?.toCustomer?.voiceId ?? voice;
    this.deps.metrics.setState(this, 'connected');
    if (this.enqueuedAt !== undefined) this.deps.metrics.waited(this.line, (Date.now() - this.enqueuedAt) / 1000);
    this.deps.recording?.tap('agent-heard', agent.conn.output, { agent: accepted.config.id, voice });
    this.log.info(
      { agentCallSid: start.callSid, agent: maskPhone(accepted.config.id), engine: profile.engine, mode: profile.mode, agentVoice: voice, persona, mask: this.line.mask },
      'agent answered: call connected, agent voice masked',
    );
    return agent;
  }

  // ---- audio and keys ----

  onMedia(leg: Leg, frame: AudioFrame): void {
    if (this.state !== 'connected') return; // nobody listening yet: the customer's audio goes nowhere
    (leg.role === 'agent' ? this.paths?.toCustomer : this.paths?.toAgent)?.push(frame);
  }

  /**
   * The agent's '*' cycles voices, '#' returns to the agent's voice (AGENT_DTMF_VOICE_CYCLE).
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

  /**
   * A presence update whose failure changes nothing here: the store's leases expire what this
   * instance could not clear (Redis away, or the store closed at shutdown).
   */
  private settle(p: Promise<unknown>, what: string): void {
    p.catch((err: unknown) => this.log.warn({ err: (err as Error).message }, `presence: could not ${what} (its lease expires it)`));
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private teardown(): void {
    const was = this.state;
    this.state = 'ended';
    const reason = this.endReason ?? 'shutdown';
    this.endReason = reason;
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.waitTimer);
    this.hold?.stop();
    this.hold = undefined;
    this.round?.stop();
    const { control, presence, metrics } = this.deps;
    this.settle(presence.leave(this.line.number, this.customerCallSid), 'leave the queue');
    if (this.acceptedAgent) {
      this.settle(presence.release(this.acceptedAgent.config.id, this.customerCallSid, { wrapUpMs: this.line.wrapUpS * 1000, answered: true }), 'release the agent');
      if (!this.agent) void control.hangUp(this.acceptedAgent.callSid);
    }
    if ((was === 'waiting' || was === 'created') && reason === 'customer-hung-up') metrics.abandoned(this.line);
    if (was === 'connected') metrics.callEnded(this.line, (performance.now() - this.connectedAt) / 1000);
    metrics.setState(this, undefined);
    // The legs that did not hang up are ended through the REST API, their streams closed after.
    if (reason !== 'customer-hung-up' && reason !== 'queue-timeout') this.customer?.end(control, 'the other party hung up');
    if (reason !== 'agent-hung-up') this.agent?.end(control, 'the other party hung up');
    else if (this.agent) this.agent.conn.close(1000, 'call ended');
    this.log.info({ reason, was, waitedS: this.waitedS() }, 'room ended');
  }
}
