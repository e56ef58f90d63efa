/**
 * Untrusted files decoded off the event loop: a bounded pool of worker threads
 * (./decode-worker.ts) running ./decode.ts, each with a V8 heap limit (resourceLimits), a memory
 * budget it checks itself after every decoder call (heap, WASM memory and buffers) and a time
 * budget enforced from here (the worker is terminated). Live calls never wait on a decode: the
 * main thread only receives finished 16 kHz chunks. Jobs past the pool's size wait their turn
 * (the time budget counts from when a worker takes the job). Every failure is an
 * AudioDecodeError, except an abort (the signal's reason) and the pool failing to start a
 * worker at all (a plain Error: the server's fault, not the file's).
 *
 * The worker entry is found beside this module: decode-worker.js in a build (scripts/build.mjs),
 * decode-worker.ts under tsx or vitest, where a small bootstrap registers tsx's ESM loader in
 * the worker first (on Node 20 a worker does not inherit the parent's loader hooks, and
 * `--import tsx` in a worker's execArgv does not apply to its entry).
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AudioDecodeError, decodeJob, refuseUnsupported, type DecodeFacts, type DecodeJob, type StatedLength } from './decode.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';
import { sniffContainer } from './sniff.js';

export interface DecodePoolOptions {
  /** Worker threads at most (default: the cores but one, 1 to 4): the rest of the CPU stays the calls'. */
  size?: number;
  /** Each worker's V8 old-generation heap, MB (resourceLimits; default 96). */
  heapMb?: number;
  /** Memory one decode may add to its thread's (heap, WASM, buffers), MB (default 128). */
  memoryMb?: number;
  /** A thread that holds more than this after a job is replaced, MB (default 160). */
  retireMb?: number;
  /**
   * Longest one decode may run, ms, for files of up to maxSeconds (default 10 s + 100 ms per
   * second allowed: 40 s for 300 s). Wall time, of a thread that yields to the calls' on a busy
   * machine: a backstop, generous to real files; the prescan refuses bombs long before it.
   */
  timeBudgetMs?: (maxSeconds: number) => number;
  /** An idle worker exits after this long, ms (default 30 s). */
  idleMs?: number;
}

export interface PoolDecodeOptions {
  /** Longest input accepted, seconds. */
  maxSeconds: number;
  signal?: AbortSignal;
  /**
   * Hand the bytes' buffer to the worker instead of copying it (when they span the whole of
   * it): the caller's array is detached then, and must not be used again.
   */
  transfer?: boolean;
}

/** Jobs a worker runs before it is replaced (memory the WASM decoders keep is freed with it). */
const JOBS_PER_WORKER = 64;
/** A worker that has not started after this long is a fault of the server, not of a file. */
const START_TIMEOUT_MS = 30_000;

const defaultTimeBudget = (maxSeconds: number) => 10_000 + 100 * maxSeconds;

interface Task {
  id: number;
  bytes: Uint8Array;
  opts: PoolDecodeOptions;
  label: string;
  emit: (x: Int16Array) => void;
  stated: { resolve: (s: StatedLength) => void; reject: (e: unknown) => void };
  resolve: (f: DecodeFacts) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  /** Stops listening to the caller's abort signal. */
  unlisten?: () => void;
  slot?: Slot;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task?: Task;
  jobs: number;
  idle?: NodeJS.Timeout;
  startTimer?: NodeJS.Timeout;
}

let tsxApi: string | undefined;
/** tsx's ESM API (a dev dependency: only needed when running the TypeScript sources). */
function tsxApiUrl(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return (tsxApi ??= pathToFileURL(path.join(path.dirname(pkg), 'dist/esm/api/index.mjs')).href);
}

const TS_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((tsx) => { tsx.register(); return import(workerData.entry); });
`;

function spawnWorker(heapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./decode-worker.js', import.meta.url), { resourceLimits });
  const entry = new URL('./decode-worker.ts', import.meta.url).href;
  return new Worker(TS_BOOTSTRAP, { eval: true, workerData: { tsx: tsxApiUrl(), entry }, resourceLimits });
}

const NAMES: Record<string, string> = { wav: 'WAV', mp3: 'MP3', flac: 'FLAC', 'ogg-opus': 'Ogg Opus', 'ogg-vorbis': 'Ogg Vorbis', webm: 'WebM' };

export class DecodePool {
  readonly size: number;
  private readonly heapMb: number;
  private readonly memoryBytes: number;
  private readonly retireBytes: number;
  private readonly timeBudget: (maxSeconds: number) => number;
  private readonly idleMs: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(opts: DecodePoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(4, availableParallelism() - 1));
    this.heapMb = opts.heapMb ?? 96;
    this.memoryBytes = (opts.memoryMb ?? 128) * 1024 * 1024;
    this.retireBytes = (opts.retireMb ?? 160) * 1024 * 1024;
    this.timeBudget = opts.timeBudgetMs ?? defaultTimeBudget;
    this.idleMs = opts.idleMs ?? 30_000;
  }

  /** Decodes in worker threads; the DecodeJob is the same as ./decode.ts's startDecode gives. */
  start(bytes: Uint8Array, opts: PoolDecodeOptions): DecodeJob {
    const container = sniffContainer(bytes);
    const label = NAMES[container] ?? 'audio';
    let statedResolve!: (s: StatedLength) => void;
    let statedReject!: (e: unknown) => void;
    const stated = new Promise<StatedLength>((resolve, reject) => {
      statedResolve = resolve;
      statedReject = reject;
    });
    stated.catch(() => undefined); // the job's done reports it
    return decodeJob(
      container,
      () => stated,
      (emit) =>
        new Promise<DecodeFacts>((resolve, reject) => {
          const task: Task = { id: this.nextId++, bytes, opts, label, emit, stated: { resolve: statedResolve, reject: statedReject }, resolve, reject, settled: false };
          const { signal } = opts;
          if (this.closed) return this.fail(task, new Error('the decode pool is closed'));
          if (signal?.aborted) return this.fail(task, signal.reason);
          try {
            refuseUnsupported(container, bytes); // (no thread needed to tell an empty or MP4 file)
          } catch (err) {
            return this.fail(task, err);
          }
          if (signal) {
            const onAbort = () => this.abort(task, signal.reason);
            signal.addEventListener('abort', onAbort, { once: true });
            task.unlisten = () => signal.removeEventListener('abort', onAbort);
          }
          this.queue.push(task);
          this.pump();
        }),
    );
  }

  /** Decodes running and waiting. */
  get load(): { running: number; waiting: number; workers: number } {
    return { running: [...this.slots].filter((s) => s.task).length, waiting: this.queue.length, workers: this.slots.size };
  }

  /** Ends every worker; jobs under way or waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) this.fail(t, new Error('the decode pool is closed'));
    await Promise.all([...this.slots].map((s) => this.retire(s, new Error('the decode pool is closed'))));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = [...this.slots].find((s) => !s.task);
      if (!slot) {
        if (this.slots.size >= this.size) return;
        slot = this.spawn();
      }
      this.dispatch(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot {
    const worker = spawnWorker(this.heapMb);
    const slot: Slot = { worker, ready: false, jobs: 0 };
    this.slots.add(slot);
    slot.startTimer = setTimeout(() => void this.retire(slot, new Error(`the decoder thread did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    slot.startTimer.unref();
    worker.on('message', (m: DecodeReply) => this.onMessage(slot, m));
    worker.on('error', (err: Error & { code?: string }) => {
      const t = slot.task;
      if (!slot.ready) void this.retire(slot, new Error(`the decoder thread failed to start: ${err.message}`));
      else if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        void this.retire(slot, new AudioDecodeError('too_large', `decoding the ${t?.label ?? 'audio'} file needs more memory than this server gives one upload (a ${this.heapMb} MB heap)`));
      } else void this.retire(slot, new AudioDecodeError('corrupt', `the ${t?.label ?? 'audio'} file could not be decoded (${err.message})`));
    });
    worker.on('exit', (code) => {
      this.slots.delete(slot);
      clearTimeout(slot.idle);
      clearTimeout(slot.startTimer);
      const t = slot.task;
      if (t) this.finish(slot, t, slot.ready ? new AudioDecodeError('corrupt', `the ${t.label} file could not be decoded (the decoder stopped, code ${code})`) : new Error(`the decoder thread exited (code ${code})`));
      this.pump();
    });
    return slot;
  }

  private dispatch(slot: Slot, task: Task): void {
    clearTimeout(slot.idle);
    slot.task = task;
    task.slot = slot;
    slot.jobs++;
    slot.worker.ref();
    const { bytes } = task;
    // the whole buffer is handed over when allowed; otherwise a copy is
    const own = task.opts.transfer === true && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const sent = own ? bytes : new Uint8Array(bytes);
    task.bytes = new Uint8Array(0); // not kept here
    const req: DecodeRequest = { id: task.id, bytes: sent, maxSeconds: task.opts.maxSeconds, memoryBytes: this.memoryBytes };
    slot.worker.postMessage(req, [sent.buffer as ArrayBuffer]);
    if (slot.ready) this.startClock(slot, task);
  }

  private startClock(slot: Slot, task: Task): void {
    const ms = this.timeBudget(task.opts.maxSeconds);
    task.timer = setTimeout(() => {
      if (slot.task === task) void this.retire(slot, new AudioDecodeError('too_slow', `the ${task.label} file took longer than ${(ms / 1000).toFixed(1)} s to decode, the most this server spends on one upload`));
    }, ms);
  }

  private onMessage(slot: Slot, m: DecodeReply): void {
    if (m.type === 'ready') {
      slot.ready = true;
      clearTimeout(slot.startTimer);
      if (slot.task) this.startClock(slot, slot.task);
      return;
    }
    const t = slot.task;
    if (!t || t.id !== m.id) return; // a job already given up
    if (m.type === 'stated') t.stated.resolve(m.stated);
    else if (m.type === 'pcm') t.emit(m.pcm);
    else {
      if (m.memory > this.retireBytes) slot.jobs = JOBS_PER_WORKER; // replaced once this job is settled
      if (m.type === 'done') this.finish(slot, t, undefined, m.facts);
      else this.finish(slot, t, new AudioDecodeError(m.kind, m.message));
    }
  }

  /**
   * Settles the slot's task. A worker whose job ran out of memory or time, or failed otherwise
   * than with a clear AudioDecodeError, is replaced (its memory goes with it).
   */
  private finish(slot: Slot, task: Task, err?: unknown, facts?: DecodeFacts): void {
    clearTimeout(task.timer);
    if (slot.task === task) slot.task = undefined;
    if (err !== undefined) this.fail(task, err);
    else {
      task.settled = true;
      task.unlisten?.();
      task.resolve(facts!);
    }
    if (this.slots.has(slot) && !slot.task) {
      const spent = err !== undefined && !(err instanceof AudioDecodeError && err.kind !== 'too_large' && err.kind !== 'too_slow');
      if (spent || slot.jobs >= JOBS_PER_WORKER) void this.retire(slot);
      else {
        slot.worker.unref();
        slot.idle = setTimeout(() => void this.retire(slot), this.idleMs);
        slot.idle.unref();
      }
    }
    this.pump();
  }

  private fail(task: Task, err: unknown): void {
    if (task.settled) return;
    task.settled = true;
    clearTimeout(task.timer);
    task.unlisten?.();
    task.stated.reject(err);
    task.reject(err);
  }

  private abort(task: Task, reason: unknown): void {
    if (task.settled) return;
    const i = this.queue.indexOf(task);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.fail(task, reason);
    } else if (task.slot?.task === task) void this.retire(task.slot, reason);
  }

  /** Ends a worker; its task, if any, fails with `err`. */
  private async retire(slot: Slot, err?: unknown): Promise<void> {
    if (!this.slots.has(slot)) return;
    this.slots.delete(slot);
    clearTimeout(slot.idle);
    clearTimeout(slot.startTimer);
    const t = slot.task;
    slot.task = undefined;
    if (t) this.fail(t, err ?? new Error('the decoder thread was stopped'));
    await slot.worker.terminate();
    this.pump();
  }
}

let shared: DecodePool | undefined;

/** The process's pool (created on first use; idle workers do not keep the process alive). */
export function sharedDecodePool(): DecodePool {
  return (shared ??= new DecodePool());
}
