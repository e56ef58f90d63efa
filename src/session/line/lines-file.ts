/**
 * The lines file (LINES_CONFIG): which dialled number reaches which agents, how callers wait,
 * with which voice, mask direction and notice. YAML or JSON, read and validated at start-up and
 * on each reload; every problem is reported at once, naming the file, the line and the field.
 *
 *   agents:                       # optional roster: one person may serve several lines
 *     alice: { endpoint: "+14155550111", voice: deep-male, persona: stable }
 *     bob: "sip:bob@pbx.example.com"
 *   lines:
 *     "+14155550100":
 *       agents: [alice, bob, "+14155550113", { id: carol, endpoint: "client:carol" }]
 *       strategy: longest-idle    # linear | rrmemory | fewestcalls | ringall
 *       voice: deep-male          # default: the converter's default voice (an agent's own voice wins)
 *       persona: per-call         # or stable: an agent keeps one voice on every call
 *       mask: agent               # or both; default: MASK
 *       customerVoice: neutral-female  # the customer's masked voice with mask: both
 *       notice: This call is voice masked.
 *       screen: true              # an agent joins only after pressing 1 (default true)
 *       acceptTimeoutS: 10        # time to press 1
 *       ringTimeoutS: 20          # how long each agent rings
 *       wrapUpS: 5                # after a call, before the agent is offered the next one
 *       maxWaitS: 300             # in the queue, then the overflow
 *       overflow: "+14155550200"  # another line of this file; absent: a message and hang-up
 *       holdAudio: /etc/voice-mask/hold.mp3     # WAV or MP3; default: the embedded hold music
 *       holdMessage: /etc/voice-mask/wait.wav   # played every holdMessageEveryS while waiting
 *       holdMessageEveryS: 30
 *       callerId: "+14155550100"  # From of the agent calls; default the line number
 *       fallbackTwiml: <Response><Say>Please call again later.</Say></Response>
 *
 * An agent given as a plain string is its own id. TwiML that would bridge audio to a phone
 * (<Dial>, <Conference>, <Enqueue>, <Connect>, ...) is refused: it would be an unmasked path.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, VOICE_ID_PATTERN } from '../../config/env.js';

export const E164 = /^\+[1-9]\d{6,14}$/;
const SIP = /^sip:[^\s@<>"]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s<>"]*)?$/;
const CLIENT = /^client:[A-Za-z0-9_.-]{1,121}$/;

const endpoint = z.string().refine((v) => E164.test(v) || SIP.test(v) || CLIENT.test(v), {
  message: 'expected an E.164 number (+14155550123), a SIP URI (sip:user@host) or a Twilio Client identity (client:alice)',
});
const AGENT_ID = /^[A-Za-z0-9_.:@+-]{1,64}$/;
const voiceId = z.string().regex(VOICE_ID_PATTERN, 'expected a voice id (letters, digits, _ or -)');
const persona = z.enum(['stable', 'per-call'], { error: 'expected "stable" or "per-call"' });
const agentRecord = z
  .object({
    id: z.string().regex(AGENT_ID, 'expected an agent id (letters, digits and _ . : @ + -, at most 64)').optional(),
    endpoint,
    voice: voiceId.optional(),
    persona: persona.optional(),
  })
  .strict();
/** A line's agent: a roster id, an endpoint (its own id), or a record. */
const lineAgent = z.union([z.string().min(1, 'expected an agent id or endpoint'), agentRecord], { error: 'expected an agent id, an endpoint, or { id, endpoint, voice?, persona? }' });
const rosterAgent = z.union([endpoint, agentRecord.omit({ id: true })], { error: 'expected an endpoint or { endpoint, voice?, persona? }' });

const seconds = (min: number, max: number) =>
  z.number({ error: `expected a number of seconds from ${min} to ${max}` }).int(`expected a whole number of seconds from ${min} to ${max}`).min(min, `expected at least ${min} seconds`).max(max, `expected at most ${max} seconds`);

/** TwiML verbs that connect the caller's audio to somebody: never in a masked line's TwiML. */
const BRIDGING = /<\s*(Dial|Conference|Enqueue|Queue|Connect|Stream|Sip|Client|Number|Refer|Siprec|Redirect|VirtualAgent)\b/i;
const twiml = z
  .string()
  .refine((v) => /^\s*(<\?xml[^>]*\?>\s*)?<Response[\s>][\s\S]*<\/Response>\s*$/.test(v), {
    message: 'expected a TwiML document: <Response>...</Response>',
  })
  .refine((v) => !BRIDGING.test(v), {
    message: 'bridges audio to a phone or a URL (<Dial>, <Conference>, <Enqueue>, <Connect>, <Redirect>, ...): an unmasked path; use overflow: to send callers to another masked line, or a message (<Say>, <Play>) and <Hangup/>',
  });
const audioFile = z.string().regex(/\.(wav|mp3)$/i, 'expected the path of a .wav or .mp3 file');

const lineSchema = z
  .object({
    agents: z.array(lineAgent, { error: 'expected a list of agents' }).min(1, 'expected at least one agent').max(50, 'expected at most 50 agents'),
    strategy: z.enum(['longest-idle', 'linear', 'rrmemory', 'fewestcalls', 'ringall'], { error: 'expected one of longest-idle, linear, rrmemory, fewestcalls, ringall' }).optional(),
    ring: z.enum(['sequential', 'simultaneous'], { error: 'expected "sequential" or "simultaneous"' }).optional(),
    voice: voiceId.optional(),
    voices: z.array(voiceId).min(1).optional(),
    persona: persona.optional(),
    mask: z.enum(['agent', 'both'], { error: 'expected "agent" or "both"' }).optional(),
    customerVoice: voiceId.optional(),
    notice: z.string().min(1, 'expected a non-empty sentence').max(1000, 'expected at most 1000 characters').optional(),
    screen: z.boolean({ error: 'expected true or false' }).optional(),
    acceptTimeoutS: seconds(3, 60).optional(),
    dialTimeoutS: seconds(5, 600).optional(),
    ringTimeoutS: seconds(5, 600).optional(),
    wrapUpS: seconds(0, 600).optional(),
    maxWaitS: seconds(0, 3600).optional(),
    overflow: z.string().regex(E164, 'expected the dialled number of another line of this file, such as "+14155550123"').optional(),
    overflowMessage: z.string().min(1).max(1000, 'expected at most 1000 characters').optional(),
    holdAudio: audioFile.optional(),
    holdMessage: audioFile.optional(),
    holdMessageEveryS: seconds(5, 3600).optional(),
    record: z.boolean({ error: 'expected true or false' }).optional(),
    callerId: z.string().regex(E164, 'expected an E.164 number such as +14155550123').optional(),
    fallbackTwiml: twiml.optional(),
  })
  .strict();

const fileSchema = z
  .object({
    agents: z.record(z.string().regex(AGENT_ID, 'expected an agent id (letters, digits and _ . : @ + -, at most 64)'), rosterAgent, { error: 'expected a map of agent ids to agents' }).optional(),
    lines: z.record(z.string(), lineSchema, { error: 'expected a map of dialled numbers to lines' }),
  })
  .strict();

export type LineConfigInput = z.input<typeof lineSchema>;
export type Strategy = 'longest-idle' | 'linear' | 'rrmemory' | 'fewestcalls' | 'ringall';

/** A person who answers a line's calls. */
export interface AgentConfig {
  /** Stable id: presence, persona seed, metrics (a plain-string agent is its own endpoint). */
  readonly id: string;
  /** What the bridge dials: an E.164 number, a SIP URI or client:identity. */
  readonly endpoint: string;
  /** The agent's own masked voice (undefined: the line's). */
  readonly voice: string | undefined;
  /** undefined: the line's. */
  readonly persona: 'stable' | 'per-call' | undefined;
}

/** One line, fully resolved: every default applied. */
export interface LineConfig {
  /** The dialled number (the To of the customer's call), E.164. */
  readonly number: string;
  readonly agents: readonly AgentConfig[];
  readonly strategy: Strategy;
  /** undefined: the converter's default voice. */
  readonly voice: string | undefined;
  /** Voices the agent's DTMF key cycles through (undefined: the embedded engine's presets). */
  readonly voices: readonly string[] | undefined;
  readonly persona: 'stable' | 'per-call';
  readonly mask: 'agent' | 'both';
  /** The customer's voice when mask is 'both' (undefined: the converter's default voice). */
  readonly customerVoice: string | undefined;
  readonly notice: string | undefined;
  /** Whether an agent must press 1 before joining. */
  readonly screen: boolean;
  readonly acceptTimeoutS: number;
  /** One round of dialling (every agent of the round), before the caller waits for the next. */
  readonly dialTimeoutS: number;
  readonly ringTimeoutS: number;
  readonly wrapUpS: number;
  readonly maxWaitS: number;
  /** Another line's number the caller moves to after maxWaitS; undefined: message and hang-up. */
  readonly overflow: string | undefined;
  readonly overflowMessage: string | undefined;
  readonly holdAudio: string | undefined;
  readonly holdMessage: string | undefined;
  readonly holdMessageEveryS: number;
  /** undefined: on when RECORDINGS_DIR is set. */
  readonly record: boolean | undefined;
  readonly callerId: string;
  readonly fallbackTwiml: string | undefined;
}

export interface LinesConfig {
  readonly file: string;
  readonly lines: ReadonlyMap<string, LineConfig>;
  /** Every agent of every line, by id. */
  readonly agents: ReadonlyMap<string, AgentConfig>;
  /** Settings that work but that an operator should know about. */
  readonly warnings: readonly string[];
  get(dialled: string | undefined): LineConfig | undefined;
}

/** A ConfigError (start-up stops with every problem listed), each problem naming the file. */
export class LinesConfigError extends ConfigError {
  override name = 'LinesConfigError';
  constructor(
    readonly file: string,
    /** The problems without the file name. */
    readonly details: string[],
  ) {
    super(details.map((d) => `LINES_CONFIG ${file}: ${d}`));
  }
}

export interface LineDefaults {
  mask: 'agent' | 'both';
  /** AGENT_DIAL_TIMEOUT: one round of dialling, at least one ring time. */
  dialTimeoutS: number;
}

/** Reads and validates the lines file. Throws LinesConfigError listing every problem. */
export function loadLinesFile(file: string, defaults: LineDefaults): LinesConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new LinesConfigError(abs, [`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseLines(text, abs, defaults);
}

/** Validates the text of a lines file (YAML, which includes JSON). `file` names it in errors. */
export function parseLines(text: string, file: string, defaults: LineDefaults): LinesConfig {
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new LinesConfigError(file, [`is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    throw new LinesConfigError(
      file,
      r.error.issues.map((i) => {
        const [top, number, field, ...rest] = i.path.map(String);
        if (top === 'agents' && number !== undefined) {
          if (i.code === 'unrecognized_keys') return `agent "${number}": unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
          return `agent "${number}": ${field === undefined ? '' : `${field}: `}${i.message}`;
        }
        if (top !== 'lines' || number === undefined) {
          if (i.code === 'unrecognized_keys') return `unknown top-level key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}: expected only "agents" and "lines"`;
          return `${i.path.length ? i.path.join('.') : 'the document'}: ${raw === null || raw === undefined ? 'is empty; expected "lines:"' : i.message}`;
        }
        if (i.code === 'unrecognized_keys') return `line "${number}": unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
        const where = field === undefined ? '' : `${field}${rest.map((p) => `[${p}]`).join('')}: `;
        return `line "${number}": ${where}${i.message}`;
      }),
    );
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  const agents = new Map<string, AgentConfig>();
  const byEndpoint = new Map<string, string>();
  const addAgent = (a: AgentConfig, where: string): AgentConfig | undefined => {
    const known = agents.get(a.id);
    if (known) {
      if (known.endpoint !== a.endpoint || known.voice !== a.voice || known.persona !== a.persona) {
        problems.push(`${where}: agent "${a.id}" is defined twice, differently (define it once in agents: and name it by id)`);
        return undefined;
      }
      return known;
    }
    const other = byEndpoint.get(a.endpoint);
    if (other !== undefined) {
      problems.push(`${where}: the endpoint of agent "${a.id}" is already agent "${other}"'s: one person, one id`);
      return undefined;
    }
    const frozen = Object.freeze({ ...a });
    agents.set(a.id, frozen);
    byEndpoint.set(a.endpoint, a.id);
    return frozen;
  };
  for (const [id, a] of Object.entries(r.data.agents ?? {})) {
    addAgent(typeof a === 'string' ? { id, endpoint: a, voice: undefined, persona: undefined } : { id, endpoint: a.endpoint, voice: a.voice, persona: a.persona }, `agent "${id}"`);
  }
  const roster = new Set(agents.keys());

  const lines = new Map<string, LineConfig>();
  for (const [number, l] of Object.entries(r.data.lines)) {
    if (!E164.test(number)) {
      problems.push(`line "${number}": the key must be the dialled number in E.164 form, such as "+14155550123" (quote it in YAML)`);
      continue;
    }
    const where = (field: string) => `line "${number}": ${field}`;
    const lineAgents: AgentConfig[] = [];
    for (const [i, a] of l.agents.entries()) {
      let resolved: AgentConfig | undefined;
      if (typeof a === 'string') {
        if (roster.has(a)) resolved = agents.get(a);
        else if (E164.test(a) || SIP.test(a) || CLIENT.test(a)) resolved = addAgent({ id: a, endpoint: a, voice: undefined, persona: undefined }, where(`agents[${i}]`));
        else problems.push(`${where(`agents[${i}]`)}: "${a}" is neither an agent of agents: nor an endpoint (an E.164 number, sip:user@host or client:name)`);
      } else {
        resolved = addAgent({ id: a.id ?? a.endpoint, endpoint: a.endpoint, voice: a.voice, persona: a.persona }, where(`agents[${i}]`));
      }
      if (!resolved) continue;
      if (lineAgents.some((x) => x.id === resolved.id)) problems.push(`${where('agents')}: "${resolved.id}" is listed twice`);
      else lineAgents.push(resolved);
    }
    if (l.strategy && l.ring) problems.push(`${where('ring')}: give either strategy or ring (ring: simultaneous is strategy: ringall)`);
    const strategy: Strategy = l.strategy ?? (l.ring === 'simultaneous' ? 'ringall' : l.ring === 'sequential' ? 'linear' : 'longest-idle');
    const ringTimeoutS = l.ringTimeoutS ?? Math.min(20, l.dialTimeoutS ?? 20);
    const dialTimeoutS = l.dialTimeoutS ?? Math.max(defaults.dialTimeoutS, ringTimeoutS);
    if (ringTimeoutS > dialTimeoutS) problems.push(`${where('ringTimeoutS')}: (${ringTimeoutS}) is longer than dialTimeoutS (${dialTimeoutS})`);
    if (ringTimeoutS < 15) warnings.push(`${where('ringTimeoutS')}: ${ringTimeoutS} s is shorter than most people take to answer (15 s or more is usual)`);
    if (strategy === 'linear' && lineAgents.length * ringTimeoutS > dialTimeoutS) {
      warnings.push(`${where('dialTimeoutS')}: ${lineAgents.length} agents × ringTimeoutS ${ringTimeoutS} s is more than dialTimeoutS ${dialTimeoutS} s: ringing them one after another takes longer than one round of dialling`);
    }
    const screen = l.screen ?? true;
    if (!screen) warnings.push(`${where('screen')}: off: an agent's voicemail or a wrong person answering is joined to the caller; use it only for dedicated endpoints without voicemail`);
    if (l.overflow === number) problems.push(`${where('overflow')}: is this line itself`);
    if (l.holdMessageEveryS !== undefined && !l.holdMessage) problems.push(`${where('holdMessageEveryS')}: set holdMessage too`);
    lines.set(
      number,
      Object.freeze({
        number,
        agents: Object.freeze(lineAgents),
        strategy,
        voice: l.voice,
        voices: l.voices ? Object.freeze([...l.voices]) : undefined,
        persona: l.persona ?? 'per-call',
        mask: l.mask ?? defaults.mask,
        customerVoice: l.customerVoice,
        notice: l.notice,
        screen,
        acceptTimeoutS: l.acceptTimeoutS ?? 10,
        dialTimeoutS,
        ringTimeoutS,
        wrapUpS: l.wrapUpS ?? 5,
        maxWaitS: l.maxWaitS ?? 300,
        overflow: l.overflow,
        overflowMessage: l.overflowMessage,
        holdAudio: l.holdAudio,
        holdMessage: l.holdMessage,
        holdMessageEveryS: l.holdMessageEveryS ?? 30,
        record: l.record,
        callerId: l.callerId ?? number,
        fallbackTwiml: l.fallbackTwiml,
      }),
    );
  }
  for (const l of lines.values()) {
    if (l.overflow !== undefined && !lines.has(l.overflow)) problems.push(`line "${l.number}": overflow: "${l.overflow}" is not a line of this file`);
  }
  for (const id of roster) {
    if (![...lines.values()].some((l) => l.agents.some((a) => a.id === id))) warnings.push(`agent "${id}": serves no line`);
  }
  if (lines.size === 0 && problems.length === 0) problems.push('lines: no line is configured');
  if (problems.length) throw new LinesConfigError(file, problems);
  return Object.freeze({
    file,
    lines,
    agents,
    warnings: Object.freeze(warnings),
    get: (dialled: string | undefined) => (dialled ? lines.get(dialled.trim()) : undefined),
  });
}

/** Checks each line's voices against what the converter offers (known only once it is built). */
export function checkLineVoices(cfg: LinesConfig, isValid: (id: string) => boolean, describe: () => string): void {
  const problems: string[] = [];
  for (const l of cfg.lines.values()) {
    for (const [field, v] of [['voice', l.voice], ['customerVoice', l.customerVoice]] as const) {
      if (v !== undefined && !isValid(v)) problems.push(`line "${l.number}": ${field}: unknown voice "${v}"; expected one of ${describe()}`);
    }
    for (const [i, a] of l.agents.entries()) {
      if (a.voice !== undefined && !isValid(a.voice)) problems.push(`line "${l.number}": agents[${i}] ("${a.id}"): voice: unknown voice "${a.voice}"; expected one of ${describe()}`);
    }
    for (const [i, v] of (l.voices ?? []).entries()) {
      if (!isValid(v)) problems.push(`line "${l.number}": voices[${i}]: unknown voice "${v}"; expected one of ${describe()}`);
    }
  }
  if (problems.length) throw new LinesConfigError(cfg.file, problems);
}
