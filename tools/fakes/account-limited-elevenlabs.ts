/**
 * One ElevenLabs account shared by several bridges: a speech-to-speech /stream endpoint that
 * enforces the account's concurrency limit as the API does (elevenlabs-facts.md): over the
 * limit, 429 `{"detail":{"status":"too_many_concurrent_requests",...}}`; every answer carries
 * `current-concurrent-requests` and `maximum-concurrent-requests`. A conversion answers a
 * mu-law tone as long as the phrase (pcm_s16le_16 in: 4 input bytes per output byte), spread
 * over `holdMs`, so requests overlap. It counts what a fleet test asserts: peak concurrency,
 * 429s, conversions, and in flight over time.
 * Written from the spec; imports nothing from src/.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulawEncode } from './g711.js';
import { parseMultipart } from './multipart.js';

export interface AccountFakeOptions {
  /** The plan's concurrency limit. */
  limit: number;
  /** How long one conversion takes to stream (default 600 ms). */
  holdMs?: number;
  apiKey?: string;
  toneHz?: number;
}

export interface AccountFake {
  baseUrl: string;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** The most at once (over the limit included: those were refused). */
  readonly peak: number;
  /** The most at once that were accepted (≤ limit). */
  readonly peakServed: number;
  readonly refused: number;
  readonly converted: number;
  /** Every accepted request: when it started and ended (ms since start). */
  readonly log: Array<{ start: number; end?: number; status: number }>;
  /** In flight over time: [ms, count] at every change. */
  readonly timeline: Array<[number, number]>;
  setLimit(n: number): void;
  close(): Promise<void>;
}

export async function startAccountFake(o: AccountFakeOptions): Promise<AccountFake> {
  const holdMs = o.holdMs ?? 600;
  const hz = o.toneHz ?? 440;
  let limit = o.limit;
  let inFlight = 0;
  let peak = 0;
  let peakServed = 0;
  let refused = 0;
  let converted = 0;
  const t0 = performance.now();
  const log: AccountFake['log'] = [];
  const timeline: AccountFake['timeline'] = [];
  const now = () => Math.round(performance.now() - t0);
  const change = (d: number) => {
    inFlight += d;
    timeline.push([now(), inFlight]);
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || !/^\/v1\/speech-to-speech\/[^/]+\/stream$/.test(url.pathname)) return json(res, 404, { detail: { status: 'not_found', message: 'Not found' } });
    if (o.apiKey !== undefined && req.headers['xi-api-key'] !== o.apiKey) return json(res, 401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
    // The account counts a request from its arrival to the end of its answer.
    change(+1);
    peak = Math.max(peak, inFlight);
    let counted = true;
    const done = () => {
      if (counted) change(-1);
      counted = false;
    };
    res.on('close', done);
    const conc = () => ({ 'current-concurrent-requests': String(inFlight), 'maximum-concurrent-requests': String(limit) });
    if (inFlight > limit) {
      refused++;
      json(
        res,
        429,
        { detail: { status: 'too_many_concurrent_requests', message: `Your current subscription is associated with a maximum of ${limit} concurrent requests.` } },
        { ...conc(), 'x-trace-id': 'fake' },
      );
      return done();
    }
    peakServed = Math.max(peakServed, inFlight);
    const entry: AccountFake['log'][number] = { start: now(), status: 200 };
    log.push(entry);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const parts = parseMultipart(Buffer.concat(chunks), req.headers['content-type']);
    const audio = parts?.find((p) => p.name === 'audio');
    if (!audio) {
      entry.status = 422;
      json(res, 422, { detail: [{ loc: ['body', 'audio'], msg: 'Field required', type: 'missing' }] });
      return done();
    }
    const n = Math.max(160, Math.floor(audio.data.length / 4));
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
    const ulaw = Buffer.from(mulawEncode(pcm));
    res.writeHead(200, { 'content-type': 'audio/basic', 'request-id': `req-${log.length}`, ...conc() });
    const pieces = 6;
    for (let i = 0; i < pieces && !res.destroyed; i++) {
      res.write(ulaw.subarray(Math.floor((i * n) / pieces), Math.floor(((i + 1) * n) / pieces)));
      await new Promise((r) => setTimeout(r, holdMs / pieces));
    }
    entry.end = now();
    converted++;
    // the account frees the slot as the answer ends
    done();
    res.end();
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get inFlight() {
      return inFlight;
    },
    get peak() {
      return peak;
    },
    get peakServed() {
      return peakServed;
    },
    get refused() {
      return refused;
    },
    get converted() {
      return converted;
    },
    log,
    timeline,
    setLimit: (n) => void (limit = n),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
