/**
 * An ElevenLabs-compatible speech-to-speech API served by the embedded engine, so tools built
 * on the official SDKs (base URL pointed here) can mask recordings offline:
 *   POST /v1/speech-to-speech/:voice_id          whole answer
 *   POST /v1/speech-to-speech/:voice_id/stream   chunked answer
 *   GET  /v1/voices, GET /v1/models
 * Requests are validated by ./sts-request.ts exactly as the real API does. Input: raw
 * pcm_s16le_16, or WAV (file_format=other; PCM16, float32 or mu-law, any rate). Output:
 * ulaw_8000, alaw_8000, pcm_8000..48000, wav_8000..48000; mp3 and opus are refused with 422.
 * model_id is accepted and ignored (one engine). The resampler must be initialised
 * (initLocalEngine() does it). Audio is never logged.
 */
import { Router, type Request, type Response } from 'express';
import { alawEncode, mulawEncode } from '../audio/mulaw.js';
import { resample } from '../audio/resampler.js';
import { encodeWavPcm16, parseWav, wavToPcm16 } from '../audio/wav.js';
import type { Logger } from '../observability/logger.js';
import type { VoiceInfo } from '../voice/converter.js';
import {
  parseStsRequest,
  sendStsError,
  statusError,
  validationError,
  type OutputFormat,
  type StsErrorAnswer,
  type StsRequest,
} from './sts-request.js';

/**
 * What the router needs of the engine (LocalEngine's masking plus its voice list). The router
 * uses maskPcm16kAsync when given (it hands the event loop back as it works, so a long input does
 * not stall other calls), else maskPcm16k.
 */
export interface MaskingEngine {
  maskPcm16k(pcm16k: Int16Array, opts: { voiceId: string; seed?: number; denoise?: boolean }): Int16Array;
  maskPcm16kAsync?(pcm16k: Int16Array, opts: { voiceId: string; seed?: number; denoise?: boolean; signal?: AbortSignal }): Promise<Int16Array>;
  voices: VoiceInfo[];
}

export interface StsRouterOptions {
  engine: MaskingEngine;
  /** API key check (xi-api-key); omitted: open. */
  checkKey?: (key: string | undefined) => boolean | Promise<boolean>;
  log?: Logger;
  /** Input limit, seconds (default 300, as ElevenLabs). */
  maxInputSeconds?: number;
  maxBodyBytes?: number;
}

export const STS_MODELS = [
  { model_id: 'eleven_multilingual_sts_v2', name: 'Eleven Multilingual v2 (STS)' },
  { model_id: 'eleven_english_sts_v2', name: 'Eleven English v2 (STS)' },
] as const;

const RATE = 16000;
/** 100 ms of output per chunk on /stream. */
const STREAM_CHUNK_MS = 100;

export class StsInputError extends Error {}

/** The request's audio as 16 kHz mono PCM16. */
export function decodeInput(r: Pick<StsRequest, 'audio' | 'fileFormat'>): Int16Array {
  const bytes = r.audio.bytes;
  if (r.fileFormat === 'pcm_s16le_16') {
    if (bytes.byteLength % 2 !== 0) throw new StsInputError('pcm_s16le_16 audio must have an even number of bytes');
    const out = new Int16Array(bytes.byteLength / 2);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getInt16(i * 2, true);
    return out;
  }
  let decoded: { samples: Int16Array; sampleRate: number };
  try {
    decoded = wavToPcm16(parseWav(bytes));
  } catch (err) {
    throw new StsInputError(`unsupported audio (${(err as Error).message}): send a WAV file (16-bit PCM, 32-bit float or mu-law) or raw 16 kHz PCM with file_format=pcm_s16le_16`);
  }
  return resample(decoded.samples, decoded.sampleRate, RATE);
}

/** Whether this server can produce a format, and if not, why. */
export function outputSupported(format: OutputFormat): boolean {
  return !format.startsWith('mp3_') && !format.startsWith('opus_');
}

/** Encodes 16 kHz PCM16 in an output format (not mp3/opus). */
export function encodeOutput(pcm16k: Int16Array, format: OutputFormat): { bytes: Uint8Array; contentType: string; bytesPerMs: number } {
  const [codec, rateStr] = format.split('_') as [string, string];
  const rate = Number(rateStr);
  const pcm = resample(pcm16k, RATE, rate);
  switch (codec) {
    case 'ulaw':
      return { bytes: mulawEncode(pcm), contentType: 'audio/basic', bytesPerMs: rate / 1000 };
    case 'alaw':
      return { bytes: alawEncode(pcm), contentType: 'audio/x-alaw-basic', bytesPerMs: rate / 1000 };
    case 'pcm':
      return { bytes: new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength), contentType: 'audio/pcm', bytesPerMs: (rate * 2) / 1000 };
    case 'wav':
      return { bytes: encodeWavPcm16(pcm, rate), contentType: 'audio/wav', bytesPerMs: (rate * 2) / 1000 };
    default:
      throw new Error(`unsupported output format ${format}`);
  }
}

export function createStsRouter(opts: StsRouterOptions): Router {
  const router = Router();
  const { engine, log } = opts;
  const maxInputSamples = (opts.maxInputSeconds ?? 300) * RATE;
  const voiceIds = () => new Set(engine.voices.map((v) => v.id));

  const authorised = async (req: Request, res: Response): Promise<boolean> => {
    if (!opts.checkKey) return true;
    const key = req.headers['xi-api-key'];
    if (await opts.checkKey(Array.isArray(key) ? key[0] : key)) return true;
    sendStsError(res, statusError(401, 'invalid_api_key', key ? 'Invalid API key' : 'Missing xi-api-key header: an API key is required'));
    return false;
  };

  const convert = (stream: boolean) => async (req: Request<{ voice_id: string }>, res: Response) => {
    const voiceId = req.params.voice_id;
    const parsed = await parseStsRequest(req, {
      voiceId,
      stream,
      ...(opts.checkKey && { checkKey: opts.checkKey }),
      ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes }),
    });
    if (!parsed.ok) return sendStsError(res, parsed.error);
    const r = parsed.request;
    const refuse = (err: StsErrorAnswer) => {
      log?.info({ voiceId, status: err.status, outputFormat: r.outputFormat }, 'sts request refused');
      sendStsError(res, err);
    };
    if (!voiceIds().has(voiceId)) {
      return refuse(statusError(404, 'voice_not_found', `A voice with the voice_id ${voiceId} was not found. Available: ${[...voiceIds()].join(', ')}`));
    }
    if (!outputSupported(r.outputFormat)) {
      return refuse(
        validationError([
          { loc: ['query', 'output_format'], msg: `${r.outputFormat} is not supported by this server (no mp3/opus encoder): use ulaw_8000, alaw_8000, pcm_* or wav_*`, type: 'value_error' },
        ]),
      );
    }
    let pcm: Int16Array;
    try {
      pcm = decodeInput(r);
    } catch (err) {
      if (!(err instanceof StsInputError)) throw err;
      return refuse(validationError([{ loc: ['body', 'audio'], msg: err.message, type: 'value_error' }]));
    }
    if (pcm.length === 0) return refuse(validationError([{ loc: ['body', 'audio'], msg: 'the audio is empty', type: 'value_error' }]));
    if (pcm.length > maxInputSamples) {
      return refuse(validationError([{ loc: ['body', 'audio'], msg: `the audio is longer than ${maxInputSamples / RATE} s`, type: 'value_error' }]));
    }

    const started = performance.now();
    // A client that hangs up stops the conversion between blocks.
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort(new Error('client disconnected'));
    });
    let out: ReturnType<typeof encodeOutput>;
    try {
      const maskOpts = { voiceId, ...(r.seed !== null && { seed: r.seed }), denoise: r.removeBackgroundNoise, signal: gone.signal };
      const masked = engine.maskPcm16kAsync ? await engine.maskPcm16kAsync(pcm, maskOpts) : engine.maskPcm16k(pcm, maskOpts);
      out = encodeOutput(masked, r.outputFormat);
    } catch (err) {
      if (gone.signal.aborted) return;
      log?.error({ voiceId, err: (err as Error).message }, 'sts conversion failed');
      return sendStsError(res, statusError(500, 'internal_error', 'The conversion failed'));
    }
    log?.info(
      { voiceId, inMs: Math.round(pcm.length / 16), outputFormat: r.outputFormat, stream, bytesOut: out.bytes.byteLength, ms: Math.round(performance.now() - started) },
      'sts request converted',
    );
    if (!stream) {
      res.writeHead(200, { 'content-type': out.contentType, 'content-length': out.bytes.byteLength });
      res.end(out.bytes);
      return;
    }
    res.writeHead(200, { 'content-type': out.contentType, 'transfer-encoding': 'chunked' });
    const step = Math.max(1, Math.round(out.bytesPerMs * STREAM_CHUNK_MS));
    for (let off = 0; off < out.bytes.byteLength && !res.destroyed; off += step) {
      // honour backpressure: a slow reader does not make us buffer the whole answer twice
      if (!res.write(out.bytes.subarray(off, off + step))) {
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
    }
    res.end();
  };

  router.post('/v1/speech-to-speech/:voice_id', convert(false));
  router.post('/v1/speech-to-speech/:voice_id/stream', convert(true));

  router.get('/v1/voices', async (req, res) => {
    if (!(await authorised(req, res))) return;
    res.json({
      voices: engine.voices.map((v) => ({
        voice_id: v.id,
        name: v.name,
        description: v.description,
        category: 'premade',
        labels: {},
        available_for_tiers: [],
        high_quality_base_model_ids: STS_MODELS.map((m) => m.model_id),
      })),
    });
  });

  router.get('/v1/models', async (req, res) => {
    if (!(await authorised(req, res))) return;
    res.json(
      STS_MODELS.map((m) => ({
        ...m,
        description: 'Served by the embedded voice-masking engine (model_id is accepted and ignored)',
        can_do_voice_conversion: true,
        can_do_text_to_speech: false,
        can_be_finetuned: false,
        can_use_style: false,
        can_use_speaker_boost: false,
        requires_alpha_access: false,
      })),
    );
  });

  return router;
}
