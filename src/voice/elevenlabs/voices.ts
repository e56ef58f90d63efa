/**
 * ElevenLabs' voices, looked up by id with the configured key (GET {base}/v1/voices/{voice_id},
 * `xi-api-key`): whether the account can use a voice, and its labels (gender, age, ...), which
 * choose the embedded engine's preset when the fallback masks a phrase of that voice.
 *
 * `ElevenLabsVoices` checks the voices the configuration names. An answer is one of:
 *  - found: the voice exists; its labels are kept;
 *  - unknown: ElevenLabs refuses the id (404 voice_not_found; 400 in older API versions): a
 *    configuration error at start-up;
 *  - no answer (timeout, 5xx, 429, network): the voice stays unchecked and is looked up again in
 *    the background, with backoff, until ElevenLabs answers; the answer is logged then, and an
 *    unknown voice found that way is a loud error and a metric, never a reason to stop calls;
 *  - a refused key (401/403: a key restricted to speech-to-speech, a bad key): the voice stays
 *    unchecked, with a warning; asking again would get the same answer.
 * What an error means is read from its policy (../errors.ts): 'refused' is unknown, 'auth' a
 * refused key, anything else no answer.
 */
import { Pool } from 'undici';
import type { Logger } from '../../observability/logger.js';
import { ConversionError, policyOf } from '../errors.js';
import { readText } from './client.js';
import { errorFromResponse, errorFromTransport } from './failures.js';

/** What ElevenLabs says of one voice. */
export interface VoiceInfo {
  readonly voiceId: string;
  readonly name: string | undefined;
  /** premade, cloned, generated, professional, ... */
  readonly category: string | undefined;
  /** accent, age, gender, description, use_case, ... (strings only). */
  readonly labels: Readonly<Record<string, string>>;
}

export interface VoiceLookupOptions {
  apiKey: string;
  /** As ELEVENLABS_BASE_URL (a path prefix allowed). */
  baseUrl: string;
  connectTimeoutMs: number;
  /** Longest one lookup may take, connection included. */
  timeoutMs: number;
}

/** The lookup URL's path for a base URL (with or without a trailing slash or a path prefix). */
export function voicePath(baseUrl: string, voiceId: string): string {
  const prefix = new URL(baseUrl).pathname.replace(/\/+$/, '');
  return `${prefix}/v1/voices/${encodeURIComponent(voiceId)}`;
}

const MAX_BODY = 256 * 1024;

/** GET /v1/voices/{voice_id} over its own keep-alive pool. */
export class VoiceLookup {
  private readonly pool: Pool;

  constructor(private readonly opts: VoiceLookupOptions) {
    this.pool = new Pool(new URL(opts.baseUrl).origin, { connect: { timeout: opts.connectTimeoutMs }, connections: 4, keepAliveTimeout: 5_000 });
  }

  /** The voice, or a ConversionError saying what happened (its policy tells unknown, key or no answer). */
  async get(voiceId: string, signal?: AbortSignal): Promise<VoiceInfo> {
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    const all = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const timedOut = () => new ConversionError(`ElevenLabs did not answer GET /v1/voices/${voiceId} within ${this.opts.timeoutMs} ms`, 'timeout');
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({ path: voicePath(this.opts.baseUrl, voiceId), method: 'GET', headers: { 'xi-api-key': this.opts.apiKey, accept: 'application/json' }, signal: all });
    } catch (err) {
      throw deadline.aborted ? timedOut() : errorFromTransport(err, false);
    }
    let text: string;
    try {
      text = await readText(res.body as AsyncIterable<Buffer>, MAX_BODY);
    } catch (err) {
      throw deadline.aborted ? timedOut() : errorFromTransport(err, false);
    }
    if (res.statusCode !== 200) throw errorFromResponse(res.statusCode, res.headers, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ConversionError(`ElevenLabs answered GET /v1/voices/${voiceId} with something that is not JSON`, 'internal', { status: 200 });
    }
    const v = (json ?? {}) as { voice_id?: unknown; name?: unknown; category?: unknown; labels?: unknown };
    const labels: Record<string, string> = {};
    if (v.labels && typeof v.labels === 'object') {
      for (const [k, x] of Object.entries(v.labels as Record<string, unknown>)) if (typeof x === 'string') labels[k] = x;
    }
    return Object.freeze({
      voiceId,
      name: typeof v.name === 'string' ? v.name : undefined,
      category: typeof v.category === 'string' ? v.category : undefined,
      labels: Object.freeze(labels),
    });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** Where the configuration names a voice: ELEVENLABS_VOICE_ID, or a line's or an agent's field. */
export interface VoiceRef {
  readonly voiceId: string;
  /** e.g. 'ELEVENLABS_VOICE_ID' or 'LINES_CONFIG /etc/lines.yaml: line "+1...": agents[0] ("alice"): voice'. */
  readonly where: string;
}

export type VoiceState = 'found' | 'unknown' | 'unchecked';

/** What one check found. */
export interface VoiceCheckResult {
  /** One problem per reference to a voice ElevenLabs does not know (a ConfigError's lines). */
  unknown: string[];
  /** Voices ElevenLabs did not answer for (looked up again in the background once in use). */
  unchecked: VoiceRef[];
}

export interface ElevenLabsVoicesOptions {
  /** One lookup (VoiceLookup.get). */
  lookUp: (voiceId: string, signal: AbortSignal) => Promise<VoiceInfo>;
  log: Logger;
  /** Longest a check waits for ElevenLabs' answers (the start-up's wait). */
  waitMs: number;
  /** Background lookups: first wait, growing ×2 up to maxMs (defaults 1 s, 60 s). */
  retry?: { firstMs?: number; maxMs?: number };
  /** Told the configured voices by state after every change (the metrics). */
  onCounts?: (counts: Record<VoiceState, number>) => void;
  /** Lookups at once (default 4). */
  parallel?: number;
}

/** The voices the configuration uses: checked, their labels kept, the unanswered ones looked up again. */
export class ElevenLabsVoices {
  private readonly found = new Map<string, VoiceInfo>();
  /** id -> ElevenLabs' answer. */
  private readonly missing = new Map<string, string>();
  /** Voices whose lookup the key is not allowed (not asked again). */
  private readonly keyRefused = new Set<string>();
  /** The configuration in use. */
  private refs: readonly VoiceRef[] = [];
  private timer: NodeJS.Timeout | undefined;
  private waitMs: number;
  private round: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private closed = false;

  constructor(private readonly opts: ElevenLabsVoicesOptions) {
    this.waitMs = opts.retry?.firstMs ?? 1000;
  }

  /** found, unknown, or unchecked (never asked, or no answer yet). */
  state(voiceId: string): VoiceState {
    return this.found.has(voiceId) ? 'found' : this.missing.has(voiceId) ? 'unknown' : 'unchecked';
  }

  /** The voice's labels, when ElevenLabs told them. */
  labelsOf(voiceId: string): Readonly<Record<string, string>> | undefined {
    return this.found.get(voiceId)?.labels;
  }

  /**
   * Looks every referenced voice up (each id once), waiting at most `waitMs`. Answers update
   * what is known; the configuration in use is not changed (see use()).
   */
  async check(refs: readonly VoiceRef[]): Promise<VoiceCheckResult> {
    const ids = [...new Set(refs.map((r) => r.voiceId))];
    const signal = AbortSignal.any([AbortSignal.timeout(this.opts.waitMs), this.stop.signal]);
    const answered = await this.lookUpAll(ids, signal);
    const unknown: string[] = [];
    const unchecked: VoiceRef[] = [];
    for (const r of refs) {
      if (this.missing.has(r.voiceId)) unknown.push(`${r.where}: ElevenLabs has no voice "${r.voiceId}" for this ELEVENLABS_API_KEY (${this.missing.get(r.voiceId)}); use a voice id of the account's voice library (GET /v1/voices)`);
      else if (!answered.has(r.voiceId)) unchecked.push(r);
    }
    return { unknown, unchecked };
  }

  /** The voices of the configuration now in use: the metrics follow them, the unanswered are looked up in the background. */
  use(refs: readonly VoiceRef[]): void {
    this.refs = [...refs];
    this.report();
    if (this.pending().length > 0 && !this.timer && !this.round) this.schedule();
  }

  /** Configured voices not answered yet (a refused key is not asked again). */
  private pending(): string[] {
    return [...new Set(this.refs.map((r) => r.voiceId))].filter((id) => this.state(id) === 'unchecked' && !this.keyRefused.has(id));
  }

  /** Ids answered found or unknown by this call. */
  private async lookUpAll(ids: string[], signal: AbortSignal): Promise<Set<string>> {
    const answered = new Set<string>();
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        if (signal.aborted) return;
        if (await this.lookUpOne(id, signal)) answered.add(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ids.length, this.opts.parallel ?? 4) }, worker));
    return answered;
  }

  /** One lookup: true when ElevenLabs answered found or unknown. */
  private async lookUpOne(id: string, signal: AbortSignal): Promise<boolean> {
    const { log } = this.opts;
    try {
      const info = await this.opts.lookUp(id, signal);
      this.found.set(id, info);
      this.missing.delete(id);
      this.keyRefused.delete(id);
      return true;
    } catch (err) {
      const policy = policyOf(err);
      const e = err instanceof ConversionError ? err : undefined;
      const what = e ? `${e.status ?? e.kind}${e.code ? ` ${e.code}` : ''}` : (err as Error).message;
      if (policy.label === 'refused') {
        this.missing.set(id, `GET /v1/voices/${id} answered ${what}`);
        this.found.delete(id);
        return true;
      }
      if (policy.label === 'auth') {
        if (!this.keyRefused.has(id)) log.warn({ voiceId: id, status: e?.status, cause: policy.auth }, 'ElevenLabs voices not checked: the key may not read voices (GET /v1/voices refused); conversions decide');
        this.keyRefused.add(id);
        return false;
      }
      log.debug({ voiceId: id, error: what, label: policy.label }, 'ElevenLabs voice lookup got no answer');
      return false;
    }
  }

  private schedule(): void {
    if (this.closed) return;
    const jitter = 0.8 + Math.random() * 0.4;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.round = this.retryRound().finally(() => (this.round = undefined));
    }, this.waitMs * jitter);
    this.timer.unref();
  }

  /** One background round over the configured voices still unanswered. */
  private async retryRound(): Promise<void> {
    const { log } = this.opts;
    const ids = this.pending();
    if (ids.length === 0 || this.closed) return;
    const answered = await this.lookUpAll(ids, AbortSignal.any([AbortSignal.timeout(this.opts.waitMs), this.stop.signal]));
    if (this.closed) return;
    for (const id of answered) {
      const where = this.refs.filter((r) => r.voiceId === id).map((r) => r.where);
      if (this.missing.has(id)) {
        log.error(
          { voiceId: id, where, answer: this.missing.get(id) },
          `!!! ElevenLabs has NO voice "${id}" (${where.join('; ')}): its phrases are not converted by ElevenLabs (FALLBACK decides: the embedded engine or silence). Fix the configuration and restart or reload !!!`,
        );
      } else {
        log.info({ voiceId: id, where, labels: this.found.get(id)?.labels }, 'ElevenLabs answered at last: the voice exists');
      }
    }
    this.report();
    const left = this.pending();
    if (left.length === 0) {
      log.info({ voices: new Set(this.refs.map((r) => r.voiceId)).size, unknown: [...this.missing.keys()].filter((id) => this.refs.some((r) => r.voiceId === id)) }, 'ElevenLabs voices checked');
      this.waitMs = this.opts.retry?.firstMs ?? 1000;
      return;
    }
    this.waitMs = Math.min(this.waitMs * 2, this.opts.retry?.maxMs ?? 60_000);
    log.debug({ unanswered: left.length, nextInMs: this.waitMs }, 'ElevenLabs voices: still no answer, asking again later');
    this.schedule();
  }

  private report(): void {
    const counts: Record<VoiceState, number> = { found: 0, unknown: 0, unchecked: 0 };
    for (const id of new Set(this.refs.map((r) => r.voiceId))) counts[this.state(id)]++;
    this.opts.onCounts?.(counts);
  }

  /** Waits for a background round in progress (tests). */
  async settled(): Promise<void> {
    await this.round;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.stop.abort();
    await this.round;
  }
}
