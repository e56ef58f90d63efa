/**
 * The worker thread behind ./decode-pool.ts: decodes one uploaded file at a time with
 * ./decode.ts and posts its 16 kHz mono audio back in chunks of about a second. After every
 * decoder call it checks what its memory (JS heap, WASM memory and buffers) has grown by since
 * the job began against the budget it was given, and stops with a too_large AudioDecodeError
 * past it; each answer says how much memory the thread holds (the pool replaces a thread that
 * keeps too much). On Linux it lowers its own
 * thread's CPU priority, so on a busy machine live calls on the main thread go first.
 */
import { constants, setPriority } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { initResampler } from '../resampler.js';
import { AudioDecodeError, startDecode, type DecodeFacts, type DecodeFailure, type StatedLength } from './decode.js';

/** A file to decode (its bytes transferred, not copied). */
export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  maxSeconds: number;
  /** Bytes of memory the decode may use beyond its input. */
  memoryBytes: number;
}

export type DecodeReply =
  | { type: 'ready' }
  | { id: number; type: 'stated'; stated: StatedLength }
  | { id: number; type: 'pcm'; pcm: Int16Array }
  | { id: number; type: 'done'; facts: DecodeFacts; memory: number }
  | { id: number; type: 'error'; kind: DecodeFailure; message: string; memory: number };

/** 16 kHz samples per posted chunk. */
const CHUNK = 16000;

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs as a worker thread (see decode-pool.ts)');

try {
  setPriority(constants.priority.PRIORITY_BELOW_NORMAL);
} catch {
  // not permitted here: the pool's size still bounds the CPU decoding takes
}

/**
 * A full collection between jobs: each job's decoders leave their WASM memories (tens of MB)
 * to the collector, which, seeing a small JS heap, would keep them for many jobs. Exposed for
 * this thread (V8 flags cannot be given to a worker).
 */
let collect: (() => void) | undefined;
try {
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc') as () => void;
} catch {
  // not available: the pool replaces a thread that holds too much
}

const post = (m: DecodeReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const mb = (n: number) => Math.round(n / 1024 / 1024);
/** JS heap, WASM memory and buffers of this thread (garbage not yet collected included). */
const held = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

async function decode(req: DecodeRequest): Promise<void> {
  const { id, bytes } = req;
  // (what earlier jobs left for the collector is in the base, not charged to this one)
  const budget = held() + req.memoryBytes;
  const afterSlice = () => {
    if (held() > budget) {
      throw new AudioDecodeError('too_large', `decoding the file needs more than the ${mb(req.memoryBytes)} MB of memory this server gives one upload`);
    }
  };
  let parts: Int16Array[] = [];
  let n = 0;
  const flush = () => {
    if (n === 0) return;
    const pcm = new Int16Array(n);
    let o = 0;
    for (const p of parts) {
      pcm.set(p, o);
      o += p.length;
    }
    parts = [];
    n = 0;
    post({ id, type: 'pcm', pcm }, [pcm.buffer]);
  };
  // the worker has nothing else to serve: no turn of the event loop between slices
  const job = startDecode(bytes, { maxSeconds: req.maxSeconds, yieldTurn: () => Promise.resolve(), afterSlice });
  try {
    post({ id, type: 'stated', stated: await job.stated() });
    for await (const x of job.rest()) {
      parts.push(x.slice());
      n += x.length;
      if (n >= CHUNK) flush();
    }
    flush();
    const facts = await job.done;
    collect?.();
    post({ id, type: 'done', facts, memory: held() });
  } catch (err) {
    const e = err instanceof AudioDecodeError ? err : new AudioDecodeError('corrupt', `the file could not be decoded (${(err as Error).message})`);
    collect?.();
    post({ id, type: 'error', kind: e.kind, message: e.message, memory: held() });
  }
}

await initResampler();
let queue = Promise.resolve();
port.on('message', (req: DecodeRequest) => {
  queue = queue.then(() => decode(req));
});
post({ type: 'ready' });
