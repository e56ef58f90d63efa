/**
 * One two-party call: a customer's leg and (once one answers) an agent's leg, in one process.
 *
 *   created (webhook answered) -> dialing (customer stream started: hold tone, agents rung)
 *     -> paired (first agent stream started: hold tone stops, audio flows) -> ended
 *   any state -> ended: a leg hung up, no agent in time, or the customer never connected.
 *
 * Audio, once paired:
 *   agent    -> MaskingPipeline (the configured converter)      -> Playout on the customer's stream
 *   customer -> MaskingPipeline (passthrough, or the converter
 *               with mask: both)                               -> Playout on the agent's stream
 * Each pipeline writes only to its own room's playouts: nothing crosses between rooms.
 *
 * Teardown is idempotent (EXAMPLES.md #11): whichever of a stream's stop, a socket close, a
 * status callback or a timer comes first ends the room; the rest find it ended.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import { maskPhone, maskPhonesIn } from '../observability/logger.js';
import { Playout, playoutOptionsFromConfig } from '../playout/playout.js';
import type { ActiveCall } from '../call/call-manager.js';
import type { Masking } from '../call/masking.js';
import { MaskingPipeline, type MaskingMode } from '../call/masking-pipeline.js';
import type { MediaStreamConnection } from '../twilio/stream.js';
import type { StartInfo } from '../twilio/messages.js';
import { segmenterOptionsFromConfig } from '../vad/index.js';
import { holdToneCycle, HOLD_TONE_CYCLE_MS } from '../voice/hold-tone.js';
import { passthroughConverter } from '../voice/passthrough.js';
import type { CallControl } from './call-control.js';
import { VoiceKeys } from '../call/voice-keys.js';
import type { LineConfig } from './lines-config.js';

export type RoomState = 'created' | 'dialing' | 'paired' | 'ended';
export type EndReason = 'customer-hung-up' | 'agent-hung-up' | 'no-answer' | 'customer-never-connected' | 'shutdown';

/** Twilio's final statuses for a call that never connected. */
const FAILED_STATUSES = new Set(['busy', 'failed', 'no-answer', 'canceled']);

interface Dial {
  agent: string;
  index: number;
  sid?: string;
  done: boolean;
  answered: boolean;
  timer?: NodeJS.Timeout;
}

export interface RoomDeps {
  config: Config;
  masking: Masking;
  control: CallControl;
  log: Logger;
  /** Voices the agent's DTMF key cycles through; empty: cycling unavailable. */
  voiceCycle: readonly string[];
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
  onMedia(payload: Uint8Array): void {
    this.room.onMedia(this, payload);
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

  constructor(private readonly conn: MediaStreamConnection, config: Config, log: Logger) {
    this.playout = new Playout(conn, playoutOptionsFromConfig(config, { clearBacklogMs: 0 }), log);
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
  private toCustomer: { pipeline: MaskingPipeline; playout: Playout } | undefined;
  private toAgent: { pipeline: MaskingPipeline; playout: Playout } | undefined;
  private readonly dials: Dial[] = [];
  private readonly voiceKeys: VoiceKeys;
  /** Status callbacks that arrived before the dial's REST answer (by CallSid). */
  private readonly earlyStatus = new Map<string, string>();
  private winnerSid: string | undefined;
  private nextAgent = 0;
  private deadline: NodeJS.Timeout | undefined;
  private readonly createdTimer: NodeJS.Timeout;

  constructor(
    readonly id: string,
    readonly line: LineConfig,
    /** The customer's CallSid, from the voice webhook. */
    readonly customerCallSid: string,
    private readonly deps: RoomDeps,
  ) {
    this.log = deps.log.child({ room: id.slice(0, 8), line: maskPhone(line.number) });
    this.voiceKeys = new VoiceKeys(deps.voiceCycle, line.voice ?? deps.masking.voices.defaultVoiceId);
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
    return this.dials.flatMap((d) => (d.sid ? [d.sid] : []));
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
    this.hold = new HoldTone(conn, this.deps.config, this.customer.log);
    this.deadline = setTimeout(() => this.noAnswer('timeout'), this.line.dialTimeoutS * 1000);
    this.log.info({ agents: this.line.agents.length, ring: this.line.ring, timeoutS: this.line.dialTimeoutS }, 'customer connected: dialling agents');
    if (this.line.ring === 'simultaneous') for (const _ of this.line.agents) this.dialNext();
    else this.dialNext();
    return this.customer;
  }

  // ---- dialling ----

  private dialNext(): void {
    if (this.state !== 'dialing' || this.nextAgent >= this.line.agents.length) return;
    const index = this.nextAgent++;
    const dial: Dial = { agent: this.line.agents[index]!, index, done: false, answered: false };
    this.dials.push(dial);
    // Twilio reports no-answer after the ring timeout; if that callback never comes, move on anyway.
    dial.timer = setTimeout(() => this.dialFailed(dial, 'ring-timeout', true), (this.line.ringTimeoutS + 5) * 1000);
    const { agentUrls, control } = this.deps;
    control
      .dial({ to: dial.agent, from: this.line.callerId, url: agentUrls.url, statusCallback: agentUrls.statusCallback, timeoutS: this.line.ringTimeoutS })
      .then(
        (sid) => {
          dial.sid = sid;
          this.log.info({ agent: index, agentCallSid: sid }, 'agent call placed');
          // Cancel a call this room no longer wants: another agent won, the room ended, or this
          // dial already gave up (its ring timer fired before Twilio's answer came back).
          if ((this.state === 'paired' && sid !== this.winnerSid) || this.state === 'ended' || dial.done) {
            void this.cancelDial(dial);
            return;
          }
          const early = this.earlyStatus.get(sid);
          if (early) this.onAgentStatus(sid, early);
        },
        (err: Error & { status?: number; code?: number }) => {
          // Twilio's error text names the number it refused: agents' numbers are never logged in full.
          this.log.warn({ agent: index, status: err.status, code: err.code, message: maskPhonesIn(String(err.message)) }, 'agent call could not be placed');
          this.dialFailed(dial, 'rest-error', false);
        },
      );
  }

  private dialFailed(dial: Dial, reason: string, cancel: boolean): void {
    if (dial.done) return;
    dial.done = true;
    clearTimeout(dial.timer);
    if (this.state !== 'dialing') return;
    this.log.info({ agent: dial.index, reason }, 'agent did not answer');
    if (cancel) void this.cancelDial(dial);
    if (this.line.ring === 'sequential' && this.nextAgent < this.line.agents.length) return this.dialNext();
    if (this.dials.every((d) => d.done) && this.nextAgent >= this.line.agents.length) this.noAnswer('every agent failed');
  }

  private async cancelDial(dial: Dial): Promise<void> {
    dial.done = true;
    clearTimeout(dial.timer);
    if (dial.sid && dial.sid !== this.winnerSid) await this.deps.control.cancel(dial.sid);
  }

  /** A status callback for one of this room's agent calls. */
  onAgentStatus(callSid: string, status: string): void {
    const dial = this.dials.find((d) => d.sid === callSid);
    if (!dial) {
      // The REST answer has not arrived yet: keep the status for when it does.
      if (this.state !== 'ended') this.earlyStatus.set(callSid, status);
      return;
    }
    this.earlyStatus.delete(callSid);
    this.log.debug({ agent: dial.index, status }, 'agent call status');
    if (status === 'in-progress' || status === 'answered') dial.answered = true;
    else if (FAILED_STATUSES.has(status)) this.dialFailed(dial, status, false);
    else if (status === 'completed' && callSid !== this.winnerSid) this.dialFailed(dial, 'hung up before the stream started', false);
    else if (status === 'completed' && this.state === 'paired') this.end('agent-hung-up');
  }

  private noAnswer(why: string): void {
    if (this.state !== 'dialing') return;
    this.log.warn({ why, dialled: this.dials.length }, 'no agent answered: playing the no-answer message to the customer');
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
    if (this.state !== 'dialing' || !this.customer) {
      log.warn({ state: this.state }, 'agent stream refused: the call was taken or has ended');
      void this.deps.control.hangUp(start.callSid);
      return undefined;
    }
    const { config, masking } = this.deps;
    this.winnerSid = start.callSid;
    this.agent = new Leg('agent', conn, start.callSid, log.child({ room: this.id.slice(0, 8), role: 'agent' }), this);
    this.state = 'paired';
    clearTimeout(this.deadline);
    for (const d of this.dials) {
      if (d.sid === start.callSid) {
        d.done = true;
        clearTimeout(d.timer);
      } else if (!d.done) void this.cancelDial(d); // still ringing (or its REST answer pending)
    }
    this.hold?.stop();
    this.hold = undefined;

    const seed = config.converter === 'elevenlabs' ? config.ELEVENLABS_SEED : config.LOCAL_SEED;
    const segmenter = segmenterOptionsFromConfig(config);
    const playoutOpts = playoutOptionsFromConfig(config);
    const agentVoice = this.line.voice ?? masking.voices.defaultVoiceId;

    const customerHears = new Playout(this.customer.conn, playoutOpts, this.customer.log);
    this.toCustomer = {
      playout: customerHears,
      pipeline: new MaskingPipeline({ mode: masking.mode(), segmenter, playout: customerHears, voiceId: agentVoice, seed, callKey: start.callSid, log: this.agent.log }),
    };

    let mode: MaskingMode = masking.mode();
    let agentHearsOpts = playoutOpts;
    if (this.line.mask === 'agent') {
      // Passthrough: frame by frame, 20 ms chunks, never cleared: nothing is held back.
      mode = { kind: 'streaming', converter: passthroughConverter };
      agentHearsOpts = { chunkMs: 20, clearBacklogMs: 0 };
    }
    const agentHears = new Playout(conn, agentHearsOpts, this.agent.log);
    this.toAgent = {
      playout: agentHears,
      pipeline: new MaskingPipeline({
        mode,
        segmenter,
        playout: agentHears,
        voiceId: this.line.customerVoice ?? masking.voices.defaultVoiceId,
        seed,
        callKey: this.customer.callSid,
        log: this.customer.log,
      }),
    };
    this.log.info(
      { agentCallSid: start.callSid, engine: masking.engine, mode: mode.kind, agentVoice, mask: this.line.mask },
      'agent answered: call connected, agent voice masked',
    );
    return this.agent;
  }

  // ---- audio and keys ----

  onMedia(leg: Leg, payload: Uint8Array): void {
    if (this.state !== 'paired') return; // nobody listening yet: the customer's audio goes nowhere
    (leg.role === 'agent' ? this.toCustomer : this.toAgent)?.pipeline.push(payload);
  }

  onMark(leg: Leg, name: string): void {
    if (leg.role === 'customer') {
      this.hold?.onMark(name);
      this.toCustomer?.playout.onMarkEchoed(name);
    } else this.toAgent?.playout.onMarkEchoed(name);
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
    const pipeline = this.toCustomer?.pipeline;
    if (!this.deps.config.AGENT_DTMF_VOICE_CYCLE || !pipeline || (digit !== '*' && digit !== '#')) return;
    if (!this.voiceKeys.available) {
      leg.log.info('voice cycling requested but this converter has no voice list (set voices: in the lines file)');
      return;
    }
    const voice = this.voiceKeys.press(digit, pipeline.currentVoice);
    if (!voice) return;
    pipeline.setVoice(voice);
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
    clearTimeout(this.deadline);
    this.hold?.stop();
    this.hold = undefined;
    for (const d of this.dials) if (!d.done) void this.cancelDial(d);
    for (const dir of [this.toCustomer, this.toAgent]) {
      dir?.pipeline.close();
      dir?.playout.close();
    }
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
    this.log.info({ reason, was, dialled: this.dials.length }, 'room ended');
    this.deps.onEnded(this);
  }
}
