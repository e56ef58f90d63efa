/**
 * The sidecar of a recording: plain JSON beside the encrypted file, not secret, so that an
 * operator can find, keep or delete recordings without decrypting them. It names no phone
 * number: numbers appear as their last four digits, file names carry a time and a random id.
 * Rewritten whole (temporary file + rename) at the start, when the agent joins and at the end;
 * `status: "recording"` left behind by a writer that died is turned into "truncated" by the sweep.
 */
import { hostname } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { maskPhonesIn } from '../observability/logger.js';

export type RecordingStatus = 'recording' | 'complete' | 'failed' | 'truncated';

export interface Sidecar {
  version: 1;
  /** The encrypted recording beside this sidecar. */
  file: string;
  status: RecordingStatus;
  kind: 'line' | 'hotline';
  /** The dialled line's last four digits. */
  line?: string;
  /** The caller's last four digits. */
  caller?: string;
  /** The agent who answered: a number's last four digits, or a SIP / client identity (numbers in it masked). */
  agent?: string;
  /** When the first audio was recorded (ISO 8601, UTC). */
  start: string;
  end?: string;
  durationS?: number;
  /** How the call ended (customer-hung-up, agent-hung-up, no-answer, shutdown, ...). */
  outcome?: string;
  mask?: 'agent' | 'both';
  /** The agent's masked voice (hotline: the caller's). */
  voice?: string;
  /** The customer's masked voice with mask: both. */
  customerVoice?: string;
  /** The line's notice, spoken to the caller before the stream opened (any number in it masked); null: the line has none. */
  notice?: string | null;
  audio: {
    container: 'wav';
    codec: 'mu-law';
    sampleRate: number;
    /** What each channel holds, in order (left first). */
    channels: string[];
  };
  encryption: { format: 'age-encryption.org/v1'; recipients: number; chunkBytes: number };
  /** Encrypted bytes on disk. */
  bytes?: number;
  /** Why the recording stopped early (status failed). */
  error?: string;
  /** What an operator should know about this file (failed or truncated recordings). */
  note?: string;
  /** The process that wrote it (the sweep tells a dead writer's leftovers from a live one's). */
  writer: { host: string; pid: number; instance: string };
}

/** This process, as sidecars name their writer. */
export const WRITER = Object.freeze({ host: hostname(), pid: process.pid, instance: randomUUID() });

/** Digits only, the last four ("0111"); undefined for nothing. */
export function lastFour(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const digits = value.replace(/\D/g, '');
  return digits.length === 0 ? undefined : digits.slice(-4);
}

/** An agent as the sidecar names it: a number by its last four digits, an identity with any number in it masked. */
export function agentLabel(agent: string | undefined): string | undefined {
  if (!agent) return undefined;
  if (/^\+?[\d\s().-]+$/.test(agent)) return lastFour(agent);
  return maskPhonesIn(agent);
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** A file name base: UTC time (no run of digits longer than four) and a random id; never a phone number. */
export function recordingBase(kind: 'line' | 'hotline', at = new Date()): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const id = Array.from(randomBytes(8), (b) => LETTERS[b % 26]).join('');
  return `${stamp}-${kind}-${id}`;
}

/** Names the sweep recognises as recordings of this bridge (and nothing else in the folder). */
export const RECORDING_FILE = /^(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-(?:line|hotline)-[a-z]{8})\.(wav\.age|json|json\.tmp)$/;
export const AUDIO_SUFFIX = '.wav.age';
export const SIDECAR_SUFFIX = '.json';

/** Replaces the sidecar whole: a reader never sees half of one. */
export async function writeSidecar(file: string, s: Sidecar): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, file);
}

export async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as Sidecar;
    return v && typeof v === 'object' && v.version === 1 ? v : undefined;
  } catch {
    return undefined;
  }
}
