/**
 * A fake ElevenLabs speech-to-speech server: a real node:http server on 127.0.0.1:0, built on
 * src/api/sts-request.ts (so it validates exactly like the API), answering
 * POST /v1/speech-to-speech/{voice}[/stream] with a deterministic "masked" signal: a pure tone
 * (300 Hz by default) as long as the input, streamed in chunks with small delays. It records
 * every request and injects faults, programmable per request.
 *
 *   const fake = await startFakeElevenLabs();
 *   fake.setFaults([{ type: 'status', status: 500 }, undefined]);   // 1st request 500, 2nd ok
 *   fake.setFaults((i) => (i < 3 ? { type: 'reset-before-first-byte' } : undefined));
 *   ... fake.requests, fake.maxInFlight ...
 *   await fake.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { alawEncode, mulawEncode } from '../../src/audio/mulaw.js';
import { parseWav, wavToPcm16 } from '../../src/audio/wav.js';
import { matchStsPath, parseStsRequest, sendStsError, statusError, validationError, type StsRequest } from '../../src/api/sts-request.js';

export type Fault =
  /** Any error status, with an optional JSON body (default: {"detail":{"status":"internal_error",...}}). */
  | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** 429 with Retry-After (seconds) and detail.status. */
  | { type: 'rate-limit'; code: 'too_many_concurrent_requests' | 'system_busy'; retryAfterS?: number }
  | { type: 'unauthorized' }
  | { type: 'validation' }
  /** Wait before answering; headersEarly sends the 200 headers at once and delays only the body. */
  | { type: 'slow-first-byte'; delayMs: number; headersEarly?: boolean }
  /** Send the headers and afterBytes bytes of audio, then destroy the socket. */
  | { type: 'reset-mid-stream'; afterBytes: number }
  | { type: 'reset-before-first-byte' }
  /** Never answer (the socket stays open until the client gives up or close()). */
  | { type: 'hang' };

export type FaultPlan = Array<Fault | undefined> | ((index: number, req: RecordedRequest) => Fault | undefined);

export interface RecordedRequest {
  index: number;
  method: string;
  /** The path without the query string. */
  path: string;
  /** The request target as sent, query included. */
  url: string;
  voiceId?: string;
  stream?: boolean;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Form fields other than audio, as sent. */
  fields: Record<string, string>;
  audioBytes: number;
  audioFilename?: string;
  audioContentType?: string;
  /** The validated request (undefined when validation failed). */
  parsed?: StsRequest;
  fault?: Fault;
  status?: number;
  /** performance.now() marks (same clock as the tests'). */
  receivedAt: number;
  firstByteSentAt?: number;
  endedAt?: number;
  bytesSent: number;
}

export interface FakeElevenLabsOptions {
  /** Accepted xi-api-key (default 'test-key'); null accepts anything. */
  apiKey?: string | null;
  /** Tone of the answer, Hz (default 300). */
  toneHz?: number;
  /** Audio per chunk, ms (default 100). */
  chunkMs?: number;
  /** Pause between chunks, ms (default 10). */
  chunkDelayMs?: number;
  /** Path prefix the fake is mounted under, e.g. '/proxy'. */
  pathPrefix?: string;
  /** Request body limit (default ElevenLabs' 50 MB). */
  maxBodyBytes?: number;
}

export interface FakeElevenLabs {
  baseUrl: string;
  requests: RecordedRequest[];
  setFaults(plan: FaultPlan): void;
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Resets requests and maxInFlight (keeps the fault plan). */
  reset(): void;
  close(): Promise<void>;
}

const AMPLITUDE = 8000;

/** The fake's answer for an input of `ms` milliseconds: a tone at `rate`, 16-bit samples. */
export function toneSamples(ms: number, hz: number, rate: number): Int16Array {
  const n = Math.round((ms * rate) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(AMPLITUDE * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** The exact bytes the fake answers in ulaw_8000 for an input of `ms` milliseconds. */
export function expectedUlaw(ms: number, hz = 300): Uint8Array {
  return mulawEncode(toneSamples(ms, hz, 8000));
}

function inputMs(r: StsRequest): number {
  if (r.fileFormat === 'pcm_s16le_16') return r.audio.bytes.byteLength / 2 / 16;
  try {
    const { samples, sampleRate } = wavToPcm16(parseWav(r.audio.bytes));
    return (samples.length * 1000) / sampleRate;
  } catch {
    return r.audio.bytes.byteLength / 2 / 16;
  }
}

function encodeAnswer(r: StsRequest, ms: number, hz: number): { bytes: Uint8Array; contentType: string; bytesPerMs: number } | undefined {
  const [codec, rateStr] = r.outputFormat.split('_') as [string, string];
  const rate = Number(rateStr);
  const samples = toneSamples(ms, hz, rate);
  if (codec === 'ulaw') return { bytes: mulawEncode(samples), contentType: 'audio/basic', bytesPerMs: rate / 1000 };
  if (codec === 'alaw') return { bytes: alawEncode(samples), contentType: 'audio/x-alaw-basic', bytesPerMs: rate / 1000 };
  if (codec === 'pcm') return { bytes: new Uint8Array(samples.buffer), contentType: 'audio/pcm', bytesPerMs: (rate * 2) / 1000 };
  return undefined;
}

export async function startFakeElevenLabs(options: FakeElevenLabsOptions = {}): Promise<FakeElevenLabs> {
  const apiKey = options.apiKey === undefined ? 'test-key' : options.apiKey;
  const toneHz = options.toneHz ?? 300;
  const chunkMs = options.chunkMs ?? 100;
  const chunkDelayMs = options.chunkDelayMs ?? 10;
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  const requests: RecordedRequest[] = [];
  let plan: FaultPlan = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let counter = 0;
  const sockets = new Set<Socket>();

  const faultFor = (rec: RecordedRequest): Fault | undefined =>
    typeof plan === 'function' ? plan(rec.index, rec) : plan[rec.index];

  async function handle(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = req.method === 'POST' ? matchStsPath(url.pathname, prefix) : null;
    if (!route) {
      req.resume();
      return sendStsError(res, statusError(404, 'not_found', `No route for ${req.method} ${url.pathname}`));
    }
    rec.voiceId = route.voiceId;
    rec.stream = route.stream;
    const parsed = await parseStsRequest(req, {
      ...route,
      ...(apiKey !== null && { checkKey: (k: string | undefined) => k === apiKey }),
      ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
    });
    if (parsed.ok) {
      const r = parsed.request;
      rec.parsed = r;
      rec.fields = r.fields;
      rec.audioBytes = r.audio.bytes.byteLength;
      rec.audioFilename = r.audio.filename;
      rec.audioContentType = r.audio.contentType;
    }
    const fault = faultFor(rec);
    rec.fault = fault;
    const sock = req.socket;

    switch (fault?.type) {
      case 'hang':
        return new Promise<void>((resolve) => sock.once('close', resolve));
      case 'reset-before-first-byte':
        sock.destroy();
        return;
      case 'status':
        return sendStsError(res, {
          status: fault.status,
          body: (fault.body ?? { detail: { status: 'internal_error', message: `fake error ${fault.status}` } }) as never,
          ...(fault.headers && { headers: fault.headers }),
        });
      case 'rate-limit':
        return sendStsError(
          res,
          statusError(
            429,
            fault.code,
            fault.code === 'system_busy' ? 'The system is experiencing heavy traffic, please try again' : 'Too many concurrent requests',
            fault.retryAfterS === undefined ? undefined : { 'retry-after': String(fault.retryAfterS) },
          ),
        );
      case 'unauthorized':
        return sendStsError(res, statusError(401, 'invalid_api_key', 'Invalid API key'));
      case 'validation':
        return sendStsError(res, validationError([{ loc: ['body', 'model_id'], msg: 'Model does not support speech to speech', type: 'value_error' }]));
      default:
        break;
    }
    if (!parsed.ok) return sendStsError(res, parsed.error);

    const r = parsed.request;
    const answer = encodeAnswer(r, inputMs(r), toneHz);
    if (!answer) {
      return sendStsError(res, validationError([{ loc: ['query', 'output_format'], msg: 'the fake answers only ulaw, alaw and pcm', type: 'value_error' }]));
    }
    const headers = { 'content-type': answer.contentType, 'transfer-encoding': 'chunked' };
    if (fault?.type === 'slow-first-byte') {
      if (fault.headersEarly) res.writeHead(200, headers).flushHeaders();
      await sleep(fault.delayMs);
      if (sock.destroyed) return;
    }
    if (!res.headersSent) res.writeHead(200, headers);
    const chunkBytes = Math.max(1, Math.round(chunkMs * answer.bytesPerMs));
    const limit = fault?.type === 'reset-mid-stream' ? Math.min(fault.afterBytes, answer.bytes.length) : answer.bytes.length;
    for (let off = 0; off < limit; off += chunkBytes) {
      if (sock.destroyed) return;
      const piece = answer.bytes.subarray(off, Math.min(limit, off + chunkBytes));
      await new Promise<void>((resolve) => res.write(piece, () => resolve()));
      rec.firstByteSentAt ??= performance.now();
      rec.bytesSent += piece.length;
      if (off + chunkBytes < answer.bytes.length && chunkDelayMs > 0) await sleep(chunkDelayMs);
    }
    if (fault?.type === 'reset-mid-stream') {
      sock.destroy();
      return;
    }
    await new Promise<void>((resolve) => res.end(resolve));
  }

  const server = createServer((req, res) => {
    const rec: RecordedRequest = {
      index: counter++,
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://localhost').pathname,
      url: req.url ?? '',
      query: Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams),
      headers: req.headers,
      fields: {},
      audioBytes: 0,
      receivedAt: performance.now(),
      bytesSent: 0,
    };
    requests.push(rec);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      inFlight--;
      rec.endedAt = performance.now();
      rec.status = res.headersSent ? res.statusCode : undefined;
    };
    res.once('close', finish);
    handle(req, res, rec).catch(() => {
      req.socket.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}${prefix}`,
    requests,
    setFaults(p) {
      plan = p;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    reset() {
      requests.length = 0;
      counter = 0;
      maxInFlight = inFlight;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
