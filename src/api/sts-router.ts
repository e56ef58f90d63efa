/**
 * An ElevenLabs-compatible API served by the embedded engine, so tools built on the official
 * SDKs (base URL pointed here) and ElevenLabs' documented examples mask recordings offline:
 *   POST /v1/speech-to-speech/:voice_id[/stream]   the voice changer (28 / 21 output formats)
 *   GET  /v1/voices, /v1/voices/:voice_id, /v2/voices, /v1/models
 *   GET  /v1/voices/settings/default, /v1/voices/:voice_id/settings
 *   GET  /v1/voices/:voice_id/preview              the preview_url sample (no key needed)
 * Requests are validated as the real API does (./sts-request.ts, ./models.ts,
 * ./voice-settings.ts); input is any common audio file, told from its bytes and decoded in
 * worker threads (../audio/codecs/decode-pool.ts), or raw pcm_s16le_16. Output is encoded
 * block by block as the engine makes it (./output-encoder.ts): /stream sends audio while the
 * conversion runs. A conversion takes its slot (maxConcurrent) before its body is read, and
 * keeps it until its answer is sent; a client that stops reading its answer for STALL_MS is
 * cut. Every error is JSON. Audio is never logged or stored.
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { AudioDecodeError, truncatedMessage } from '../audio/codecs/decode.js';
import { sharedDecodePool, type DecodePool } from '../audio/codecs/decode-pool.js';
import { concatChunks } from '../audio/codecs/pcm.js';
import { loadMp3Encoder, Mp3EncoderUnavailable } from '../audio/codecs/mp3-encoder.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { ArrivingInput, StsEngine } from './engine.js';
import { checkModel, STS_MODELS } from './models.js';
import { createOutputEncoder, type OutputEncoder } from './output-encoder.js';
import { previewMaker } from './preview.js';
import { authError, parseStsRequest, sendStsError, statusError, validationError, type StsErrorAnswer, type StsRequest } from './sts-request.js';
import { DEFAULT_VOICE_SETTINGS, parseVoiceSettings } from './voice-settings.js';
import { searchVoices, voiceJson } from './voices.js';
import { apiTurn } from './turns.js';

export interface StsRouterOptions {
  engine: StsEngine;
  /** API key check (xi-api-key); omitted: open. */
  checkKey?: (key: string | undefined) => boolean | Promise<boolean>;
  log?: Logger;
  /** Longest input, seconds (default 300, as ElevenLabs). */
  maxInputSeconds?: number;
  /** Largest audio file, bytes (default 50 MB, as ElevenLabs). */
  maxBodyBytes?: number;
  /** Conversions at once; more get 429 too_many_concurrent_requests (default 4). */
  maxConcurrent?: number;
  /** Public base URL for preview_url (default: from the request's Host). */
  publicUrl?: string;
  /**
   * The port's shared rate limit: counts one request from a client address, returning null when
   * allowed, else the seconds until it may retry (answered as a JSON 429 system_busy).
   */
  rateLimit?: (client: string) => number | null;
  /** Where uploads are decoded (default: the process's shared pool of worker threads). */
  decodePool?: DecodePool;
  /** A client that reads none of its answer for this long is cut, ms (default 10 s). */
  stallMs?: number;
}

const RATE = 16000;
/** Input to the output encoder per step: 40 ms (an MP3 step then takes a few ms). */
const ENCODE_PIECE = 640;
export const DEFAULT_MAX_INPUT_SECONDS = 300;
/** Decoded audio /stream waits for before it answers a long encoded file (speaker boost's measure). */
const STREAM_HEAD_SECONDS = 10;
/** Decoded audio past a container's stated duration that is still within what encoders pad (0.5 s). */
const STATED_GRACE = RATE / 2;
export const DEFAULT_MAX_CONCURRENT = 4;
export const DEFAULT_STALL_MS = 10_000;

const EXPOSED_HEADERS = 'request-id, history-item-id, character-cost, current-concurrent-requests, maximum-concurrent-requests, x-trace-id';

const newId = () => randomBytes(10).toString('hex');

/** ElevenLabs bills the voice changer 1,000 characters per minute of input. */
export const characterCost = (samples16k: number): number => Math.max(1, Math.ceil((samples16k / RATE / 60) * 1000));

function sendError(res: Response, err: StsErrorAnswer, requestId = newId()): void {
  sendStsError(res, { ...err, headers: { ...err.headers, 'request-id': requestId, 'x-trace-id': requestId } });
}

/** Writes with backpressure: resolves once the socket has room (or is gone). */
async function write(res: Response, chunk: Uint8Array): Promise<void> {
  if (res.destroyed || res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/**
 * Cuts a response whose client stops reading: while output waits to be sent, the socket must
 * take some of it every `ms`. Returns a function that stops watching.
 */
function cutWhenStalled(res: Response, ms: number, onCut: () => void): () => void {
  const socket = res.socket;
  if (!socket) return () => undefined;
  let sent = socket.bytesWritten;
  let since = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    const waiting = res.writableLength > 0 || socket.writableLength > 0;
    if (!waiting || socket.bytesWritten !== sent) {
      sent = socket.bytesWritten;
      since = now;
    } else if (now - since >= ms) {
      stop();
      onCut();
      res.destroy();
    }
  }, Math.min(1000, ms / 4));
  tick.unref();
  const stop = () => clearInterval(tick);
  res.once('close', stop);
  return stop;
}

export function createStsRouter(opts: StsRouterOptions): Router {
  const router = Router();
  const { engine, log } = opts;
  const maxSeconds = opts.maxInputSeconds ?? DEFAULT_MAX_INPUT_SECONDS;
  const maxConcurrent = opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  const stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
  const pool = () => opts.decodePool ?? sharedDecodePool();
  const preview = previewMaker(engine);
  let active = 0;
  const voice = (id: string) => engine.voices.find((v) => v.id === id);
  const baseUrl = (req: Request) => (opts.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`).replace(/\/+$/, '');
  const voiceNotFound = (id: string) =>
    statusError(404, 'voice_not_found', `A voice with the voice_id ${id} was not found. Voices here: ${engine.voices.map((v) => v.id).join(', ')}.`);

  const authorised = async (req: Request, res: Response, requestId?: string): Promise<boolean> => {
    if (!opts.checkKey) return true;
    const h = req.headers['xi-api-key'];
    const key = Array.isArray(h) ? h[0] : h;
    if (await opts.checkKey(key)) return true;
    sendError(res, authError(key), requestId);
    return false;
  };

  /**
   * The request's audio as 16 kHz mono PCM16, or the 422 that explains why not. On /stream, a
   * long file whose container states its duration is answered once its first
   * STREAM_HEAD_SECONDS are decoded, the rest masked as it is decoded (an error found later
   * then cuts the answer); otherwise the whole file is decoded first.
   */
  const input = async (r: StsRequest, signal: AbortSignal, stream: boolean): Promise<Int16Array | (ArrivingInput & { samples: number }) | StsErrorAnswer> => {
    const bad = (msg: string) => validationError([{ loc: ['body', 'audio'], msg, type: 'value_error' }]);
    const tooLong = () => bad(`the audio is longer than ${maxSeconds} s, the longest this server accepts`);
    const bytes = r.audio.bytes;
    if (r.fileFormat === 'pcm_s16le_16') {
      if (bytes.byteLength % 2 !== 0) return bad('pcm_s16le_16 audio must have an even number of bytes (16-bit samples)');
      const pcm = new Int16Array(bytes.byteLength / 2);
      new Uint8Array(pcm.buffer).set(bytes);
      if (pcm.length > maxSeconds * RATE) return tooLong();
      return pcm;
    }
    const stop = new AbortController();
    const abort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    // the request's bytes go to the decoding thread; nothing here reads them again
    const job = pool().start(bytes, { maxSeconds, signal: stop.signal, transfer: true });
    const refuse = (answer: StsErrorAnswer) => {
      stop.abort(new Error('refused'));
      return answer;
    };
    try {
      const stated = stream ? await job.stated() : undefined;
      if (stated?.seconds !== undefined) {
        if (stated.seconds > maxSeconds + 0.5) return refuse(tooLong());
        if (stated.endsEarly) return refuse(bad(truncatedMessage(job.container)));
        await job.until(STREAM_HEAD_SECONDS * RATE);
        const samples = Math.round(stated.seconds * RATE);
        // more decoded already than the container states: it is not believed, the whole file is decoded first
        if (!job.ended && job.pending <= samples + STATED_GRACE) return { head: concatChunks(job.take()), rest: job.rest(), samples };
      }
      await job.done;
      return concatChunks(job.take());
    } catch (err) {
      if (err instanceof AudioDecodeError) return bad(err.message);
      throw err;
    } finally {
      if (job.ended) signal.removeEventListener('abort', abort);
    }
  };

  const convert = (stream: boolean) => async (req: Request<{ voice_id: string }>, res: Response) => {
    const requestId = newId();
    const voiceId = req.params.voice_id;
    // the key first (from the headers), then a slot, and only then is the body read: a request
    // over the limit costs no memory, and one conversion's upload cannot crowd out another's
    if (!(await authorised(req, res, requestId))) return req.resume();
    if (active >= maxConcurrent) {
      log?.info({ requestId, voiceId, status: 429 }, 'sts request refused');
      req.resume();
      return sendError(
        res,
        statusError(429, 'too_many_concurrent_requests', `This server runs at most ${maxConcurrent} conversions at once; ${active} are running. Retry shortly.`),
        requestId,
      );
    }
    active++;
    try {
      await converting(stream, req, res, requestId, voiceId);
    } finally {
      active--;
    }
  };

  const converting = async (stream: boolean, req: Request<{ voice_id: string }>, res: Response, requestId: string, voiceId: string) => {
    const parsed = await parseStsRequest(req, {
      voiceId,
      stream,
      ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes }),
    });
    if (!parsed.ok) return sendError(res, parsed.error, requestId);
    const r = parsed.request;
    const refuse = (err: StsErrorAnswer) => {
      log?.info({ requestId, voiceId, status: err.status, outputFormat: r.outputFormat }, 'sts request refused');
      sendError(res, err, requestId);
    };
    if (!voice(voiceId)) return refuse(voiceNotFound(voiceId));
    const modelError = checkModel(r.modelId);
    if (modelError) return refuse(modelError);
    const vs = parseVoiceSettings(r.voiceSettings?.value ?? null);
    if (vs.issues.length > 0) return refuse(validationError(vs.issues));
    if (r.outputFormat.startsWith('mp3_')) {
      try {
        await loadMp3Encoder();
      } catch (err) {
        if (!(err instanceof Mp3EncoderUnavailable)) throw err;
        return refuse(validationError([{ loc: ['query', 'output_format'], msg: err.message, type: 'value_error' }]));
      }
    }
    const started = performance.now();
    // A client that hangs up stops the work between blocks.
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort(new Error('client disconnected'));
    });
    // ... and so does one that stops reading (its slot is freed, its buffered answer dropped)
    cutWhenStalled(res, stallMs, () => log?.info({ requestId, voiceId, stallMs }, 'sts client stopped reading its answer: cut'));
    let encoder: OutputEncoder | undefined;
    let bytesOut = 0;
    try {
      const pcm = await input(r, gone.signal, stream);
      if ('status' in pcm) return refuse(pcm);
      const samples = pcm instanceof Int16Array ? pcm.length : pcm.samples;
      if (samples === 0) return refuse(validationError([{ loc: ['body', 'audio'], msg: 'the audio is empty', type: 'value_error' }]));
      encoder = await createOutputEncoder(r.outputFormat, Math.round(samples / vs.settings.speed));
      const headers: Record<string, string> = {
        'content-type': encoder.contentType,
        'request-id': requestId,
        'character-cost': String(characterCost(samples)),
        'current-concurrent-requests': String(active),
        'maximum-concurrent-requests': String(maxConcurrent),
        // No history is kept (audio is never stored); the id names the generation in our logs.
        ...(r.enableLogging && { 'history-item-id': requestId }),
      };
      const masked = engine.mask(pcm, {
        voiceId,
        settings: vs.settings,
        ...(r.seed !== null && { seed: r.seed }),
        denoise: r.removeBackgroundNoise,
        signal: gone.signal,
      });
      const enc = encoder;
      const slow = /^(mp3|opus)_/.test(r.outputFormat);
      /** Encodes a masked block; MP3 and Opus in 40 ms pieces with the event loop handed back between them. */
      async function* encoded(): AsyncGenerator<Uint8Array> {
        for await (const block of masked) {
          for (let o = 0; o < block.length; o += ENCODE_PIECE) {
            yield* enc.push(block.subarray(o, o + ENCODE_PIECE));
            if (slow) await apiTurn();
          }
        }
        yield* enc.end();
      }
      if (stream) {
        res.writeHead(200, headers);
        res.flushHeaders();
        for await (const b of encoded()) {
          bytesOut += b.byteLength;
          await write(res, b);
        }
        res.end();
      } else {
        const parts: Uint8Array[] = [];
        for await (const b of encoded()) parts.push(b);
        const body = Buffer.concat(parts);
        bytesOut = body.byteLength;
        res.writeHead(200, { ...headers, 'content-length': String(body.byteLength) });
        res.end(body);
      }
      log?.info(
        { requestId, voiceId, inMs: Math.round(samples / 16), outputFormat: r.outputFormat, stream, bytesOut, ms: Math.round(performance.now() - started) },
        'sts request converted',
      );
    } catch (err) {
      if (gone.signal.aborted) return;
      log?.error({ requestId, voiceId, err: (err as Error).message }, 'sts conversion failed');
      // Fail closed: a stream already begun is cut, never finished with anything unmasked.
      if (res.headersSent) res.destroy();
      else sendError(res, statusError(500, 'internal_error', 'The conversion failed'), requestId);
    } finally {
      encoder?.destroy();
      // stops a decode still running when the answer ended without it (refused after /stream
      // started decoding); after a complete answer there is nothing left to stop
      gone.abort(new Error('request over'));
    }
  };

  // Browsers may call the API from a page (MediaRecorder WebM in, audio out), as with ElevenLabs:
  // the key, not the origin, guards it.
  router.use((req, res, next) => {
    if (!/^\/v[12]\//.test(req.path)) return next();
    const retryAfter = opts.rateLimit?.(req.socket.remoteAddress ?? 'unknown') ?? null;
    if (retryAfter !== null) {
      metrics.httpRejected.inc({ reason: 'rate-limit' });
      res.setHeader('retry-after', String(retryAfter));
      return sendError(res, statusError(429, 'system_busy', `Too many requests from this address; retry in ${retryAfter} s`));
    }
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    if (req.method !== 'OPTIONS') return next();
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'xi-api-key, content-type, accept');
    res.setHeader('access-control-max-age', '600');
    res.status(204).end();
  });

  router.post('/v1/speech-to-speech/:voice_id', convert(false));
  router.post('/v1/speech-to-speech/:voice_id/stream', convert(true));

  router.get('/v1/voices', async (req, res) => {
    if (!(await authorised(req, res))) return;
    res.json({ voices: engine.voices.map((v) => voiceJson(v, baseUrl(req))) });
  });

  router.get('/v2/voices', async (req, res) => {
    if (!(await authorised(req, res))) return;
    const result = searchVoices(engine.voices, new URL(req.originalUrl, 'http://x').searchParams, baseUrl(req));
    if ('issues' in result) return sendError(res, validationError(result.issues));
    res.json(result);
  });

  router.get('/v1/voices/settings/default', async (req, res) => {
    if (!(await authorised(req, res))) return;
    res.json({ ...DEFAULT_VOICE_SETTINGS });
  });

  router.get('/v1/voices/:voice_id', async (req, res) => {
    if (!(await authorised(req, res))) return;
    const v = voice(req.params.voice_id);
    if (!v) return sendError(res, voiceNotFound(req.params.voice_id));
    res.json(voiceJson(v, baseUrl(req)));
  });

  router.get('/v1/voices/:voice_id/settings', async (req, res) => {
    if (!(await authorised(req, res))) return;
    if (!voice(req.params.voice_id)) return sendError(res, voiceNotFound(req.params.voice_id));
    res.json({ ...DEFAULT_VOICE_SETTINGS });
  });

  // Like ElevenLabs' preview URLs, public: the sample is a stock sentence, never a caller's audio.
  router.get('/v1/voices/:voice_id/preview', async (req, res) => {
    if (!voice(req.params.voice_id)) return sendError(res, voiceNotFound(req.params.voice_id));
    try {
      const p = await preview(req.params.voice_id);
      res.writeHead(200, { 'content-type': p.contentType, 'content-length': String(p.bytes.byteLength), 'cache-control': 'public, max-age=86400' });
      res.end(p.bytes);
    } catch (err) {
      log?.error({ voiceId: req.params.voice_id, err: (err as Error).message }, 'voice preview failed');
      sendError(res, statusError(500, 'internal_error', 'The preview could not be made'));
    }
  });

  router.get('/v1/models', async (req, res) => {
    if (!(await authorised(req, res))) return;
    res.json(STS_MODELS);
  });

  // Anything else under the API's prefixes: JSON, as ElevenLabs answers, never Express' HTML page.
  router.all(/^\/v[12]\//, (req, res) => {
    sendError(res, statusError(404, 'not_found', `${req.method} ${req.path} is not served by this ElevenLabs-compatible API (it serves the voice changer, voices and models)`));
  });

  return router;
}
