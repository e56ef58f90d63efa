/**
 * ElevenLabs speech-to-speech over undici: one POST per phrase to
 * {base}/v1/speech-to-speech/{voice}/stream?output_format=ulaw_8000, converted audio yielded
 * chunk by chunk as it arrives. No retries here (the resilience wrappers own them): every
 * failure becomes a ConversionError saying what happened and whether audio had been delivered;
 * what that means (retry, circuit, fallback) is the table's in ../errors.ts.
 *
 * Timeouts: connect (undici), first byte (our timer, cleared by the first body byte), idle
 * (no byte for idleTimeoutMs while the answer is incomplete: a stall; what arrived is kept and
 * the error says STALLED) and a total deadline scaled to the phrase length. All of them, and the caller's req.signal, end in
 * one AbortSignal handed to undici, so a cancel frees the socket, the timers and the stream.
 * Each phrase has its own connection from the keep-alive pool: a hung request never holds up
 * the next phrase.
 */
import { performance } from 'node:perf_hooks';
import { FormData, Pool } from 'undici';
import type { Logger } from '../../observability/logger.js';
import { phraseMs as durationMs, type PhraseConverter, type PhraseRequest } from '../converter.js';
import { resample } from '../../audio/resampler.js';
import { abortedError, ConversionError, EMPTY_ANSWER, isAbort, STALLED } from '../errors.js';
import { asMasked, type MaskedAudio } from '../masked.js';
import { errorFromResponse, errorFromTransport } from './failures.js';
import { readConcurrencyHeaders, type AccountConcurrency } from './headers.js';

export interface ElevenLabsOptions {
  apiKey: string;
  /** e.g. https://api.elevenlabs.io, https://api.eu.residency.elevenlabs.io, or a proxy with a path prefix. */
  baseUrl: string;
  modelId: string;
  /** A JSON object string, sent as is. */
  voiceSettings?: string;
  seed?: number;
  removeBackgroundNoise: boolean;
  /** undefined: not sent (the API default, true). false = zero retention (enterprise only). */
  enableLogging?: boolean;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  /** Longest gap between body chunks once audio flows (default 1200 ms). */
  idleTimeoutMs?: number;
  /** The total deadline is max(this, first byte + 2 × phrase duration). */
  minTotalTimeoutMs?: number;
  /** Told the account's concurrency headers of every answer that has them (the fleet limiter learns the limit). */
  onConcurrency?: (c: AccountConcurrency) => void;
}


/**
 * The request URL for a base URL (with or without a trailing slash or a path prefix).
 * Returns the origin (for the pool) and the path with its query.
 */
export function buildStsUrl(
  baseUrl: string,
  voiceId: string,
  query: Record<string, string | undefined>,
): { origin: string; path: string; href: string } {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, v);
  const q = qs.toString();
  const path = `${prefix}/v1/speech-to-speech/${encodeURIComponent(voiceId)}/stream${q ? `?${q}` : ''}`;
  return { origin: base.origin, path, href: `${base.origin}${path}` };
}

export const OUTPUT_FORMAT = 'ulaw_8000';
const MAX_ERROR_BODY = 64 * 1024;

export class ElevenLabsConverter implements PhraseConverter {
  readonly name = 'elevenlabs';
  private readonly pool: Pool;
  private readonly origin: string;
  private closed = false;

  constructor(
    private readonly opts: ElevenLabsOptions,
    private readonly log: Logger,
  ) {
    this.origin = new URL(opts.baseUrl).origin;
    this.pool = new Pool(this.origin, {
      connect: { timeout: opts.connectTimeoutMs },
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      // Our own first-byte and total deadlines are tighter; these are backstops.
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  }

  async *convert(req: PhraseRequest): AsyncGenerator<MaskedAudio, void, undefined> {
    if (this.closed) throw new ConversionError('ElevenLabs converter is closed', 'internal');
    if (req.signal.aborted) throw abortedError(req.signal.reason);
    const log = req.log ?? this.log;
    const phraseMs = durationMs(req);
    const { firstByteTimeoutMs, idleTimeoutMs = 1200 } = this.opts;
    const totalMs = Math.max(this.opts.minTotalTimeoutMs ?? 5000, firstByteTimeoutMs + 2 * phraseMs);

    const firstByte = new AbortController();
    const fbTimer = setTimeout(() => firstByte.abort(), firstByteTimeoutMs);
    const total = AbortSignal.timeout(totalMs);
    const idle = new AbortController();
    let idleTimer: NodeJS.Timeout | undefined;
    const done = new AbortController(); // our own cleanup, e.g. the consumer stopped early
    const signal = AbortSignal.any([req.signal, firstByte.signal, idle.signal, total, done.signal]);

    let bytesOut = 0;
    const started = performance.now();
    let firstByteMs: number | undefined;
    // Which of the signals ended the request, as a ConversionError (undefined: none did).
    const why = (): ConversionError | undefined => {
      if (req.signal.aborted) return abortedError(req.signal.reason);
      const after = bytesOut > 0;
      if (firstByte.signal.aborted && !after) {
        return new ConversionError(`ElevenLabs sent no audio within ${firstByteTimeoutMs} ms`, 'timeout');
      }
      if (idle.signal.aborted && after) {
        return new ConversionError(`ElevenLabs stalled: no audio for ${idleTimeoutMs} ms mid-answer (${bytesOut} bytes kept)`, 'timeout', { afterFirstByte: true, code: STALLED });
      }
      if (total.aborted) {
        return new ConversionError(`ElevenLabs did not finish within ${Math.round(totalMs)} ms`, 'timeout', { afterFirstByte: after });
      }
      return undefined;
    };

    const { path } = buildStsUrl(this.opts.baseUrl, req.voiceId, {
      output_format: OUTPUT_FORMAT,
      enable_logging: this.opts.enableLogging === undefined ? undefined : String(this.opts.enableLogging),
    });
    try {
      let res: Awaited<ReturnType<Pool['request']>>;
      try {
        res = await this.pool.request({
          path,
          method: 'POST',
          headers: { 'xi-api-key': this.opts.apiKey, accept: 'audio/basic, application/json' },
          body: this.form(req),
          signal,
        });
      } catch (err) {
        throw why() ?? errorFromTransport(err, false);
      }

      const concurrency = readConcurrencyHeaders(res.headers);
      if (concurrency) this.opts.onConcurrency?.(concurrency);
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const text = await readText(res.body, MAX_ERROR_BODY).catch(() => '');
        throw why() ?? errorFromResponse(res.statusCode, res.headers, text);
      }

      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          clearTimeout(idleTimer);
          if (chunk.byteLength === 0) continue;
          if (bytesOut === 0) {
            clearTimeout(fbTimer);
            firstByteMs = performance.now() - started;
          }
          bytesOut += chunk.byteLength;
          yield asMasked(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          // Waiting for the next chunk from here (not while the consumer held us at the yield).
          idleTimer = setTimeout(() => idle.abort(), idleTimeoutMs);
        }
      } catch (err) {
        throw why() ?? errorFromTransport(err, bytesOut > 0);
      }
      if (bytesOut === 0) throw new ConversionError('ElevenLabs answered 200 with no audio', 'internal', { status: res.statusCode, code: EMPTY_ANSWER });
      log.debug(
        { converter: this.name, voiceId: req.voiceId, phraseMs: Math.round(phraseMs), firstByteMs: Math.round(firstByteMs ?? 0), bytesOut, ms: Math.round(performance.now() - started) },
        'elevenlabs phrase converted',
      );
    } catch (err) {
      if (err instanceof ConversionError && !isAbort(err)) {
        log.debug({ converter: this.name, voiceId: req.voiceId, kind: err.kind, label: err.policy.label, status: err.status, code: err.code, retryable: err.retryable, bytesOut }, 'elevenlabs phrase failed');
      }
      throw err;
    } finally {
      clearTimeout(fbTimer);
      clearTimeout(idleTimer);
      done.abort();
    }
  }

  private form(req: PhraseRequest): FormData {
    const o = this.opts;
    // ElevenLabs takes pcm_s16le_16: 16 kHz mono PCM16, so the call's 8 kHz is upsampled here.
    const pcm = req.sampleRate === 16000 ? req.pcm : resample(req.pcm, req.sampleRate, 16000);
    const form = new FormData();
    form.append('audio', new Blob([new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)], { type: 'application/octet-stream' }), 'phrase.pcm');
    form.append('model_id', o.modelId);
    if (o.voiceSettings !== undefined) form.append('voice_settings', o.voiceSettings);
    const seed = req.personaSeed ?? o.seed;
    if (seed !== undefined) form.append('seed', String(seed));
    form.append('remove_background_noise', String(o.removeBackgroundNoise));
    form.append('file_format', 'pcm_s16le_16');
    return form;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

/** An answer's body as text, at most `limit` bytes kept (the rest is read and dropped). */
export async function readText(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    if (n < limit) parts.push(chunk.subarray(0, limit - n));
    n += chunk.byteLength;
  }
  return Buffer.concat(parts).toString('utf8');
}

export function createElevenLabsConverter(opts: ElevenLabsOptions, log: Logger, extra: Pick<ElevenLabsOptions, 'onConcurrency'> = {}): PhraseConverter {
  return new ElevenLabsConverter({ ...opts, ...extra }, log.child({ converter: 'elevenlabs' }));
}
