/**
 * Call recordings: what each side heard, tapped at each connection's outbound clock (so a
 * recording is exactly what was played: hold audio, prompts, masked speech and clears as they
 * happened), mixed on the call's timeline and written encrypted with age from the first byte.
 *
 * One recording per call (RECORDINGS_DIR, one file and its sidecar):
 *   two-party line: stereo; left what the agent heard (the customer: real voice with mask:
 *                   agent, masked with mask: both), right what the customer heard (hold
 *                   audio, then the masked agent). The agent's real voice is on neither: it
 *                   reaches no clock.
 *   hotline:        mono; what the caller heard (their own phrases, masked).
 * The call never waits for, nor fails with, its recording: a write error stops the recording
 * (error log, voicemask_recordings_failed_total) and the call goes on.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import { maskPhone, maskPhonesIn } from '../observability/logger.js';
import type { MediaTap } from '../twilio/media-out.js';
import { AGE_CHUNK_BYTES, AgeFile, recipientProblems } from './age-file.js';
import { failureReason, recordingMetrics } from './metrics.js';
import {
  agentLabel,
  AUDIO_SUFFIX,
  lastFour,
  recordingBase,
  SIDECAR_SUFFIX,
  WRITER,
  writeSidecar,
  type Sidecar,
} from './sidecar.js';
import { sweepRecordings, type SweepResult } from './sweep.js';
import { Timeline } from './timeline.js';
import { RECORDING_SAMPLE_RATE, streamingWavHeader } from './wav-stream.js';

/** What a recording needs of its call (CallSession has it). */
export interface RecordedSession {
  readonly id: string;
  readonly log: Logger;
  onClose(fn: (reason: string) => void): void;
}

/** Whose hearing a channel holds. */
export type Heard = 'agent-heard' | 'customer-heard' | 'caller-heard';

/** A line as a recording describes it (a LineConfig of the lines file fits). */
export interface RecordedLine {
  readonly number: string;
  readonly mask: 'agent' | 'both';
  readonly voice?: string | undefined;
  readonly customerVoice?: string | undefined;
  readonly notice?: string | undefined;
  /** The line's `record` setting (lines file); absent: recorded. */
  readonly record?: boolean | undefined;
}

export type RecordingRequest = { record?: boolean | undefined } & (
  | { kind: 'line'; line: RecordedLine; caller?: string | undefined }
  | { kind: 'hotline'; voice: string }
);

/** Anything with an outbound clock's tap (MediaOut). */
export interface Tappable {
  tap: MediaTap | undefined;
}

export interface CallRecording {
  /**
   * Records what `output` plays as the `heard` channel, from now on. The first tap starts the
   * recording (its file and the call's timeline); `meta` adds to the sidecar.
   */
  tap(heard: Heard, output: Tappable | undefined, meta?: { agent?: string | undefined; voice?: string | undefined }): void;
}

/** What the call types are given: start a call's recording, or undefined when it is not recorded. */
export interface CallRecorder {
  start(session: RecordedSession, req: RecordingRequest): CallRecording | undefined;
}

const LAYOUT: Record<'line' | 'hotline', Heard[]> = {
  line: ['agent-heard', 'customer-heard'],
  hotline: ['caller-heard'],
};
const CHANNEL_NAMES: Record<Heard, string> = {
  'agent-heard': 'what the agent heard (the customer)',
  'customer-heard': 'what the customer heard (hold audio, then the masked agent)',
  'caller-heard': "what the caller heard (their own phrases, masked)",
};
/** How often pending audio is taken from the timeline into the encrypted stream. */
const FLUSH_MS = 200;
const SWEEP_EVERY_MS = 3_600_000;

export interface RecordingsOptions {
  dir: string;
  /** age X25519 recipients (age1...). */
  recipients: readonly string[];
  /** Delete recordings older than this many days (0: keep). */
  retentionDays: number;
  /** Record hotline calls too. */
  hotline: boolean;
  log: Logger;
  sweepEveryMs?: number;
}

export class Recordings implements CallRecorder {
  private readonly active = new Map<string, Recording>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  private readonly warnedNotice = new Set<string>();
  readonly log: Logger;

  private constructor(readonly opts: RecordingsOptions) {
    this.log = opts.log.child({ component: 'recordings' });
    this.sweeper = setInterval(() => void this.sweep().catch((err: Error) => this.log.warn({ err: err.message }, 'recording sweep failed')), opts.sweepEveryMs ?? SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  /**
   * Checks the recipients and the folder (ConfigError naming the variable), sweeps once, and
   * starts the periodic sweep.
   */
  static async open(opts: RecordingsOptions): Promise<Recordings> {
    const problems = recipientProblems(opts.recipients).map((p) => `RECORDINGS_AGE_RECIPIENTS: ${p}`);
    if (problems.length) throw new ConfigError(problems);
    const dir = path.resolve(opts.dir);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await access(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw new ConfigError([`RECORDINGS_DIR: ${dir} cannot be created or written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
    const r = new Recordings({ ...opts, dir });
    await r.sweep().catch((err: Error) => r.log.warn({ err: err.message }, 'recording sweep failed'));
    r.log.info({ dir, recipients: opts.recipients.length, retentionDays: opts.retentionDays, hotline: opts.hotline }, 'call recordings on: encrypted with age to the configured recipients');
    return r;
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Recordings being written now. */
  get activeCount(): number {
    return this.active.size;
  }

  start(session: RecordedSession, req: RecordingRequest): CallRecording | undefined {
    if (this.closed) return undefined;
    const wanted = req.record ?? (req.kind === 'line' ? req.line.record : this.opts.hotline) ?? true;
    if (!wanted) return undefined;
    if (req.kind === 'line' && !req.line.notice && !this.warnedNotice.has(req.line.number)) {
      this.warnedNotice.add(req.line.number);
      this.log.warn({ line: maskPhone(req.line.number) }, 'this line is recorded but has no notice: callers are not told (set notice: in the lines file)');
    }
    return new Recording(this, session, req);
  }

  /** Deletes what is past retention, marks what a dead writer left. */
  sweep(): Promise<SweepResult> {
    return sweepRecordings({ dir: this.opts.dir, retentionDays: this.opts.retentionDays, active: new Set(this.active.keys()), log: this.log });
  }

  /** Finishes every recording (outcome `shutdown` unless their call ended first) and stops the sweep. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.active.values()].map((r) => r.finish('shutdown')));
  }

  /** Resolves once no recording is being written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.all([...this.active.values()].map((r) => r.finished));
  }

  /** @internal */
  register(base: string, r: Recording): void {
    this.active.set(base, r);
    recordingMetrics.active.set(this.active.size);
  }

  /** @internal */
  unregister(base: string): void {
    this.active.delete(base);
    recordingMetrics.active.set(this.active.size);
  }
}

type State = 'waiting' | 'recording' | 'done';

class Recording implements CallRecording {
  private state: State = 'waiting';
  private readonly layout: Heard[];
  private timeline: Timeline | undefined;
  private file: AgeFile | undefined;
  private base = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly taps = new Map<Tappable, MediaTap>();
  private sidecar: Sidecar | undefined;
  /** Sidecar writes, one after the other. */
  private writes: Promise<void> = Promise.resolve();
  private startedAtMs = 0;
  private readonly log: Logger;
  private finishing: Promise<void> | undefined;
  private resolveFinished!: () => void;
  /** Resolves when the recording is closed (sidecar final), whatever its status. */
  readonly finished = new Promise<void>((r) => (this.resolveFinished = r));

  constructor(
    private readonly owner: Recordings,
    session: RecordedSession,
    private readonly req: RecordingRequest,
  ) {
    this.layout = LAYOUT[req.kind];
    this.log = session.log;
    session.onClose((reason) => void this.finish(reason));
  }

  tap(heard: Heard, output: Tappable | undefined, meta: { agent?: string | undefined; voice?: string | undefined } = {}): void {
    try {
      const ch = this.layout.indexOf(heard);
      if (ch < 0 || !output) return;
      if (this.state === 'waiting') this.begin();
      if (this.state !== 'recording') return;
      const channel = this.timeline!.tap(ch);
      // Nothing the recording does may reach the clock that plays the call.
      const safe: MediaTap = {
        played: (mulaw, atMs) => {
          try {
            channel.played(mulaw, atMs);
          } catch (err) {
            this.fail(err as Error);
          }
        },
        cleared: (atMs) => {
          try {
            channel.cleared(atMs);
          } catch (err) {
            this.fail(err as Error);
          }
        },
      };
      output.tap = safe;
      this.taps.set(output, safe);
      const agent = agentLabel(meta.agent);
      if ((agent && agent !== this.sidecar!.agent) || (meta.voice && meta.voice !== this.sidecar!.voice)) {
        this.sidecar = { ...this.sidecar!, ...(agent && { agent }), ...(meta.voice && { voice: meta.voice }) };
        this.saveSidecar();
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private begin(): void {
    const { dir, recipients } = this.owner.opts;
    const at = new Date();
    this.base = recordingBase(this.req.kind, at);
    this.state = 'recording';
    this.startedAtMs = performance.now();
    this.timeline = new Timeline(this.layout.length, this.startedAtMs);
    const fileName = this.base + AUDIO_SUFFIX;
    this.file = new AgeFile(path.join(dir, fileName), { recipients, onBytes: (n) => recordingMetrics.bytes.inc(n) });
    this.file.write(streamingWavHeader(this.layout.length));
    this.file.done.catch((err: Error) => this.fail(err));
    this.owner.register(this.base, this);
    recordingMetrics.started.inc();
    const req = this.req;
    this.sidecar = {
      version: 1,
      file: fileName,
      status: 'recording',
      kind: req.kind,
      ...(req.kind === 'line'
        ? {
            line: lastFour(req.line.number),
            ...(req.caller && { caller: lastFour(req.caller) }),
            mask: req.line.mask,
            ...(req.line.voice && { voice: req.line.voice }),
            ...(req.line.mask === 'both' && req.line.customerVoice && { customerVoice: req.line.customerVoice }),
            notice: req.line.notice ? maskPhonesIn(req.line.notice) : null,
          }
        : { voice: req.voice }),
      start: at.toISOString(),
      audio: { container: 'wav', codec: 'mu-law', sampleRate: RECORDING_SAMPLE_RATE, channels: this.layout.map((h) => CHANNEL_NAMES[h]) },
      encryption: { format: 'age-encryption.org/v1', recipients: recipients.length, chunkBytes: AGE_CHUNK_BYTES },
      writer: { ...WRITER },
    };
    this.saveSidecar();
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
    this.log.info({ recording: this.base, channels: this.layout }, 'recording started');
  }

  private flush(): void {
    if (this.state !== 'recording') return;
    try {
      const bytes = this.timeline!.take(performance.now());
      if (bytes.length && !this.file!.write(bytes) && this.file!.failed) this.fail(this.file!.failed);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** The call ended: the rest of the timeline, the final chunk, the final sidecar. Idempotent. */
  finish(outcome: string): Promise<void> {
    if (this.finishing) return this.finishing;
    this.finishing = this.doFinish(outcome);
    return this.finishing;
  }

  private async doFinish(outcome: string): Promise<void> {
    if (this.state === 'waiting') {
      this.state = 'done';
      this.resolveFinished();
      return;
    }
    if (this.state === 'recording') {
      const tail = this.timeline!.finish(performance.now());
      this.stopTaking();
      this.state = 'done';
      this.file!.write(tail);
      const frames = this.timeline!.frames;
      let failed: Error | undefined;
      try {
        await this.file!.end();
      } catch (err) {
        failed = err as Error;
      }
      if (!failed) {
        recordingMetrics.finished.inc();
        this.sidecar = { ...this.sidecar!, status: 'complete', ...this.ending(outcome, frames) };
        this.log.info({ recording: this.base, outcome, durationS: this.sidecar.durationS, bytes: this.file!.bytesWritten }, 'recording finished');
      } else this.recordFailure(failed, outcome);
      this.saveSidecar();
    } else if (this.sidecar) {
      // Failed earlier: the sidecar says so; the outcome of the call still belongs in it.
      this.sidecar = { ...this.sidecar, outcome };
      this.saveSidecar();
    }
    await this.writes;
    this.owner.unregister(this.base);
    this.resolveFinished();
  }

  private ending(outcome: string, frames: number): Partial<Sidecar> {
    return {
      end: new Date().toISOString(),
      durationS: Math.round((frames / RECORDING_SAMPLE_RATE) * 10) / 10,
      outcome,
      bytes: this.file!.bytesWritten,
    };
  }

  /** A write error: the recording stops here, the call goes on. */
  private fail(err: Error): void {
    if (this.state !== 'recording') return;
    this.timeline!.finish(performance.now()); // stops taking audio
    this.stopTaking();
    this.state = 'done';
    this.file!.abort(err);
    this.recordFailure(err);
    this.saveSidecar();
    void this.writes.then(() => {
      this.owner.unregister(this.base);
      this.resolveFinished();
    });
  }

  private recordFailure(err: Error, outcome?: string): void {
    const reason = failureReason(err);
    const code = (err as NodeJS.ErrnoException).code;
    recordingMetrics.failed.inc({ reason });
    this.log.error(
      { recording: this.base, reason, err: code ?? err.message, bytes: this.file!.bytesWritten },
      'recording stopped: RECORDINGS_DIR is full or cannot be written (the call goes on, unrecorded from here)',
    );
    this.sidecar = {
      ...this.sidecar!,
      status: 'failed',
      ...this.ending(outcome ?? this.sidecar!.outcome ?? 'in progress when the recording failed', this.timeline!.frames),
      error: code ? `${code}: ${err.message}` : err.message,
      note: 'the recording stopped early: the file decrypts up to its last complete 64 KiB chunk (`age -d` then reports the end as truncated).',
    };
    if (outcome === undefined) delete this.sidecar.outcome;
  }

  private stopTaking(): void {
    clearInterval(this.timer);
    for (const [output, tap] of this.taps) if (output.tap === tap) output.tap = undefined;
    this.taps.clear();
  }

  private saveSidecar(): void {
    const s = this.sidecar;
    if (!s) return;
    const file = path.join(this.owner.opts.dir, this.base + SIDECAR_SUFFIX);
    this.writes = this.writes
      .then(() => writeSidecar(file, s))
      .catch((err: NodeJS.ErrnoException) => this.log.warn({ recording: this.base, err: err.code ?? err.message }, 'recording sidecar could not be written'));
  }
}
