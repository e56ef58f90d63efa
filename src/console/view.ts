/**
 * What the operator console's page is sent (the live state over server-sent events, and the
 * actions' answers). Types only: the front end (console/) imports them too.
 *
 * Privacy: a caller is only ever the last four digits of their number; a line or an agent
 * whose id is a phone number is shown masked; nothing of any call's audio is here.
 */

export type LiveState = 'connecting' | 'queued' | 'ringing' | 'screening' | 'connected';

export interface LiveCall {
  /** The CallSid (an identifier, not a number): what an action names. */
  id: string;
  kind: string;
  state: LiveState;
  /** Epoch ms the call started (the webhook for a line, the stream for a hotline call). */
  startedAt: number;
  /** Epoch ms the caller joined the queue (line calls). */
  queuedAt?: number;
  /** Epoch ms the agent joined (line calls). */
  connectedAt?: number;
  /** The caller's last four digits. */
  caller?: string;
  /** The line, masked. */
  line?: string;
  agent?: string;
  voice?: string;
  /** The converter masking this call, e.g. "embedded, streaming" or "ElevenLabs". */
  converter: string;
}

export interface QueueEntry {
  /** Epoch ms the caller joined the queue. */
  since: number;
  caller?: string;
  /** Whether this instance holds the caller (with Redis, other instances' callers are listed too). */
  here: boolean;
}

export interface LineView {
  /** The line, masked. */
  label: string;
  strategy: string;
  agents: number;
  available: number;
  queue: QueueEntry[];
  /** Calls of this line on this instance by phase. */
  ringing: number;
  connected: number;
}

export interface AgentView {
  /** An opaque handle for actions (the id may be a phone number). */
  key: string;
  /** The agent's id, masked when it is a number. */
  label: string;
  state: 'available' | 'ringing' | 'on-call' | 'wrap-up' | 'paused' | 'unknown';
  /** Epoch ms of the last state change. */
  since: number;
  callsTaken: number;
  paused: boolean;
  /** The lines (masked) this agent answers. */
  lines: string[];
  /** The call the agent rings for or talks on, when it is on this instance. */
  callId?: string;
}

export interface ConverterView {
  engine: 'elevenlabs' | 'local';
  mode: 'phrase' | 'streaming';
  /** What masks while ElevenLabs cannot (FALLBACK). */
  fallback?: 'local' | 'silence';
  circuit?: 'closed' | 'open' | 'half-open';
  /** ElevenLabs slots: in flight and waiting on this instance; the limit now; the account's. */
  slots?: { inFlight: number; queued: number; limit?: number; accountLimit?: number; accountInUse?: number; poolInFlight?: number };
  /** Over the last `windowS` seconds. */
  recent: { windowS: number; concurrency429: number; retried429: number; fallbacks: number; dropped: number };
  /** The embedded engine: share of one core its DSP used over the last seconds (0..1+), streams open. */
  engineLoad: number;
  /** The event loop: p99 delay over the last seconds (ms) and utilisation (0..1). */
  eventLoop: { lagMs: number; utilization: number };
}

export interface FinishedCall {
  id: string;
  kind: string;
  /** completed, abandoned, no agent, ended by operator, error, shutdown, not connected. */
  outcome: string;
  endedAt: number;
  durationS: number;
  /** Seconds in the queue (line calls). */
  waitS?: number;
  line?: string;
  agent?: string;
}

export interface VoiceOption {
  id: string;
  name: string;
  description: string;
}

export interface ConsoleState {
  /** Server time (epoch ms) the state was taken: the page's clock offset. */
  at: number;
  instance: { activeCalls: number; maxCalls: number; draining: boolean; lines: boolean; redis: boolean };
  calls: LiveCall[];
  /** Undefined without contact lines. */
  lines?: LineView[];
  agents?: AgentView[];
  converter: ConverterView;
  /** Newest first, at most 100. */
  finished: FinishedCall[];
}

export interface LabResult {
  voice: string;
  seconds: number;
  /** What the phone line carries of the original (8 kHz), and the same masked: WAV, base64. */
  original: string;
  masked: string;
  /** How the lab masked it, e.g. "embedded engine, streaming (as calls)". */
  engine: string;
  ms: number;
}

export interface ReloadView {
  ok: boolean;
  problems: string[];
  warnings: string[];
}
