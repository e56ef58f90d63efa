/**
 * A fault-injecting HTTP proxy for speech-to-speech requests, put in front of any
 * ElevenLabs-compatible server (the fake, or the bridge's own compatible API). Written from
 * ElevenLabs' API reference and RFC 7578 (multipart): it imports nothing from src/.
 *
 * Each request is told apart as a phrase (the n-th distinct `audio` part seen) or a retry of
 * one (same audio bytes again), so a plan can fault "the first two phrases, every attempt":
 *
 *   const proxy = await startFaultProxy(fake.baseUrl);
 *   proxy.setPlan((r) => (r.phrase < 2 ? { type: 'status', status: 500 } : undefined));
 *   ... bridge with ELEVENLABS_BASE_URL = proxy.baseUrl ...
 *   proxy.requests  // phrase, attempt, fault, status, bytes forwarded
 *
 * Only conversions (POST) are phrases: other requests (the voice lookups, GET /v1/voices/...)
 * are passed through untouched and not recorded.
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseMultipart } from './multipart.js';

export type ProxyFault =
  /** Answer this status with an ElevenLabs error body ({"detail":{"status":code,"message":...}}) and headers. */
  | { type: 'status'; status: number; code?: string; message?: string; headers?: Record<string, string> }
  /** Destroy the connection before any answer (a reset). */
  | { type: 'reset' }
  /** Never answer; the socket stays open until the client gives up. */
  | { type: 'hang' }
  /** Forward the 200 headers and the first `afterBytes` bytes of the answer, then send nothing more (socket kept open). */
  | { type: 'stall'; afterBytes: number }
  /** Forward the headers with the whole answer's Content-Length, the first `afterBytes` bytes, then close: a truncated body. */
  | { type: 'truncate'; afterBytes: number };

export type FaultKind = ProxyFault['type'];

export interface ProxiedRequest {
  index: number;
  /** 0-based: the n-th distinct phrase (audio part) this proxy has seen. */
  phrase: number;
  /** 1 for the first request of a phrase, 2 for its first retry, ... */
  attempt: number;
  path: string;
  /** Length of the audio part, bytes. */
  audioBytes: number;
  /** SHA-1 of the audio part: the same phrase sent again (a retry, or another run of the same call) has the same. */
  audioSha1: string;
  fault?: ProxyFault;
  receivedAt: number;
  /** Status sent to the client (undefined: none was). */
  status?: number;
  /** Body bytes sent to the client. */
  bytesSent: number;
  /** Body bytes of the upstream's answer (what a clean answer would have carried). */
  upstreamBytes?: number;
  endedAt?: number;
}

export type FaultPlan = (r: ProxiedRequest) => ProxyFault | undefined;

export interface FaultProxy {
  baseUrl: string;
  requests: ProxiedRequest[];
  setPlan(plan: FaultPlan): void;
  close(): Promise<void>;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const prefix = up.pathname.replace(/\/+$/, '');
  const requests: ProxiedRequest[] = [];
  const phrases = new Map<string, number>();
  const attempts = new Map<number, number>();
  let plan: FaultPlan = () => undefined;
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, body: Buffer): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: up.host, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const out = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: prefix + (req.url ?? '/'), headers }, resolve);
      out.on('error', reject);
      out.end(body);
    });

  async function handle(req: IncomingMessage, res: ServerResponse, rec: ProxiedRequest): Promise<void> {
    const body = await readAll(req);
    const audio = parseMultipart(body, req.headers['content-type'])?.find((p) => p.name === 'audio')?.data ?? body;
    rec.audioBytes = audio.length;
    const key = createHash('sha1').update(audio).digest('hex');
    rec.audioSha1 = key;
    let phrase = phrases.get(key);
    if (phrase === undefined) phrases.set(key, (phrase = phrases.size));
    rec.phrase = phrase;
    rec.attempt = (attempts.get(phrase) ?? 0) + 1;
    attempts.set(phrase, rec.attempt);
    const fault = plan(rec);
    if (fault) rec.fault = fault;
    const sock = req.socket;

    if (fault?.type === 'reset') return void sock.destroy();
    if (fault?.type === 'hang') return new Promise<void>((resolve) => sock.once('close', () => resolve()));
    if (fault?.type === 'status') {
      const text = JSON.stringify({ detail: { status: fault.code ?? 'internal_error', message: fault.message ?? `injected ${fault.status}` } });
      res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...fault.headers });
      rec.status = fault.status;
      return void res.end(text);
    }

    const answer = await forward(req, body);
    rec.status = answer.statusCode ?? 502;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(answer.headers)) if (typeof v === 'string' && k !== 'transfer-encoding' && k !== 'connection' && k !== 'content-length') headers[k] = v;
    if (fault?.type === 'stall' || fault?.type === 'truncate') {
      const whole = await readAll(answer);
      rec.upstreamBytes = whole.length;
      res.writeHead(rec.status, { ...headers, 'content-length': String(whole.length) });
      const part = whole.subarray(0, Math.min(fault.afterBytes, whole.length));
      await new Promise<void>((resolve) => res.write(part, () => resolve()));
      rec.bytesSent = part.length;
      if (fault.type === 'truncate') return void sock.destroy();
      return new Promise<void>((resolve) => sock.once('close', () => resolve()));
    }
    // No fault: streamed through as it arrives (chunked).
    res.writeHead(rec.status, headers);
    rec.upstreamBytes = 0;
    for await (const piece of answer as AsyncIterable<Buffer>) {
      if (sock.destroyed) return;
      await new Promise<void>((resolve) => res.write(piece, () => resolve()));
      rec.bytesSent += piece.length;
      rec.upstreamBytes += piece.length;
    }
    res.end();
  }

  /** Not a conversion: streamed through both ways, unrecorded. */
  const passThrough = (req: IncomingMessage, res: ServerResponse) => {
    const out = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: prefix + (req.url ?? '/'), headers: { ...req.headers, host: up.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => req.socket.destroy());
    req.pipe(out);
  };

  const server = createServer((req, res) => {
    if (req.method !== 'POST') return passThrough(req, res);
    const rec: ProxiedRequest = {
      index: requests.length,
      phrase: -1,
      attempt: 0,
      path: (req.url ?? '/').split('?')[0]!,
      audioBytes: 0,
      audioSha1: '',
      receivedAt: performance.now(),
      bytesSent: 0,
    };
    requests.push(rec);
    res.once('close', () => (rec.endedAt = performance.now()));
    handle(req, res, rec).catch(() => req.socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    setPlan(p) {
      plan = p;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The faults of the fault matrix, by name (with the bodies ElevenLabs answers). */
export const FAULTS: Record<string, ProxyFault> = {
  '500': { type: 'status', status: 500, code: 'internal_server_error', message: 'An internal server error occurred' },
  '429': { type: 'status', status: 429, code: 'system_busy', message: 'The system is experiencing heavy traffic, please try again', headers: { 'retry-after': '1' } },
  reset: { type: 'reset' },
  hang: { type: 'hang' },
  '401': { type: 'status', status: 401, code: 'invalid_api_key', message: 'Invalid API key' },
  'quota-401': {
    type: 'status',
    status: 401,
    code: 'quota_exceeded',
    message: 'This request exceeds your quota of 10000. You have 0 credits remaining, while 120 credits are required for this request.',
  },
  stall: { type: 'stall', afterBytes: 4000 },
  truncated: { type: 'truncate', afterBytes: 4000 },
};
