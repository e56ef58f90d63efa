/**
 * Agents' presence and the lines' queues: the contract shared by every instance of a contact
 * line. Without REDIS_URL it lives in this process (./presence-memory.ts); with REDIS_URL in
 * Redis (src/fleet/presence-redis.ts), with atomic claims, so two instances never ring one
 * agent at once, and leases, so a crashed instance's claims and waiting callers expire within
 * seconds.
 *
 * The shape follows the contact centers operators know (Asterisk app_queue, Twilio TaskRouter):
 * an agent is available, ringing (claimed for one caller), on a call, in wrap-up after a call,
 * or paused; a caller waits in the line's queue, first in first out across the fleet; an agent
 * is offered to the longest-waiting caller of a line that agent serves, chosen by the line's
 * strategy.
 */

export type AgentState = 'available' | 'ringing' | 'on-call' | 'wrap-up' | 'paused';

/**
 * How a line picks among its available agents (Asterisk app_queue names; TaskRouter's default
 * is longest-idle):
 *   longest-idle  the agent whose last call ended longest ago (never called: first)
 *   linear        the roster order, first available
 *   rrmemory      round robin, starting after the agent this line last rang
 *   fewestcalls   the agent who took the fewest calls
 *   ringall       every available agent at once (first to accept wins)
 */
export type Strategy = 'longest-idle' | 'linear' | 'rrmemory' | 'fewestcalls' | 'ringall';

export interface AgentPresence {
  readonly id: string;
  readonly state: AgentState;
  /** Epoch ms of the last state change. */
  readonly since: number;
  /** Epoch ms the agent's last call ended (undefined: none yet). */
  readonly lastCallEndedAt: number | undefined;
  /** Calls this agent took (answered and accepted). */
  readonly callsTaken: number;
  /** The caller (customer CallSid) the agent is ringing for or talking to. */
  readonly callSid: string | undefined;
}

export interface Waiter {
  readonly line: string;
  readonly callSid: string;
  /** Epoch ms the caller joined the queue: the queue's order. */
  readonly enqueuedAt: number;
  /** The instance that holds the caller's stream. */
  readonly instance: string;
}

export interface ClaimRequest {
  /** The line (its dialled number): its queue and its rrmemory position. */
  line: string;
  /** The waiting caller the agents are claimed for. */
  callSid: string;
  /** The line's agents in roster order. */
  candidates: readonly string[];
  strategy: Strategy;
  /** Agents not to offer this caller again (they did not accept it). */
  exclude?: readonly string[];
}

export interface PresenceStore {
  /** The agents every line of this configuration may ring; new ones start available. Idempotent. */
  setRoster(agentIds: readonly string[]): Promise<void>;

  /** Puts a caller at the back of the line's queue (or back at its place: `enqueuedAt` kept). */
  enqueue(w: { line: string; callSid: string; enqueuedAt?: number }): Promise<Waiter>;
  /** The caller left the queue (hung up, connected, or moved to another line). Idempotent. */
  leave(line: string, callSid: string): Promise<void>;
  /** The line's waiting callers, longest waiting first. */
  queue(line: string): Promise<Waiter[]>;

  /**
   * Atomically: when `callSid` is the longest-waiting caller of its line that is not already
   * being dialled, claims available agents for it by the strategy (one, or every available one
   * with 'ringall'), marks them ringing for `callSid` and returns their ids, in the order to
   * ring them. Returns [] when the caller is not at the head or nobody is available.
   */
  claim(req: ClaimRequest): Promise<string[]>;
  /** The claimed agent accepted the call: on a call. */
  connected(agentId: string, callSid: string): Promise<void>;
  /**
   * The agent's call for `callSid` ended (or the claim failed: not answered, busy, not
   * accepted): wrap-up for `wrapUpMs` then available (0: available at once). `answered` counts
   * a call taken. Does nothing when the agent is no longer claimed for `callSid`.
   */
  release(agentId: string, callSid: string, o: { wrapUpMs: number; answered: boolean }): Promise<void>;
  /** Pause or resume an agent (a paused agent is never claimed; a call in progress goes on). */
  setPaused(agentId: string, paused: boolean): Promise<void>;

  snapshot(): Promise<AgentPresence[]>;
  /**
   * Called whenever an agent may have become available or a queue changed, on this instance or
   * (with Redis) any other, within a second. Returns an unsubscribe function.
   */
  onChange(cb: () => void): () => void;
  /** Stops renewing this instance's leases and closes connections. */
  close(): Promise<void>;
}
