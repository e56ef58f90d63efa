/**
 * The lines file (LINES_CONFIG): which dialled number rings which agents, with which voice,
 * mask direction and notice. YAML or JSON, read and validated once at start-up, so a bad file
 * stops the process before the first call; every problem is reported at once, naming the file,
 * the line and the field.
 *
 *   lines:
 *     "+14155550100":
 *       agents: ["+14155550111", "sip:agent@pbx.example.com", "client:alice"]
 *       ring: sequential          # or simultaneous (first to answer wins)
 *       voice: deep-male          # default: the converter's default voice
 *       mask: agent               # or both; default: MASK
 *       customerVoice: neutral-female  # the customer's masked voice with mask: both
 *       notice: This call is voice masked.
 *       dialTimeoutS: 30          # no agent within this: message + hang-up; default AGENT_DIAL_TIMEOUT
 *       ringTimeoutS: 15          # how long each agent rings
 *       callerId: "+14155550100"  # From of the agent calls; default the line number
 *       fallbackTwiml: <Response><Dial>+14155550199</Dial></Response>
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, VOICE_ID_PATTERN } from '../../config/env.js';

export const E164 = /^\+[1-9]\d{6,14}$/;
const SIP = /^sip:[^\s@<>"]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s<>"]*)?$/;
const CLIENT = /^client:[A-Za-z0-9_.-]{1,121}$/;

const agent = z.string().refine((v) => E164.test(v) || SIP.test(v) || CLIENT.test(v), {
  message: 'expected an E.164 number (+14155550123), a SIP URI (sip:user@host) or a Twilio Client identity (client:alice)',
});

const seconds = (min: number, max: number) =>
  z.number({ error: `expected a number of seconds from ${min} to ${max}` }).int(`expected a whole number of seconds from ${min} to ${max}`).min(min, `expected at least ${min} seconds`).max(max, `expected at most ${max} seconds`);

const lineSchema = z
  .object({
    agents: z.array(agent, { error: 'expected a list of agents' }).min(1, 'expected at least one agent').max(20, 'expected at most 20 agents'),
    ring: z.enum(['sequential', 'simultaneous'], { error: 'expected "sequential" or "simultaneous"' }).default('sequential'),
    voice: z.string().regex(VOICE_ID_PATTERN, 'expected a voice id (letters, digits, _ or -)').optional(),
    voices: z.array(z.string().regex(VOICE_ID_PATTERN, 'expected a voice id (letters, digits, _ or -)')).min(1).optional(),
    mask: z.enum(['agent', 'both'], { error: 'expected "agent" or "both"' }).optional(),
    customerVoice: z.string().regex(VOICE_ID_PATTERN, 'expected a voice id (letters, digits, _ or -)').optional(),
    notice: z.string().min(1, 'expected a non-empty sentence').max(1000, 'expected at most 1000 characters').optional(),
    dialTimeoutS: seconds(5, 600).optional(),
    ringTimeoutS: seconds(5, 600).optional(),
    callerId: z.string().regex(E164, 'expected an E.164 number such as +14155550123').optional(),
    fallbackTwiml: z
      .string()
      .refine((v) => /^\s*(<\?xml[^>]*\?>\s*)?<Response[\s>][\s\S]*<\/Response>\s*$/.test(v), {
        message: 'expected a TwiML document: <Response>...</Response>',
      })
      .optional(),
  })
  .strict();

const fileSchema = z
  .object({
    lines: z.record(z.string(), lineSchema, { error: 'expected a map of dialled numbers to lines' }),
  })
  .strict();

export type LineConfigInput = z.input<typeof lineSchema>;

/** One line, fully resolved: every default applied. */
export interface LineConfig {
  /** The dialled number (the To of the customer's call), E.164. */
  readonly number: string;
  readonly agents: readonly string[];
  readonly ring: 'sequential' | 'simultaneous';
  /** undefined: the converter's default voice. */
  readonly voice: string | undefined;
  /** Voices the agent's DTMF key cycles through (undefined: the embedded engine's presets). */
  readonly voices: readonly string[] | undefined;
  readonly mask: 'agent' | 'both';
  /** The customer's voice when mask is 'both' (undefined: the converter's default voice). */
  readonly customerVoice: string | undefined;
  readonly notice: string | undefined;
  readonly dialTimeoutS: number;
  readonly ringTimeoutS: number;
  readonly callerId: string;
  readonly fallbackTwiml: string | undefined;
}

export interface LinesConfig {
  readonly file: string;
  readonly lines: ReadonlyMap<string, LineConfig>;
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
        if (top !== 'lines' || number === undefined) {
          if (i.code === 'unrecognized_keys') return `unknown top-level key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}: expected only "lines"`;
          return `${i.path.length ? i.path.join('.') : 'the document'}: ${raw === null || raw === undefined ? 'is empty; expected "lines:"' : i.message}`;
        }
        if (i.code === 'unrecognized_keys') return `line "${number}": unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
        const where = field === undefined ? '' : `${field}${rest.map((p) => `[${p}]`).join('')}: `;
        return `line "${number}": ${where}${i.message}`;
      }),
    );
  }
  const problems: string[] = [];
  const lines = new Map<string, LineConfig>();
  for (const [number, l] of Object.entries(r.data.lines)) {
    if (!E164.test(number)) {
      problems.push(`line "${number}": the key must be the dialled number in E.164 form, such as "+14155550123" (quote it in YAML)`);
      continue;
    }
    const dup = l.agents.find((a, i) => l.agents.indexOf(a) !== i);
    if (dup) problems.push(`line "${number}": agents: "${dup}" is listed twice`);
    const dialTimeoutS = l.dialTimeoutS ?? defaults.dialTimeoutS;
    const ringTimeoutS = l.ringTimeoutS ?? (l.ring === 'sequential' ? Math.max(5, Math.ceil(dialTimeoutS / l.agents.length)) : dialTimeoutS);
    if (ringTimeoutS > dialTimeoutS) problems.push(`line "${number}": ringTimeoutS (${ringTimeoutS}) is longer than dialTimeoutS (${dialTimeoutS})`);
    lines.set(
      number,
      Object.freeze({
        number,
        agents: Object.freeze([...l.agents]),
        ring: l.ring,
        voice: l.voice,
        voices: l.voices ? Object.freeze([...l.voices]) : undefined,
        mask: l.mask ?? defaults.mask,
        customerVoice: l.customerVoice,
        notice: l.notice,
        dialTimeoutS,
        ringTimeoutS,
        callerId: l.callerId ?? number,
        fallbackTwiml: l.fallbackTwiml,
      }),
    );
  }
  if (lines.size === 0 && problems.length === 0) problems.push('lines: no line is configured');
  if (problems.length) throw new LinesConfigError(file, problems);
  return Object.freeze({
    file,
    lines,
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
    for (const [i, v] of (l.voices ?? []).entries()) {
      if (!isValid(v)) problems.push(`line "${l.number}": voices[${i}]: unknown voice "${v}"; expected one of ${describe()}`);
    }
  }
  if (problems.length) throw new LinesConfigError(cfg.file, problems);
}
