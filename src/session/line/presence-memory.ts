/**
 * Presence and queues in this process (no REDIS_URL): the PresenceStore contract of
 * ./presence.ts for one instance. src/fleet/presence-redis.ts keeps the same rules in Redis;
 * one contract test suite runs against both.
 *
 * The rules both implementations keep:
 * - An agent's own state is available, ringing, on-call or wrap-up; pause is a flag over it:
 *   a paused agent shows 'paused' unless ringing or on a call (a call in progress goes on), and
 *   shows its own state again on resume (wrap-up still running stays wrap-up).
 * - A line's queue is ordered by `enqueuedAt`, which is unique (a new caller's is now, or 1 ms
 *   after the last arrival), so a caller re-queued with its `enqueuedAt` is back at its exact
 *   place (equal given values: by callSid). Enqueueing a caller already queued keeps its entry (or
 *   takes the given `enqueuedAt`).
 * - The head of a line is its longest-waiting caller that is not being dialled (no agent
 *   ringing or on a call for it) and that could take one of the available agents: a caller
 *   whose last claim excluded every agent available now does not hold up the callers behind it.
 *   claim() succeeds only for the head.
 * - longest-idle orders by the end of the last answered call (never: first), fewestcalls by
 *   calls answered, both then by roster order; rrmemory starts after the agent the line last rang.
 * - release() for a callSid the agent is no longer claimed for does nothing (a late callback).
 * - Roster changes only add agents: an agent no line lists is simply never a candidate.
 * - onChange runs on a later turn of the event loop (setImmediate), coalesced, never inside the
 *   call that caused it.
 */
import type { AgentPresence, AgentState, ClaimRequest, PresenceStore, Strategy, Waiter } from './presence.js';

/** An agent's record: `state` is its own state; `paused` overlays it (see agentState). */
export interface AgentRecord {
  state: Exclude<AgentState, 'paused'>;
  paused: boolean;
  since: number;
  lastCallEndedAt: number | undefined;
  callsTaken: number;
  callSid: string | undefined;
  /** Epoch ms wrap-up ends (state 'wrap-up'). */
  wrapUntil: number;
}

/** What the outside sees of an agent's state. */
export function agentState(a: Pick<AgentRecord, 'state' | 'paused'>): AgentState {
  if (a.state === 'ringing' || a.state === 'on-call') return a.state;
  return a.paused ? 'paused' : a.state;
}

/** Which of `available` (candidates free now, in roster order) a strategy rings, in order. */
export function pickAgents(
  strategy: Strategy,
  available: readonly string[],
  roster: readonly string[],
  agent: (id: string) => Pick<AgentRecord, 'lastCallEndedAt' | 'callsTaken'>,
  lastRang: string | undefined,
): string[] {
  if (available.length === 0) return [];
  switch (strategy) {
    case 'ringall':
      return [...available];
    case 'linear':
      return [available[0]!];
    case 'rrmemory': {
      const start = lastRang === undefined ? -1 : roster.indexOf(lastRang);
      const free = new Set(available);
      for (let i = 1; i <= roster.length; i++) {
        const id = roster[(start + i) % roster.length]!;
        if (free.has(id)) return [id];
      }
      return [];
    }
    case 'fewestcalls':
      return [minBy(available, (id) => agent(id).callsTaken)];
    default:
      return [minBy(available, (id) => agent(id).lastCallEndedAt ?? -Infinity)];
  }
}

/** The first of `ids` with the least key (ties: the earlier one). */
function minBy(ids: readonly string[], key: (id: string) => number): string {
  let best = ids[0]!;
  for (const id of ids) if (key(id) < key(best)) best = id;
  return best;
}

interface QueueEntry {
  callSid: string;
  enqueuedAt: number;
  /** The exclude list of this caller's last claim. */
  exclude: ReadonlySet<string>;
}

export interface MemoryPresenceOptions {
  /** Waiter.instance of this process's callers (default 'local'). */
  instanceId?: string;
  /** Epoch ms (tests). */
  now?: () => number;
}

export class MemoryPresence implements PresenceStore {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly queues = new Map<string, QueueEntry[]>();
  private readonly lastRang = new Map<string, string>();
  private readonly wrapTimers = new Map<string, NodeJS.Timeout>();
  private readonly listeners = new Set<() => void>();
  private readonly instance: string;
  private readonly now: () => number;
  private lastArrival = 0;
  private notifying: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(o: MemoryPresenceOptions = {}) {
    this.instance = o.instanceId ?? 'local';
    this.now = o.now ?? Date.now;
  }

  setRoster(agentIds: readonly string[]): Promise<void> {
    let added = false;
    for (const id of agentIds) {
      if (this.agents.has(id)) continue;
      this.agents.set(id, { state: 'available', paused: false, since: this.now(), lastCallEndedAt: undefined, callsTaken: 0, callSid: undefined, wrapUntil: 0 });
      added = true;
    }
    if (added) this.changed();
    return Promise.resolve();
  }

  enqueue(w: { line: string; callSid: string; enqueuedAt?: number }): Promise<Waiter> {
    let q = this.queues.get(w.line);
    if (!q) this.queues.set(w.line, (q = []));
    let e = q.find((x) => x.callSid === w.callSid);
    if (!e) q.push((e = { callSid: w.callSid, enqueuedAt: w.enqueuedAt ?? this.arrival(), exclude: new Set() }));
    else if (w.enqueuedAt !== undefined) e.enqueuedAt = w.enqueuedAt;
    q.sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.callSid < b.callSid ? -1 : 1));
    this.changed();
    return Promise.resolve(this.waiter(w.line, e));
  }

  leave(line: string, callSid: string): Promise<void> {
    const q = this.queues.get(line);
    const i = q?.findIndex((x) => x.callSid === callSid) ?? -1;
    if (q && i >= 0) {
      q.splice(i, 1);
      if (q.length === 0) this.queues.delete(line);
      this.changed();
    }
    return Promise.resolve();
  }

  queue(line: string): Promise<Waiter[]> {
    return Promise.resolve((this.queues.get(line) ?? []).map((e) => this.waiter(line, e)));
  }

  claim(req: ClaimRequest): Promise<string[]> {
    const q = this.queues.get(req.line) ?? [];
    const me = q.find((e) => e.callSid === req.callSid);
    if (!me) return Promise.resolve([]);
    me.exclude = new Set(req.exclude ?? []);
    const dialled = new Set<string>();
    for (const a of this.agents.values()) if (a.callSid !== undefined) dialled.add(a.callSid);
    const free = req.candidates.filter((id) => {
      const a = this.agents.get(id);
      return a !== undefined && agentState(a) === 'available';
    });
    if (dialled.has(req.callSid)) return Promise.resolve([]);
    for (const e of q) {
      if (e === me) break;
      if (!dialled.has(e.callSid) && free.some((id) => !e.exclude.has(id))) return Promise.resolve([]);
    }
    const mine = free.filter((id) => !me.exclude.has(id));
    const ids = pickAgents(req.strategy, mine, req.candidates, (id) => this.agents.get(id)!, this.lastRang.get(req.line));
    if (ids.length === 0) return Promise.resolve([]);
    const now = this.now();
    for (const id of ids) Object.assign(this.agents.get(id)!, { state: 'ringing', since: now, callSid: req.callSid });
    this.lastRang.set(req.line, ids[ids.length - 1]!);
    this.changed(); // the next caller may now be the head
    return Promise.resolve(ids);
  }

  connected(agentId: string, callSid: string): Promise<void> {
    const a = this.agents.get(agentId);
    if (a && a.callSid === callSid && a.state === 'ringing') Object.assign(a, { state: 'on-call', since: this.now() });
    return Promise.resolve();
  }

  release(agentId: string, callSid: string, o: { wrapUpMs: number; answered: boolean }): Promise<void> {
    const a = this.agents.get(agentId);
    if (!a || a.callSid !== callSid) return Promise.resolve();
    const now = this.now();
    a.callSid = undefined;
    a.since = now;
    if (o.answered) {
      a.callsTaken++;
      a.lastCallEndedAt = now;
    }
    if (o.wrapUpMs > 0) {
      a.state = 'wrap-up';
      a.wrapUntil = now + o.wrapUpMs;
      this.wrapTimer(agentId, o.wrapUpMs);
    } else {
      a.state = 'available';
    }
    this.changed();
    return Promise.resolve();
  }

  setPaused(agentId: string, paused: boolean): Promise<void> {
    const a = this.agents.get(agentId);
    if (!a || a.paused === paused) return Promise.resolve();
    const before = agentState(a);
    a.paused = paused;
    if (agentState(a) !== before) a.since = this.now();
    this.changed();
    return Promise.resolve();
  }

  snapshot(): Promise<AgentPresence[]> {
    return Promise.resolve(
      [...this.agents].map(([id, a]) => ({ id, state: agentState(a), since: a.since, lastCallEndedAt: a.lastCallEndedAt, callsTaken: a.callsTaken, callSid: a.callSid })),
    );
  }

  onChange(cb: () => void): () => void {
    const entry = () => cb();
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  close(): Promise<void> {
    this.closed = true;
    for (const t of this.wrapTimers.values()) clearTimeout(t);
    this.wrapTimers.clear();
    if (this.notifying) clearImmediate(this.notifying);
    this.listeners.clear();
    return Promise.resolve();
  }

  private wrapTimer(agentId: string, ms: number): void {
    clearTimeout(this.wrapTimers.get(agentId));
    const t = setTimeout(() => {
      this.wrapTimers.delete(agentId);
      const a = this.agents.get(agentId);
      if (!a || a.state !== 'wrap-up') return;
      a.state = 'available';
      if (!a.paused) a.since = a.wrapUntil;
      this.changed();
    }, ms);
    t.unref();
    this.wrapTimers.set(agentId, t);
  }

  /** Now, but later than every arrival before: `enqueuedAt` alone orders the queue, re-queued callers included. */
  private arrival(): number {
    this.lastArrival = Math.max(this.now(), this.lastArrival + 1);
    return this.lastArrival;
  }

  private waiter(line: string, e: QueueEntry): Waiter {
    return { line, callSid: e.callSid, enqueuedAt: e.enqueuedAt, instance: this.instance };
  }

  /** Tells the listeners on a later turn, once for every change made meanwhile. */
  private changed(): void {
    if (this.notifying || this.closed) return;
    this.notifying = setImmediate(() => {
      this.notifying = undefined;
      for (const cb of [...this.listeners]) {
        try {
          cb();
        } catch {
          // a listener's failure is its own; the others still hear of the change
        }
      }
    });
  }
}
