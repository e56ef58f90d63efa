/**
 * simulateCall: one phone call as Twilio would place it against the bridge.
 * Webhook POST (signed) -> TwiML -> WebSocket (signed upgrade) -> connected, start, 20 ms media
 * frames, dtmf, stop; while Twilio's playout buffer is emulated for whatever the bridge sends back.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import { FRAME_BYTES_8K, FRAME_MS, MULAW_SILENCE } from '../../src/audio/index.js';
import { SimulatorError } from './errors.js';
import { randomSid } from './ids.js';
import { toFrames } from './leaks.js';
import { detectPhrases, phraseLatencies, type Phrase, type PhraseLatency } from './phrases.js';
import { PlayoutBuffer, type PlayedSegment } from './playout.js';
import { twilioSignature } from './signing.js';
import { parseStreamTwiml } from './twiml.js';

/** Direct access to the call's socket, for hostile-input tests. */
export interface RawStream {
  readonly streamSid: string;
  readonly callSid: string;
  readonly accountSid: string;
  /** Call time (ms since start was sent; before that, negative). */
  nowMs(): number;
  sendText(text: string): void;
  sendBinary(data: Uint8Array): void;
  /** Sends the object as-is (no sequenceNumber or streamSid added). */
  sendJson(obj: unknown): void;
  /** Sends {event, sequenceNumber (next), streamSid, ...body}. */
  sendEvent(event: string, body?: Record<string, unknown>): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  readonly socket: WebSocket;
}

export interface SimHooks {
  /** Right after the socket opens, before `connected`. */
  onOpen?(raw: RawStream): void | Promise<void>;
  /** After `start`, before the first media frame. */
  afterStart?(raw: RawStream): void | Promise<void>;
  /** Before each media frame (index from 0); return false to skip sending that frame. */
  beforeFrame?(index: number, frame: Uint8Array, raw: RawStream): boolean | void;
  /** After the tail, before `stop`. */
  beforeStop?(raw: RawStream): void | Promise<void>;
  /** Every message the bridge sends, raw (text or binary), before validation. */
  onMessage?(data: string | Uint8Array, atMs: number, raw: RawStream): void;
}

export type SimProgressEvent =
  | { type: 'webhook'; status: number; streamUrl: string; parameters: Record<string, string> }
  | { type: 'open'; connectUrl: string }
  | { type: 'start'; streamSid: string; callSid: string }
  | { type: 'media'; atMs: number; bytes: number }
  | { type: 'mark'; name: string; sentAtMs: number; echoedAtMs: number; cleared: boolean }
  | { type: 'clear'; atMs: number }
  | { type: 'dtmf'; digit: string; atMs: number }
  | { type: 'audio-end'; atMs: number }
  | { type: 'stop'; atMs: number }
  | { type: 'closed'; code: number; by: 'bridge' | 'simulator'; atMs: number }
  | { type: 'protocol-error'; message: string; atMs: number };

export interface SimulatedCallOptions {
  /** Bridge base URL, e.g. http://127.0.0.1:PORT. */
  url: string;
  /** Default '/twiml/inbound'. */
  webhookPath?: string;
  /** Appended to the webhook URL, e.g. { voice: 'deep-male' }. */
  query?: Record<string, string>;
  /** Webhook POST params; merged over random defaults (CallSid, AccountSid, From, To, Direction, ...). */
  form?: Record<string, string>;
  /** Sign the webhook and the WebSocket upgrade with X-Twilio-Signature. */
  authToken?: string;
  /** The public base URL the server validates the webhook against, when it differs from url. */
  signatureUrlBase?: string;
  /** 8 kHz mu-law the caller speaks. */
  audio: Uint8Array;
  /**
   * Default true: 20 ms frames on a deadline clock. false ("fast"): the audio goes out at
   * `fastSpeedup` x real time (the tail is still real time); the call timeline stays virtual
   * (frame i is at i*20 ms), so heard audio lines up, but latencies are inflated by the speedup.
   */
  realtime?: boolean;
  /**
   * Fast-mode pace as a multiple of real time. Default 3 (150 frames/s), below the bridge's
   * default flood limit (WS_MAX_MESSAGES_PER_SEC=200). Infinity: as fast as the socket takes it.
   */
  fastSpeedup?: number;
  /** Silence (0xFF frames) kept flowing after the audio, in real time, to collect answers. Default 3000. */
  tailMs?: number;
  /** End the tail early once the playout buffer is empty and nothing arrived for this long. */
  endWhenIdleMs?: number;
  /** DTMF digits at call times (ms from start). */
  dtmf?: Array<{ digit: string; atMs: number }>;
  /** Explicit phrase times (ms from audio start) for the latency report; default: detected from the audio. */
  phrases?: Phrase[];
  streamSid?: string;
  /** Which lifecycle messages to send (all default true); turn off to test a bridge's handling of their absence. */
  send?: { connected?: boolean; start?: boolean; stop?: boolean };
  /**
   * The start message's customParameters instead of the TwiML's <Parameter>s: a forged or
   * altered stream (hostile-input tests). Twilio itself always sends the TwiML's.
   */
  startParameters?: Record<string, string>;
  /** Extra webhook / upgrade headers. */
  webhookHeaders?: Record<string, string>;
  upgradeHeaders?: Record<string, string>;
  /** Handshake timeout. Default 10000 ms. */
  connectTimeoutMs?: number;
  onProgress?: (e: SimProgressEvent) => void;
  /** Aborting hangs up: stop is sent, the socket closed and the result returned (endedBy 'abort'). */
  signal?: AbortSignal;
  hooks?: SimHooks;
}

export interface SimulatedCallResult {
  twiml: string;
  /** The Stream url as the TwiML gave it. */
  streamUrl: string;
  /** The URL actually connected to. */
  connectUrl: string;
  parameters: Record<string, string>;
  callSid: string;
  accountSid: string;
  streamSid: string;
  webhookStatus: number;
  /** Every 160-byte inbound media frame sent (audio and tail). */
  sentFrames: Uint8Array[];
  /** Every outbound media message as it arrived (call time). */
  received: Array<{ atMs: number; payload: Uint8Array }>;
  /** All received media bytes concatenated, in arrival order. */
  receivedAudio: Uint8Array;
  /** What the caller heard through the playout buffer (mu-law, 0xFF where nothing played), index 0 = start. */
  heard: Uint8Array;
  /** Which received bytes played where on the heard timeline. */
  played: PlayedSegment[];
  marks: Array<{ name: string; sentAtMs: number; echoedAtMs: number; cleared: boolean }>;
  /** Call times of clear messages. */
  clears: number[];
  dtmfSent: Array<{ digit: string; atMs: number }>;
  /** Call time the last audio frame (before the tail) was sent. */
  audioEndMs: number;
  durationMs: number;
  closeCode?: number;
  closeReason?: string;
  closedBy?: 'bridge' | 'simulator';
  endedBy: 'completed' | 'idle' | 'bridge-closed' | 'abort';
  phrases: PhraseLatency[];
  /** Everything the bridge sent that Twilio would reject. */
  protocolErrors: string[];
  /** Deviations Twilio would tolerate but a real deployment should not rely on (e.g. a query string in the Stream url). */
  warnings: string[];
}

/** Waits `ms`, or less when `signal` aborts (resolves either way). */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  ms <= 0 || signal?.aborted ? Promise.resolve() : delay(ms, undefined, signal && { signal }).catch(() => undefined);
const tick = () => new Promise<void>((r) => setImmediate(r));

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function defaultForm(over: Record<string, string> | undefined): Record<string, string> {
  const from = over?.['From'] ?? '+15005550006';
  const to = over?.['To'] ?? '+15005550001';
  return {
    CallSid: randomSid('CA'),
    AccountSid: randomSid('AC'),
    From: from,
    To: to,
    Caller: from,
    Called: to,
    Direction: 'inbound',
    CallStatus: 'ringing',
    ApiVersion: '2010-04-01',
    ...over,
  };
}

function joinUrl(base: string, path: string, query?: Record<string, string>): string {
  const qs = query && Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`) + qs;
}

async function postWebhook(o: SimulatedCallOptions, form: Record<string, string>): Promise<{ status: number; body: string }> {
  const path = o.webhookPath ?? '/twiml/inbound';
  const fetchUrl = joinUrl(o.url, path, o.query);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'user-agent': 'TwilioProxy/1.1',
    accept: '*/*',
    ...o.webhookHeaders,
  };
  if (o.authToken) headers['x-twilio-signature'] = twilioSignature(o.authToken, joinUrl(o.signatureUrlBase ?? o.url, path, o.query), form);
  let res: Response;
  try {
    res = await fetch(fetchUrl, { method: 'POST', headers, body: new URLSearchParams(form).toString(), signal: o.signal ?? null });
  } catch (err) {
    if (o.signal?.aborted) throw err;
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new SimulatorError('connect-refused', `cannot reach the bridge at ${fetchUrl}: ${cause?.code ?? (err as Error).message}`, undefined, undefined, { cause: err });
  }
  const body = await res.text();
  if (res.status < 200 || res.status > 299) {
    const hint = res.status === 403 ? ' (signature rejected: check the auth token and --public-url)' : '';
    throw new SimulatorError('webhook-status', `webhook ${fetchUrl} answered ${res.status}${hint}: ${body.slice(0, 200)}`, res.status, body);
  }
  return { status: res.status, body };
}

function openSocket(connectUrl: string, headers: Record<string, string>, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(connectUrl, { headers, handshakeTimeout: timeoutMs, perMessageDeflate: false });
    let settled = false;
    const fail = (e: SimulatorError) => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners();
      ws.on('error', () => {});
      try {
        ws.terminate();
      } catch {
        /* already gone */
      }
      reject(e);
    };
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.length + body.length < 4096 ? c : ''));
      res.on('end', () => fail(new SimulatorError('upgrade-rejected', `WebSocket handshake to ${connectUrl} answered ${res.statusCode} instead of 101${res.statusCode === 403 ? ' (signature rejected)' : ''}`, res.statusCode, body)));
      res.on('error', () => fail(new SimulatorError('upgrade-rejected', `WebSocket handshake answered ${res.statusCode}`, res.statusCode)));
    });
    ws.once('error', (err: Error & { code?: string }) => {
      const kind = err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' ? 'connect-refused' : 'websocket-error';
      fail(new SimulatorError(kind, `WebSocket ${connectUrl}: ${err.code ?? err.message}`, undefined, undefined, { cause: err }));
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners('unexpected-response');
      ws.removeAllListeners('error');
      resolve(ws);
    });
  });
}

/** Where to connect and what to sign, from the TwiML's Stream url and the bridge base URL. */
export function resolveStreamTarget(streamUrl: string, baseUrl: string): { connectUrl: string; signedUrl: string; warnings: string[] } {
  const warnings: string[] = [];
  let u: URL;
  try {
    u = new URL(streamUrl);
  } catch {
    throw new SimulatorError('bad-twiml', `Stream url is not an absolute URL: ${streamUrl}`);
  }
  if (u.protocol !== 'wss:' && u.protocol !== 'ws:') throw new SimulatorError('bad-twiml', `Stream url must be wss:// (got ${streamUrl})`);
  let signedUrl = streamUrl;
  if (u.search) {
    warnings.push(`Stream url carries a query string (${u.search}); Twilio drops it — use <Parameter> instead`);
    signedUrl = streamUrl.slice(0, streamUrl.indexOf('?'));
    u.search = '';
  }
  if (u.protocol === 'ws:') warnings.push('Stream url is ws://; Twilio requires wss://');
  const base = new URL(baseUrl);
  if (base.host !== u.host) {
    u.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    u.host = base.host;
  }
  return { connectUrl: u.toString(), signedUrl, warnings };
}

/** Places one simulated call. Throws SimulatorError when the call cannot be set up. */
export async function simulateCall(o: SimulatedCallOptions): Promise<SimulatedCallResult> {
  const realtime = o.realtime ?? true;
  const tailMs = o.tailMs ?? 3000;
  const speedup = o.fastSpeedup ?? 3;
  if (!(speedup > 0)) throw new RangeError(`fastSpeedup must be > 0, got ${speedup}`);
  const form = defaultForm(o.form);
  const callSid = form['CallSid']!;
  const accountSid = form['AccountSid']!;
  const streamSid = o.streamSid ?? randomSid('MZ');
  const progress = (e: SimProgressEvent) => {
    try {
      o.onProgress?.(e);
    } catch {
      /* a listener's bug must not break the call */
    }
  };

  const hook = await postWebhook(o, form);
  const twiml = parseStreamTwiml(hook.body);
  const target = resolveStreamTarget(twiml.url, o.url);
  progress({ type: 'webhook', status: hook.status, streamUrl: twiml.url, parameters: twiml.parameters });
  const warnings = [...target.warnings];
  if (twiml.verb !== 'connect') warnings.push('TwiML uses <Start><Stream> (unidirectional): Twilio would not play audio sent back');

  const upgradeHeaders: Record<string, string> = { 'user-agent': 'Twilio.TmeWs/1.0', ...o.upgradeHeaders };
  if (o.authToken) upgradeHeaders['x-twilio-signature'] = twilioSignature(o.authToken, target.signedUrl, {});
  const ws = await openSocket(target.connectUrl, upgradeHeaders, o.connectTimeoutMs ?? 10_000);
  progress({ type: 'open', connectUrl: target.connectUrl });

  // ---- call state ----
  let t0 = performance.now();
  let skew = 0; // virtual time ahead of the wall clock (fast mode)
  const now = () => performance.now() - t0 + skew;
  let seq = 0;
  let closed = false;
  let stopped = false;
  let closeCode: number | undefined;
  let closeReason: string | undefined;
  let closedBy: 'bridge' | 'simulator' | undefined;
  let lastActivityMs = 0;
  const protocolErrors: string[] = [];
  const received: SimulatedCallResult['received'] = [];
  const clears: number[] = [];
  const sentFrames: Uint8Array[] = [];
  const dtmfSent: SimulatedCallResult['dtmfSent'] = [];
  const closedPromise = new Promise<void>((resolve) => {
    ws.on('close', (code, reason) => {
      closed = true;
      closeCode = code;
      closeReason = reason.toString();
      closedBy ??= 'bridge';
      progress({ type: 'closed', code, by: closedBy, atMs: now() });
      resolve();
    });
  });
  ws.on('error', (err) => protocolErrors.push(`socket error: ${err.message}`));

  const sendRaw = (data: string | Uint8Array, binary = false) => {
    if (closed || ws.readyState !== WebSocket.OPEN) return;
    ws.send(data, { binary });
  };
  const sendEvent = (event: string, body: Record<string, unknown> = {}) =>
    sendRaw(JSON.stringify({ event, sequenceNumber: String(++seq), ...body, streamSid }));
  const raw: RawStream = {
    streamSid,
    callSid,
    accountSid,
    nowMs: now,
    sendText: (t) => sendRaw(t),
    sendBinary: (b) => sendRaw(b, true),
    sendJson: (obj) => sendRaw(JSON.stringify(obj)),
    sendEvent,
    close: (code, reason) => {
      closedBy ??= 'simulator';
      ws.close(code, reason);
    },
    terminate: () => {
      closedBy ??= 'simulator';
      ws.terminate();
    },
    socket: ws,
  };

  const playout = new PlayoutBuffer((m) => {
    progress({ type: 'mark', ...m });
    if (!stopped) sendEvent('mark', { mark: { name: m.name } });
  });
  const protoErr = (message: string, atMs: number) => {
    protocolErrors.push(message);
    progress({ type: 'protocol-error', message, atMs });
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    const at = now();
    lastActivityMs = at;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    o.hooks?.onMessage?.(isBinary ? new Uint8Array(buf) : buf.toString('utf8'), at, raw);
    if (isBinary) return protoErr(`binary frame (${buf.length} bytes): Twilio accepts JSON text only`, at);
    let msg: unknown;
    try {
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      return protoErr(`invalid JSON: ${buf.toString('utf8').slice(0, 80)}`, at);
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return protoErr('message is not a JSON object', at);
    const m = msg as Record<string, unknown>;
    if (typeof m['event'] !== 'string') return protoErr('message has no event', at);
    const event = m['event'];
    if (event !== 'media' && event !== 'mark' && event !== 'clear') return protoErr(`unknown event "${event}"`, at);
    if (m['streamSid'] !== streamSid) return protoErr(`${event}: wrong or missing streamSid ${JSON.stringify(m['streamSid'])}`, at);
    if (stopped) warnings.push(`${event} sent after stop`);
    if (event === 'media') {
      const media = m['media'] as Record<string, unknown> | undefined;
      const payload = media?.['payload'];
      if (typeof payload !== 'string') return protoErr('media: missing media.payload', at);
      if (payload.length === 0) return protoErr('media: empty payload', at);
      if (payload.length % 4 !== 0 || !BASE64.test(payload)) return protoErr('media: payload is not valid base64', at);
      const bytes = new Uint8Array(Buffer.from(payload, 'base64'));
      received.push({ atMs: at, payload: bytes });
      playout.media(bytes, at);
      progress({ type: 'media', atMs: at, bytes: bytes.length });
    } else if (event === 'mark') {
      const name = (m['mark'] as Record<string, unknown> | undefined)?.['name'];
      if (typeof name !== 'string') return protoErr('mark: missing mark.name', at);
      playout.mark(name, at);
    } else {
      clears.push(at);
      playout.clear(at);
      progress({ type: 'clear', atMs: at });
    }
  });

  let endedBy: SimulatedCallResult['endedBy'] = 'completed';
  const aborted = () => o.signal?.aborted === true;

  // ---- the call ----
  await o.hooks?.onOpen?.(raw);
  if (o.send?.connected !== false) sendRaw(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  t0 = performance.now();
  if (o.send?.start !== false) {
    sendEvent('start', {
      start: {
        accountSid,
        streamSid,
        callSid,
        tracks: ['inbound'],
        customParameters: o.startParameters ?? twiml.parameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    progress({ type: 'start', streamSid, callSid });
  }
  await o.hooks?.afterStart?.(raw);

  const audioFrames = toFrames(o.audio);
  const tailFrames = Math.ceil(tailMs / FRAME_MS);
  const silence = new Uint8Array(FRAME_BYTES_8K).fill(MULAW_SILENCE);
  const dtmf = [...(o.dtmf ?? [])].sort((a, b) => a.atMs - b.atMs);
  let audioEndMs = 0;
  for (let i = 0; i < audioFrames.length + tailFrames; i++) {
    if (closed) {
      endedBy = 'bridge-closed';
      break;
    }
    if (aborted()) {
      endedBy = 'abort';
      break;
    }
    const due = i * FRAME_MS;
    if (realtime || i >= audioFrames.length) {
      // Timers may fire a fraction of a millisecond early: never send a frame before its time.
      while (now() < due && !aborted() && !closed) await sleep(Math.max(1, due - now()), o.signal);
    } else {
      const wallDue = due / speedup;
      while (performance.now() - t0 < wallDue && !aborted() && !closed) await sleep(Math.max(1, wallDue - (performance.now() - t0)), o.signal);
      skew = Math.max(skew, due - (performance.now() - t0));
      await tick();
      while (ws.bufferedAmount > 256 * 1024 && !closed) await sleep(1);
    }
    if (closed || aborted()) continue; // re-checked at the top
    if (i === audioFrames.length) {
      audioEndMs = due;
      progress({ type: 'audio-end', atMs: due });
    }
    if (i >= audioFrames.length && o.endWhenIdleMs !== undefined && playout.idle && now() - Math.max(lastActivityMs, audioEndMs) >= o.endWhenIdleMs) {
      endedBy = 'idle';
      break;
    }
    playout.advanceTo(now());
    while (dtmf.length && dtmf[0]!.atMs <= due) {
      const d = dtmf.shift()!;
      sendEvent('dtmf', { dtmf: { track: 'inbound_track', digit: d.digit } });
      dtmfSent.push({ digit: d.digit, atMs: now() });
      progress({ type: 'dtmf', digit: d.digit, atMs: now() });
    }
    const frame = i < audioFrames.length ? audioFrames[i]! : silence;
    if (o.hooks?.beforeFrame?.(i, frame, raw) === false) continue;
    sendEvent('media', { media: { track: 'inbound', chunk: String(i + 1), timestamp: String(due), payload: Buffer.from(frame).toString('base64') } });
    sentFrames.push(frame);
  }
  if (audioFrames.length + tailFrames === 0 || audioEndMs === 0) audioEndMs = Math.min(audioFrames.length * FRAME_MS, now());

  // ---- hang up ----
  if (!closed) {
    await o.hooks?.beforeStop?.(raw);
    playout.advanceTo(now());
    for (const d of dtmf) {
      sendEvent('dtmf', { dtmf: { track: 'inbound_track', digit: d.digit } });
      dtmfSent.push({ digit: d.digit, atMs: now() });
    }
    if (o.send?.stop !== false) sendEvent('stop', { stop: { accountSid, callSid } });
    stopped = true;
    progress({ type: 'stop', atMs: now() });
    closedBy ??= 'simulator';
    ws.close(1000);
    const timer = setTimeout(() => ws.terminate(), 3000);
    await closedPromise;
    clearTimeout(timer);
  }
  const durationMs = now();
  playout.advanceTo(durationMs);
  const heard = playout.heard(durationMs);
  const phrases = phraseLatencies(o.phrases ?? detectPhrases(o.audio), heard, playout.segments);
  const receivedAudio = Buffer.concat(received.map((r) => r.payload));

  const result: SimulatedCallResult = {
    twiml: hook.body,
    streamUrl: twiml.url,
    connectUrl: target.connectUrl,
    parameters: twiml.parameters,
    callSid,
    accountSid,
    streamSid,
    webhookStatus: hook.status,
    sentFrames,
    received,
    receivedAudio: new Uint8Array(receivedAudio.buffer, receivedAudio.byteOffset, receivedAudio.byteLength),
    heard,
    played: playout.segments,
    marks: playout.marks,
    clears,
    dtmfSent,
    audioEndMs,
    durationMs,
    endedBy,
    phrases,
    protocolErrors,
    warnings: [...new Set(warnings)],
  };
  if (closeCode !== undefined) result.closeCode = closeCode;
  if (closeReason) result.closeReason = closeReason;
  if (closedBy) result.closedBy = closedBy;
  return result;
}
