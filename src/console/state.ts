/**
 * What the operator console shows, taken from the running bridge: the calls in progress
 * (CallManager, and the line rooms for a line call's phase, queue time and agent), each line's
 * queue and the agents' presence (the PresenceStore: the fleet's with Redis), the converter's
 * health (the resilient converter's stats and events, the ElevenLabs gauges, the embedded
 * engine's CPU time, the event loop), and the last finished calls.
 *
 * Privacy: a caller is the last four digits of their number; lines and agents whose ids are
 * numbers are masked; the audio of a call never comes near this module.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { maskPhone, maskPhonesIn } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import type { CallSession } from '../session/call-session.js';
import type { CallManager } from '../session/manager.js';
import type { LineService, Room } from '../session/line/index.js';
import { engineBusySeconds } from '../voice/local/index.js';
import type { ResilienceEvent, ResilientConverter } from '../voice/resilience/index.js';
import type { AgentView, ConsoleState, ConverterView, FinishedCall, LineView, LiveCall, LiveState } from './view.js';

/** How many finished calls are kept. */
export const FINISHED_KEPT = 100;
/** The window of the converter's recent counts. */
const RECENT_S = 300;
/** The window of the engine's load and the event loop's delay. */
const LOAD_WINDOW_MS = 10_000;

export interface StateSources {
  calls: CallManager;
  profile: MaskingProfile;
  maxCalls: number;
  /** The contact lines, when LINES_CONFIG is set. */
  lines?: LineService;
  /** The resilient ElevenLabs converter, when ElevenLabs masks. */
  converter?: ResilientConverter;
  fallback?: 'local' | 'silence';
  /** ELEVENLABS_MAX_CONCURRENCY: the slots' limit until the limiter reports one. */
  slotLimit?: number;
  redis: boolean;
}

/** Epoch ms of a performance.now() time. */
const epoch = (t: number) => Math.round(Date.now() - (performance.now() - t));

/** A line's number or an agent's id as the console shows it: numbers masked. */
export function label(id: string): string {
  if (/^\+?[\d\s().-]{5,}$/.test(id)) return maskPhone(id) ?? id;
  return maskPhonesIn(id);
}

/** The last finished calls, newest first. */
export class FinishedCalls {
  private readonly items: FinishedCall[] = [];

  constructor(private readonly kept = FINISHED_KEPT) {}

  add(c: FinishedCall): void {
    this.items.unshift(c);
    if (this.items.length > this.kept) this.items.length = this.kept;
  }

  list(): FinishedCall[] {
    return [...this.items];
  }
}

/** How a call ended, in an operator's words. */
export function outcomeOf(reason: string, kind: string, roomState: string | undefined): string {
  if (reason === 'operator') return 'ended by operator';
  if (reason === 'internal error') return 'error';
  if (reason === 'shutdown' && roomState !== 'connected') return 'shutdown';
  if (kind !== 'line') return reason === 'shutdown' ? 'shutdown' : 'completed';
  if (roomState === 'connected') return 'completed';
  switch (reason) {
    case 'queue-timeout':
      return 'no agent in time';
    case 'customer-never-connected':
      return 'not connected';
    case 'customer-hung-up':
      return 'abandoned';
    case 'agent-hung-up':
      return 'agent did not join';
    default:
      return reason;
  }
}

export class ConsoleStateSource {
  readonly finished = new FinishedCalls();
  /** Key of the agents' opaque handles (an agent id may be a phone number). */
  private readonly agentKey = randomBytes(16);
  private readonly recent: Array<{ at: number; type: 'concurrency429' | 'retried429' | 'fallbacks' | 'dropped' }> = [];
  private readonly loadSamples: Array<{ at: number; busy: number }> = [];
  private readonly delay = monitorEventLoopDelay({ resolution: 20 });
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private eluNow = 0;
  private lagMs = 0;
  private readonly lags: number[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private sampler: NodeJS.Timeout | undefined;

  constructor(private readonly src: StateSources) {
    this.unsubscribe.push(src.calls.onOpen((s) => this.watch(s)));
    const conv = src.converter;
    if (conv) {
      const onEvent = (ev: ResilienceEvent) => this.onConverterEvent(ev);
      conv.events.on('event', onEvent);
      this.unsubscribe.push(() => conv.events.off('event', onEvent));
    }
  }

  /** Starts sampling the engine's load and the event loop (while someone watches). */
  startSampling(): void {
    if (this.sampler) return;
    this.delay.enable();
    this.elu = performance.eventLoopUtilization();
    this.sample();
    this.sampler = setInterval(() => this.sample(), 1000);
    this.sampler.unref();
  }

  stopSampling(): void {
    clearInterval(this.sampler);
    this.sampler = undefined;
    this.delay.disable();
    this.delay.reset();
    this.loadSamples.length = 0;
    this.lags.length = 0;
  }

  close(): void {
    this.stopSampling();
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private sample(): void {
    const now = performance.now();
    this.loadSamples.push({ at: now, busy: engineBusySeconds() });
    while (this.loadSamples.length > 2 && this.loadSamples[0]!.at < now - LOAD_WINDOW_MS) this.loadSamples.shift();
    const elu = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    // (a window too short to say anything, such as the first sample's, is not taken)
    if (elu.idle + elu.active >= 200) this.eluNow = elu.utilization;
    // p99 of each second's delays past the timer's own 20 ms, the worst of the last five seconds.
    if (this.delay.count > 0) this.lags.push(Math.max(0, this.delay.percentile(99) / 1e6 - 20));
    this.delay.reset();
    if (this.lags.length > 5) this.lags.shift();
    this.lagMs = this.lags.length ? Math.max(...this.lags) : 0;
  }

  private onConverterEvent(ev: ResilienceEvent): void {
    const at = Date.now();
    if (ev.type === 'concurrency-refused') this.recent.push({ at, type: 'concurrency429' });
    else if (ev.type === 'retry' && ev.status === 429) this.recent.push({ at, type: 'retried429' });
    else if (ev.type === 'fallback') this.recent.push({ at, type: 'fallbacks' });
    else if (ev.type === 'dropped') this.recent.push({ at, type: 'dropped' });
    else return;
    this.pruneRecent(at);
    // A storm of events is still a bounded list (the counts then read "at least").
    if (this.recent.length > 10_000) this.recent.splice(0, this.recent.length - 10_000);
  }

  private pruneRecent(now: number): void {
    const cutoff = now - RECENT_S * 1000;
    let i = 0;
    while (i < this.recent.length && this.recent[i]!.at < cutoff) i++;
    if (i) this.recent.splice(0, i);
  }

  /** The room of a line call. */
  private roomOf(session: CallSession): Room | undefined {
    for (const r of this.src.lines?.rooms.values() ?? []) if (r.session === session) return r;
    return undefined;
  }

  /** Records the call when it ends (runs before the call's own teardown: its room is still as it was). */
  private watch(session: CallSession): void {
    session.onClose((reason) => {
      const room = session.kind === 'line' ? this.roomOf(session) : undefined;
      const endedAt = Date.now();
      const queuedAt = room?.enqueuedAt;
      const waitEnd = room?.connectedSince ?? endedAt;
      this.finished.add({
        id: session.id,
        kind: session.kind,
        outcome: outcomeOf(reason, session.kind, room?.state),
        endedAt,
        durationS: Math.round((performance.now() - session.startedAt) / 100) / 10,
        ...(queuedAt !== undefined && { waitS: Math.max(0, Math.round((waitEnd - queuedAt) / 100) / 10) }),
        ...(room && { line: label(room.line.number) }),
        ...(room?.agentId !== undefined && { agent: label(room.agentId) }),
      });
    });
  }

  /** The opaque handle of an agent. */
  agentHandle(id: string): string {
    return createHmac('sha256', this.agentKey).update(id).digest('base64url').slice(0, 16);
  }

  /** The agent id a handle names, among the roster. */
  agentOf(handle: string): string | undefined {
    const roster = this.src.lines?.config().agents.keys() ?? [];
    for (const id of roster) if (this.agentHandle(id) === handle) return id;
    return undefined;
  }

  private converterLabel(): string {
    const { profile, converter, fallback } = this.src;
    if (profile.engine === 'local') return `embedded, ${profile.mode}`;
    const circuit = converter?.stats().circuit;
    if (circuit && circuit !== 'closed') return fallback === 'local' ? 'embedded (ElevenLabs down)' : 'silence (ElevenLabs down)';
    return 'ElevenLabs';
  }

  private async converterView(): Promise<ConverterView> {
    const { profile, converter, fallback } = this.src;
    const now = Date.now();
    this.pruneRecent(now);
    const count = (t: (typeof this.recent)[number]['type']) => this.recent.filter((r) => r.type === t).length;
    const first = this.loadSamples[0];
    const last = this.loadSamples[this.loadSamples.length - 1];
    const load = first && last && last.at > first.at ? (last.busy - first.busy) / ((last.at - first.at) / 1000) : 0;
    const view: ConverterView = {
      engine: profile.engine,
      mode: profile.mode,
      recent: { windowS: RECENT_S, concurrency429: count('concurrency429'), retried429: count('retried429'), fallbacks: count('fallbacks'), dropped: count('dropped') },
      engineLoad: Math.round(load * 1000) / 1000,
      eventLoop: { lagMs: Math.round(this.lagMs * 10) / 10, utilization: Math.round(this.eluNow * 1000) / 1000 },
    };
    if (profile.engine === 'elevenlabs' && converter) {
      const s = converter.stats();
      const gauge = async (g: { get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }> }, key: string, value: string) =>
        (await g.get()).values.find((v) => v.labels[key] === value)?.value;
      const [limit, poolLimit, accountLimit, accountInUse, poolInFlight] = await Promise.all([
        gauge(metrics.concurrencyLimit, 'scope', 'instance'),
        gauge(metrics.concurrencyLimit, 'scope', 'pool'),
        gauge(metrics.accountConcurrency, 'kind', 'max'),
        gauge(metrics.accountConcurrency, 'kind', 'current'),
        this.src.redis ? gauge(metrics.slotsInFlight, 'scope', 'pool') : Promise.resolve(undefined),
      ]);
      view.circuit = s.circuit;
      if (fallback) view.fallback = fallback;
      const lim = poolLimit ?? limit ?? this.src.slotLimit;
      view.slots = {
        inFlight: s.inFlight,
        queued: s.queued,
        ...(lim !== undefined && { limit: lim }),
        ...(accountLimit !== undefined && { accountLimit }),
        ...(accountInUse !== undefined && { accountInUse }),
        ...(poolInFlight !== undefined && { poolInFlight }),
      };
    }
    return view;
  }

  async state(): Promise<ConsoleState> {
    const { calls, lines, profile } = this.src;
    const sessions = calls.snapshot();
    const rooms = new Map<CallSession, Room>();
    for (const r of lines?.rooms.values() ?? []) rooms.set(r.session, r);
    const presence = lines ? await lines.presence.snapshot() : [];
    const ringingFor = new Map<string, string>();
    for (const a of presence) if (a.callSid && a.state === 'ringing') ringingFor.set(a.callSid, a.id);

    const converter = this.converterLabel();
    const live: LiveCall[] = [];
    for (const s of sessions) {
      if (s.isClosed) continue;
      const call: LiveCall = { id: s.id, kind: s.kind, state: 'connected', startedAt: epoch(s.startedAt), converter };
      if (s.caller) call.caller = s.caller;
      const room = rooms.get(s);
      if (room) {
        const phase = room.phase;
        if (phase === 'ended') continue;
        call.state = phase as LiveState;
        call.line = label(room.line.number);
        if (room.enqueuedAt !== undefined) call.queuedAt = room.enqueuedAt;
        if (room.connectedSince !== undefined) call.connectedAt = room.connectedSince;
        const agent = room.agentId ?? ringingFor.get(s.id);
        if (agent !== undefined) call.agent = label(agent);
        const cfg = room.agentId !== undefined ? room.line.agents.find((a) => a.id === room.agentId) : undefined;
        const voice = s.voice?.() ?? cfg?.voice ?? room.line.voice ?? profile.voices.defaultVoiceId;
        call.voice = voice;
      } else {
        const voice = s.voice?.();
        if (voice) call.voice = voice;
      }
      live.push(call);
    }

    const state: ConsoleState = {
      at: Date.now(),
      instance: { activeCalls: calls.activeCalls, maxCalls: this.src.maxCalls, draining: calls.isDraining, lines: Boolean(lines), redis: this.src.redis },
      calls: live,
      converter: await this.converterView(),
      finished: this.finished.list(),
    };
    if (lines) {
      const config = lines.config();
      const byId = new Map(presence.map((a) => [a.id, a]));
      const lineViews: LineView[] = [];
      const servedBy = new Map<string, string[]>();
      const queues = await Promise.all([...config.lines.values()].map((l) => lines.presence.queue(l.number)));
      for (const [i, line] of [...config.lines.values()].entries()) {
        const queue = queues[i]!;
        const mine = [...rooms.values()].filter((r) => r.line.number === line.number);
        for (const a of line.agents) servedBy.set(a.id, [...(servedBy.get(a.id) ?? []), label(line.number)]);
        lineViews.push({
          label: label(line.number),
          strategy: line.strategy,
          agents: line.agents.length,
          available: line.agents.filter((a) => byId.get(a.id)?.state === 'available').length,
          queue: queue.map((w) => {
            const here = calls.get(w.callSid);
            return { since: w.enqueuedAt, here: here !== undefined, ...(here?.caller && { caller: here.caller }) };
          }),
          ringing: mine.filter((r) => r.phase === 'ringing' || r.phase === 'screening').length,
          connected: mine.filter((r) => r.phase === 'connected').length,
        });
      }
      state.lines = lineViews;
      const agents: AgentView[] = [];
      for (const id of config.agents.keys()) {
        const p = byId.get(id);
        const view: AgentView = {
          key: this.agentHandle(id),
          label: label(id),
          state: p?.state ?? 'unknown',
          since: p?.since ?? 0,
          callsTaken: p?.callsTaken ?? 0,
          paused: p?.state === 'paused',
          lines: servedBy.get(id) ?? [],
        };
        if (p?.callSid && calls.get(p.callSid)) view.callId = p.callSid;
        agents.push(view);
      }
      state.agents = agents;
    }
    return state;
  }
}
