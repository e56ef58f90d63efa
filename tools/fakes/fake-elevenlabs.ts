/**
 * The fake ElevenLabs speech-to-speech server, written from ElevenLabs' API reference (the
 * convert and stream endpoints' OpenAPI schema, their error answers, the account's concurrency
 * limit) and importing nothing from src/, so a misreading of the API in the product shows up as
 * a failing test instead of cancelling out. A real node:http server on 127.0.0.1:0 answering
 * POST /v1/speech-to-speech/{voice_id}[/stream]. It records every request and injects faults,
 * programmable per request.
 *
 * What a conversion answers (`answer`):
 *  - 'tone' (default): a deterministic "masked" signal, a pure tone (300 Hz by default) as long
 *    as the input;
 *  - 'echo': the input itself, at the output format's rate, so every played sample can be
 *    traced to the words it carries (the delay benchmark, the long-turn tests); each request's
 *    audio and answer are kept (`pcm8k`, `reply`).
 * How it is paced: `firstByteMs` before the answer (the converter's time to first byte), then
 * `chunkMs` pieces `chunkDelayMs` apart, or with `holdMs` every answer spread over that long
 * (a conversion holding its account slot for a known time).
 * One account (`concurrencyLimit`): a request arriving while the limit is in use gets 429
 * too_many_concurrent_requests, as the API answers over a plan's limit; every answer carries
 * current-concurrent-requests and maximum-concurrent-requests. `refused`, `maxServed` and
 * `converted` count what a fleet test asserts.
 *
 *   const fake = await startFakeElevenLabs();
 *   fake.setFaults([{ type: 'status', status: 500 }, undefined]);   // 1st request 500, 2nd ok
 *   fake.setFaults((i) => (i < 3 ? { type: 'reset-before-first-byte' } : undefined));
 *   ... fake.requests, fake.maxInFlight, await fake.whenReceived(2), await fake.whenFinished(0) ...
 *   await fake.close();
 *   const echo = await startFakeElevenLabs({ answer: 'echo', apiKey: null, firstByteMs: 300, chunkMs: Infinity });
 *   const account = await startFakeElevenLabs({ concurrencyLimit: 4, holdMs: 500 });
 *
 * What it checks, as the reference states it: xi-api-key (401 needs_authorization /
 * invalid_api_key); the query parameters output_format (28 values, the 21 non-wav ones on
 * /stream), enable_logging (boolean), optimize_streaming_latency (integer); the multipart form:
 * audio (a file, required), model_id (a voice-changer model, else 400), voice_settings (a JSON
 * object string), seed (0..4294967295), remove_background_noise (boolean), file_format
 * (pcm_s16le_16 | other); 422 in FastAPI's {"detail":[{loc,msg,type}]} shape. Empty form
 * values count as absent (the docs' Go example sends every field empty).
 *
 * Voices: GET /v1/voices/{voice_id} answers one Voice (voice_id, name, category, labels, ...)
 * or 404 voice_not_found, and GET /v1/voices the list, with the same key check. `voices` names
 * the account's voices (ids, or records with name, category and labels); unset, every id
 * exists (a voice named after its id, no labels). Lookups are recorded apart (`voiceLookups`)
 * and never take a conversion's request index; `voiceLookupFaults` makes ElevenLabs
 * unreachable for them (a status, a reset, a hang, a slow answer):
 *
 *   const fake = await startFakeElevenLabs({ voices: [{ voice_id: 'v1', labels: { gender: 'female', age: 'young' } }] });
 *   fake.setVoiceLookupFaults((i) => (i < 2 ? { type: 'status', status: 503 } : undefined));
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import wavefile from 'wavefile';
import { alawEncode, mulawEncode } from './g711.js';
import { matchPath, sendError, statusError, validate, validationError, type FakeStsRequest } from './sts-spec.js';

export { SPEC_MAX_SEED, SPEC_OUTPUT_FORMATS, SPEC_STREAM_OUTPUT_FORMATS, SPEC_STS_MODELS, type FakeStsRequest } from './sts-spec.js';

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

/** A voice of the fake account, as GET /v1/voices/{voice_id} describes it (the rest is filled in). */
export interface FakeVoice {
  voice_id: string;
  name?: string;
  /** premade, cloned, generated, professional, famous, high_quality (default 'premade'). */
  category?: string;
  /** accent, age, gender, description, use_case, ... */
  labels?: Record<string, string>;
  description?: string;
}

/** Faults a voice lookup can meet (the others are conversion faults). */
export type VoiceLookupFault = Extract<Fault, { type: 'status' | 'unauthorized' | 'slow-first-byte' | 'reset-before-first-byte' | 'hang' }>;
export type VoiceLookupPlan = Array<VoiceLookupFault | undefined> | ((index: number, voiceId: string | undefined) => VoiceLookupFault | undefined);

/** One GET of the voices API (never counted among the conversion requests). */
export interface RecordedVoiceLookup {
  index: number;
  /** undefined: the list, GET /v1/voices. */
  voiceId: string | undefined;
  headers: IncomingMessage['headers'];
  fault?: VoiceLookupFault;
  status?: number;
  receivedAt: number;
}

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
  parsed?: FakeStsRequest;
  fault?: Fault;
  /** Refused with 429 too_many_concurrent_requests: the account's limit was in use. */
  overLimit: boolean;
  status?: number;
  /** The whole answer was sent. */
  completed: boolean;
  /** The client went away before the answer was complete (a cancelled request). */
  cancelled: boolean;
  /** performance.now() marks (same clock as the tests'). */
  receivedAt: number;
  firstByteSentAt?: number;
  endedAt?: number;
  bytesSent: number;
  /** The request's audio at 8 kHz (kept with `keepAudio`, else empty). */
  pcm8k: Int16Array;
  /** The audio answered, as sent (kept with `keepAudio`, else empty). */
  reply: Uint8Array;
}

export interface FakeElevenLabsOptions {
  /** Accepted xi-api-key (default 'test-key'); null accepts anything. */
  apiKey?: string | null;
  /** What a conversion answers: a tone as long as the input (default), or the input itself. */
  answer?: 'tone' | 'echo';
  /** Tone of the answer, Hz (default 300). */
  toneHz?: number;
  /** Wait before answering, once the request is read, ms (default 0): the time to first byte. */
  firstByteMs?: number;
  /** Audio per chunk, ms (default 100; Infinity: the whole answer in one write). */
  chunkMs?: number;
  /** Pause between chunks, ms (default 10). */
  chunkDelayMs?: number;
  /** Spread every answer over this long, in six pieces, whatever its length (instead of chunkMs/chunkDelayMs). */
  holdMs?: number;
  /** The account's concurrency limit (default none: maximum-concurrent-requests 15, nothing refused). */
  concurrencyLimit?: number;
  /** Keep each request's audio and answer in its record (default: with answer 'echo'). */
  keepAudio?: boolean;
  /** The fault plan from the start (see setFaults). */
  faults?: FaultPlan;
  /** Path prefix the fake is mounted under, e.g. '/proxy'. */
  pathPrefix?: string;
  /** Audio size limit (default ElevenLabs' 50 MB); over it: 413 payload_too_large. */
  maxBodyBytes?: number;
  /** The account's voices (ids or records); others get 404 voice_not_found, on conversions and lookups. Default: any voice exists. */
  voices?: Array<string | FakeVoice>;
  /** Faults for GET /v1/voices[/{id}] (see setVoiceLookupFaults). */
  voiceLookupFaults?: VoiceLookupPlan;
}

export interface FakeElevenLabs {
  baseUrl: string;
  requests: RecordedRequest[];
  setFaults(plan: FaultPlan): void;
  readonly inFlight: number;
  /** The most requests at once, those refused over the concurrency limit included. */
  readonly maxInFlight: number;
  /** The most requests at once that the concurrency limit let through. */
  readonly maxServed: number;
  /** Requests refused with 429 too_many_concurrent_requests (the account's limit was in use). */
  readonly refused: number;
  /** Requests the concurrency limit let through (answered, failed or still running). */
  readonly served: number;
  /** Answers sent whole with status 200. */
  readonly converted: number;
  setConcurrencyLimit(limit: number | undefined): void;
  /** Every GET of the voices API, in arrival order. */
  voiceLookups: RecordedVoiceLookup[];
  /** Voice lookup n (from 0, since the start) meets this fault. */
  setVoiceLookupFaults(plan: VoiceLookupPlan): void;
  /** Replaces the account's voices (undefined: any voice exists), e.g. a voice deleted. */
  setVoices(voices: Array<string | FakeVoice> | undefined): void;
  /** Resolves once `count` requests (since the last reset) have arrived: a wait on events, not on time. */
  whenReceived(count: number): Promise<void>;
  /** Resolves with request `index` once its connection has closed (answered, failed or reset). */
  whenFinished(index: number): Promise<RecordedRequest>;
  /** Resets requests, maxInFlight and maxServed (keeps the fault plan and the limit). */
  reset(): void;
  close(): Promise<void>;
}

const AMPLITUDE = 8000;
const MAX_STS_BYTES = 50 * 1024 * 1024;

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

/** Milliseconds of input: raw 16 kHz S16LE for pcm_s16le_16, a WAV file's duration otherwise. */
function inputMs(r: FakeStsRequest): number {
  const pcmMs = r.audio.bytes.byteLength / 2 / 16;
  if (r.fileFormat === 'pcm_s16le_16') return pcmMs;
  try {
    const wav = new wavefile.WaveFile(r.audio.bytes);
    const fmt = wav.fmt as { sampleRate: number; blockAlign: number };
    const data = wav.data as { chunkSize: number };
    return (data.chunkSize / fmt.blockAlign / fmt.sampleRate) * 1000;
  } catch {
    return pcmMs;
  }
}

/** The request's audio as 16-bit samples: raw 16 kHz S16LE for pcm_s16le_16, a WAV file's first channel otherwise. */
function inputSamples(r: FakeStsRequest): { samples: Int16Array; rate: number } {
  const raw = () => {
    const b = r.audio.bytes;
    return { samples: new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + (b.byteLength & ~1))), rate: 16000 };
  };
  if (r.fileFormat === 'pcm_s16le_16') return raw();
  try {
    const wav = new wavefile.WaveFile(r.audio.bytes);
    const fmt = wav.fmt as { sampleRate: number; numChannels: number };
    const all = wav.getSamples(true, Int16Array) as unknown as Int16Array;
    const samples = new Int16Array(Math.floor(all.length / fmt.numChannels));
    for (let i = 0; i < samples.length; i++) samples[i] = all[i * fmt.numChannels]!;
    return { samples, rate: fmt.sampleRate };
  } catch {
    return raw();
  }
}

/** `samples` at `rate`, as `outRate` (nearest earlier sample: halving the rate keeps every other sample). */
function atRate(samples: Int16Array, rate: number, outRate: number): Int16Array {
  if (rate === outRate) return samples;
  const out = new Int16Array(Math.floor((samples.length * outRate) / rate));
  for (let i = 0; i < out.length; i++) out[i] = samples[Math.floor((i * rate) / outRate)]!;
  return out;
}

/** The answer's samples in the requested container: headerless G.711 or PCM, or a WAV file. MP3/Opus are not faked. */
function encodeAnswer(format: string, answerAt: (rate: number) => Int16Array): { bytes: Uint8Array; contentType: string; bytesPerMs: number } | undefined {
  const [codec, rateStr] = format.split('_') as [string, string];
  const rate = Number(rateStr);
  if (!['ulaw', 'alaw', 'pcm', 'wav'].includes(codec)) return undefined;
  const samples = answerAt(rate);
  if (codec === 'ulaw') return { bytes: mulawEncode(samples), contentType: 'audio/basic', bytesPerMs: rate / 1000 };
  if (codec === 'alaw') return { bytes: alawEncode(samples), contentType: 'audio/x-alaw-basic', bytesPerMs: rate / 1000 };
  if (codec === 'pcm') return { bytes: new Uint8Array(samples.buffer), contentType: 'audio/pcm', bytesPerMs: (rate * 2) / 1000 };
  if (codec === 'wav') {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, rate, '16', samples);
    return { bytes: wav.toBuffer(), contentType: 'audio/wav', bytesPerMs: (rate * 2) / 1000 };
  }
  return undefined;
}

/** The account's voices by id (undefined: any voice exists). */
function voiceMap(list: Array<string | FakeVoice> | undefined): Map<string, FakeVoice> | undefined {
  if (!list) return undefined;
  return new Map(list.map((v) => (typeof v === 'string' ? { voice_id: v } : v)).map((v) => [v.voice_id, v]));
}

/** A Voice as GET /v1/voices/{voice_id} answers it (the fields the reference lists). */
function voiceRecord(v: FakeVoice): Record<string, unknown> {
  return {
    voice_id: v.voice_id,
    name: v.name ?? v.voice_id,
    category: v.category ?? 'premade',
    labels: v.labels ?? {},
    description: v.description ?? null,
    preview_url: null,
    available_for_tiers: [],
    high_quality_base_model_ids: ['eleven_multilingual_sts_v2'],
    samples: null,
    fine_tuning: null,
    settings: null,
    sharing: null,
    verified_languages: [],
    is_owner: v.category !== undefined && v.category !== 'premade',
    is_legacy: false,
    is_mixed: false,
    created_at_unix: null,
  };
}

/** /v1/voices/{voice_id} or /v1/voices (voiceId undefined); not /v1/voices/settings/... */
function matchVoicePath(pathname: string, prefix: string): { voiceId: string | undefined } | null {
  if (!pathname.startsWith(prefix)) return null;
  const rest = pathname.slice(prefix.length);
  if (/^\/v1\/voices\/?$/.test(rest)) return { voiceId: undefined };
  const m = /^\/v1\/voices\/([^/]+)\/?$/.exec(rest);
  if (!m || m[1] === 'settings') return null;
  try {
    return { voiceId: decodeURIComponent(m[1]!) };
  } catch {
    return null;
  }
}

export async function startFakeElevenLabs(options: FakeElevenLabsOptions = {}): Promise<FakeElevenLabs> {
  const apiKey = options.apiKey === undefined ? 'test-key' : options.apiKey;
  const toneHz = options.toneHz ?? 300;
  const chunkMs = options.chunkMs ?? 100;
  const chunkDelayMs = options.chunkDelayMs ?? 10;
  const firstByteMs = options.firstByteMs ?? 0;
  const echo = options.answer === 'echo';
  const keepAudio = options.keepAudio ?? echo;
  let limit = options.concurrencyLimit;
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  const maxBytes = options.maxBodyBytes ?? MAX_STS_BYTES;
  const requests: RecordedRequest[] = [];
  let plan: FaultPlan = options.faults ?? [];
  let voices = voiceMap(options.voices);
  let lookupPlan: VoiceLookupPlan = options.voiceLookupFaults ?? [];
  const voiceLookups: RecordedVoiceLookup[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let servedInFlight = 0;
  /** Requests whose socket the fake itself destroyed (a fault): not cancelled by the client. */
  const resets = new WeakSet<RecordedRequest>();
  let maxServed = 0;
  let counter = 0;
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const waitFor = <T>(ready: () => T | undefined): Promise<T> =>
    new Promise<T>((resolve) => {
      const check = () => {
        const v = ready();
        if (v === undefined) return;
        waiters.delete(check);
        resolve(v);
      };
      waiters.add(check);
      check();
    });
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  const faultFor = (rec: RecordedRequest): Fault | undefined => (typeof plan === 'function' ? plan(rec.index, rec) : plan[rec.index]);

  async function handle(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const route = req.method === 'POST' ? matchPath(url.pathname, prefix) : null;
    if (!route) {
      req.resume();
      return sendError(res, statusError(404, 'not_found', `No route for ${req.method} ${url.pathname}`));
    }
    rec.voiceId = route.voiceId;
    rec.stream = route.stream;
    const key = req.headers['xi-api-key'];
    if (limit !== undefined && inFlight > limit && (apiKey === null || key === apiKey)) {
      // The account counts a request from its arrival to the end of its answer.
      rec.overLimit = true;
      req.resume();
      return sendError(res, {
        ...statusError(429, 'too_many_concurrent_requests', `Your current subscription is associated with a maximum of ${limit} concurrent requests.`),
        headers: { 'current-concurrent-requests': String(inFlight), 'maximum-concurrent-requests': String(limit) },
      });
    }
    servedInFlight++;
    maxServed = Math.max(maxServed, servedInFlight);
    res.once('close', () => servedInFlight--);
    const v = await validate(req, route, { apiKey, maxBytes, ...(voices && { voices: [...voices.keys()] }) });
    if (v.ok) {
      rec.parsed = v.request;
      rec.fields = v.request.fields;
      rec.audioBytes = v.request.audio.bytes.byteLength;
      rec.audioFilename = v.request.audio.filename;
      rec.audioContentType = v.request.audio.contentType;
    } else if (v.fields) rec.fields = v.fields;
    const input = v.ok && (echo || keepAudio) ? inputSamples(v.request) : undefined;
    if (input && keepAudio) rec.pcm8k = atRate(input.samples, input.rate, 8000);
    const fault = faultFor(rec);
    rec.fault = fault;
    const sock = req.socket;
    if (firstByteMs > 0) {
      await sleep(firstByteMs);
      if (sock.destroyed) return;
    }

    switch (fault?.type) {
      case 'hang':
        return new Promise<void>((resolve) => sock.once('close', resolve));
      case 'reset-before-first-byte':
        resets.add(rec);
        sock.destroy();
        return;
      case 'status':
        return sendError(res, {
          status: fault.status,
          body: fault.body ?? { detail: { status: 'internal_error', message: `fake error ${fault.status}` } },
          ...(fault.headers && { headers: fault.headers }),
        });
      case 'rate-limit':
        return sendError(
          res,
          statusError(
            429,
            fault.code,
            fault.code === 'system_busy' ? 'The system is experiencing heavy traffic, please try again' : 'Your current subscription is associated with a maximum of 2 concurrent requests',
            fault.retryAfterS === undefined ? undefined : { 'retry-after': String(fault.retryAfterS) },
          ),
        );
      case 'unauthorized':
        return sendError(res, statusError(401, 'invalid_api_key', 'Invalid API key'));
      case 'validation':
        return sendError(res, validationError([{ loc: ['body', 'model_id'], msg: 'Model does not support speech to speech', type: 'value_error' }]));
      default:
        break;
    }
    if (!v.ok) return sendError(res, v.error);

    const r = v.request;
    const ms = inputMs(r);
    const answer = encodeAnswer(r.outputFormat, (rate) => (echo && input ? atRate(input.samples, input.rate, rate) : toneSamples(ms, toneHz, rate)));
    if (!answer) {
      return sendError(res, validationError([{ loc: ['query', 'output_format'], msg: 'the fake answers only ulaw, alaw, pcm and wav', type: 'value_error' }]));
    }
    if (keepAudio) rec.reply = answer.bytes.subarray(0, fault?.type === 'reset-mid-stream' ? fault.afterBytes : answer.bytes.length);
    const headers = {
      'content-type': answer.contentType,
      'transfer-encoding': 'chunked',
      'request-id': randomUUID(),
      'history-item-id': randomUUID().replaceAll('-', '').slice(0, 20),
      'character-cost': String(Math.ceil((ms / 60_000) * 1000)),
      'current-concurrent-requests': String(inFlight),
      'maximum-concurrent-requests': String(limit ?? 15),
    };
    if (fault?.type === 'slow-first-byte') {
      if (fault.headersEarly) res.writeHead(200, headers).flushHeaders();
      await sleep(fault.delayMs);
      if (sock.destroyed) return;
    }
    if (!res.headersSent) res.writeHead(200, headers);
    const total = fault?.type === 'reset-mid-stream' ? Math.min(fault.afterBytes, answer.bytes.length) : answer.bytes.length;
    // Six pieces over holdMs, a pause after each; or chunkMs pieces chunkDelayMs apart.
    const chunkBytes = options.holdMs !== undefined ? Math.max(1, Math.ceil(answer.bytes.length / 6)) : Math.max(1, Math.round(chunkMs * answer.bytesPerMs));
    for (let off = 0; off < total; off += chunkBytes) {
      if (sock.destroyed) return;
      const piece = answer.bytes.subarray(off, Math.min(total, off + chunkBytes));
      await new Promise<void>((resolve) => res.write(piece, () => resolve()));
      rec.firstByteSentAt ??= performance.now();
      rec.bytesSent += piece.length;
      if (options.holdMs !== undefined) await sleep(options.holdMs / 6);
      else if (off + chunkBytes < answer.bytes.length && chunkDelayMs > 0) await sleep(chunkDelayMs);
    }
    if (fault?.type === 'reset-mid-stream') {
      resets.add(rec);
      sock.destroy();
      return;
    }
    if (sock.destroyed) return;
    await new Promise<void>((resolve) => res.end(resolve));
    rec.completed = true;
  }

  /** GET /v1/voices/{voice_id} and GET /v1/voices: the account's voices. */
  async function lookUpVoice(req: IncomingMessage, res: ServerResponse, voiceId: string | undefined): Promise<void> {
    const rec: RecordedVoiceLookup = { index: voiceLookups.length, voiceId, headers: req.headers, receivedAt: performance.now() };
    voiceLookups.push(rec);
    res.once('close', () => (rec.status = res.headersSent ? res.statusCode : undefined));
    req.resume();
    const fault = typeof lookupPlan === 'function' ? lookupPlan(rec.index, voiceId) : lookupPlan[rec.index];
    if (fault) rec.fault = fault;
    const sock = req.socket;
    switch (fault?.type) {
      case 'hang':
        return new Promise<void>((resolve) => sock.once('close', resolve));
      case 'reset-before-first-byte':
        sock.destroy();
        return;
      case 'status':
        return sendError(res, { status: fault.status, body: fault.body ?? { detail: { status: 'internal_error', message: `fake error ${fault.status}` } }, ...(fault.headers && { headers: fault.headers }) });
      case 'unauthorized':
        return sendError(res, statusError(401, 'invalid_api_key', 'Invalid API key'));
      case 'slow-first-byte':
        await sleep(fault.delayMs);
        if (sock.destroyed) return;
        break;
      default:
        break;
    }
    const header = req.headers['xi-api-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (apiKey !== null && key !== apiKey) {
      return sendError(res, key ? statusError(401, 'invalid_api_key', 'Invalid API key') : statusError(401, 'needs_authorization', 'Neither authorization header nor xi-api-key received, please provide one.'));
    }
    let body: unknown;
    if (voiceId === undefined) body = { voices: [...(voices?.values() ?? [])].map(voiceRecord) };
    else {
      const known = voices ? voices.get(voiceId) : { voice_id: voiceId, name: voiceId };
      if (!known) return sendError(res, statusError(404, 'voice_not_found', `A voice with the voice_id ${voiceId} was not found.`));
      body = voiceRecord(known);
    }
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': randomUUID() });
    res.end(text);
  }

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'GET') {
      const voice = matchVoicePath(u.pathname, prefix);
      if (voice) {
        lookUpVoice(req, res, voice.voiceId).catch(() => req.socket.destroy());
        return;
      }
    }
    const rec: RecordedRequest = {
      index: counter++,
      method: req.method ?? '',
      path: u.pathname,
      url: req.url ?? '',
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      fields: {},
      audioBytes: 0,
      receivedAt: performance.now(),
      bytesSent: 0,
      overLimit: false,
      completed: false,
      cancelled: false,
      pcm8k: new Int16Array(0),
      reply: new Uint8Array(0),
    };
    requests.push(rec);
    wake();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      inFlight--;
      rec.endedAt = performance.now();
      rec.status = res.headersSent ? res.statusCode : undefined;
      rec.cancelled = !res.writableFinished && !resets.has(rec);
      wake();
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
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
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
    get maxServed() {
      return maxServed;
    },
    get refused() {
      return requests.filter((r) => r.overLimit).length;
    },
    get served() {
      return requests.filter((r) => !r.overLimit).length;
    },
    get converted() {
      return requests.filter((r) => r.completed && r.status === 200).length;
    },
    setConcurrencyLimit(n) {
      limit = n;
    },
    voiceLookups,
    setVoiceLookupFaults(p) {
      lookupPlan = p;
    },
    setVoices(list) {
      voices = voiceMap(list);
    },
    whenReceived: (count) => waitFor(() => (requests.length >= count ? true : undefined)).then(() => undefined),
    whenFinished: (index) => waitFor(() => (requests[index]?.endedAt !== undefined ? requests[index] : undefined)),
    reset() {
      requests.length = 0;
      counter = 0;
      maxInFlight = inFlight;
      maxServed = servedInFlight;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
