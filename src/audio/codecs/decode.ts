/**
 * Any common audio file to 16 kHz mono PCM16, the container told from the bytes: WAV, MP3,
 * FLAC (native or in Ogg), Ogg Opus, Ogg Vorbis and WebM Opus (a browser's MediaRecorder).
 * MP4/M4A/AAC is refused by name (no permissively licensed AAC decoder). Headers are checked
 * before anything is decoded (./prescan.ts: more than 8 channels refused, Ogg and FLAC cut into
 * slices each bounded in the audio it decodes to, an over-long file refused unread); work is
 * done in those slices with the event loop handed back between them, and stops as soon as the
 * audio runs past maxSeconds. Uploads are decoded in worker threads (./decode-pool.ts), which
 * add a memory and a time budget. Every failure is an AudioDecodeError whose message a person
 * understands.
 */
import { setImmediate } from 'node:timers/promises';
import OpusScript from 'opusscript';
import { Resampler } from '../resampler.js';
import { containerSeconds, flacStreamInfo } from './duration.js';
import { MAX_CHANNELS, opusPacketSamples, prescan, PrescanError, type Prescan } from './prescan.js';
import { concatChunks, floatToMono16, interleaved16ToMono } from './pcm.js';
import { id3Skip, isMpegFrameHeader, mpegFrameLength, sniffContainer, type Container } from './sniff.js';
import { openWav } from './wav-decode.js';
import { demuxWebmAudio, WebmError } from './webm.js';

/**
 * unsupported: a format, codec or channel count this server does not take; corrupt, truncated,
 * empty: the file is broken; too_long: over maxSeconds; too_large: it needs more memory to decode
 * than one upload may take; too_slow: it took longer to decode than one upload may.
 */
export type DecodeFailure = 'unsupported' | 'corrupt' | 'truncated' | 'too_long' | 'empty' | 'too_large' | 'too_slow';

export class AudioDecodeError extends Error {
  override name = 'AudioDecodeError';
  constructor(
    readonly kind: DecodeFailure,
    message: string,
  ) {
    super(message);
  }
}

export const ACCEPTED_INPUTS = 'WAV (PCM, float, A-law, mu-law), MP3, FLAC, Ogg Opus, Ogg Vorbis or WebM Opus';

export interface DecodeOptions {
  /** Longest input accepted, seconds. */
  maxSeconds: number;
  signal?: AbortSignal;
  /** Hands the event loop back between slices (default: setImmediate). */
  yieldTurn?: () => Promise<unknown>;
  /** Called after each decoder call (a worker checks its memory there); may throw. */
  afterSlice?: () => void;
}

export interface DecodedAudio {
  pcm16k: Int16Array;
  container: Container;
  /** The file's own sample rate and channel count. */
  sampleRate: number;
  channels: number;
  seconds: number;
}

const NAMES: Record<Container, string> = {
  wav: 'WAV',
  mp3: 'MP3',
  flac: 'FLAC',
  'ogg-opus': 'Ogg Opus',
  'ogg-vorbis': 'Ogg Vorbis',
  ogg: 'Ogg',
  webm: 'WebM',
  mp4: 'MP4/M4A',
  aac: 'AAC',
  unknown: 'unknown',
};

/**
 * Audio this much past the limit still passes: encoders pad (LAME adds ~50 ms, Opus up to a
 * packet), so a recording of exactly the limit comes out slightly longer once encoded.
 */
const LIMIT_GRACE_S = 0.5;

/** Hands decoded slices on as 16 kHz mono, enforcing the duration limit as it goes. */
class Sink {
  private resampler?: Resampler;
  /** 16 kHz samples handed on. */
  length = 0;
  sourceSamples = 0;
  rate = 0;
  channels = 1;

  constructor(
    private readonly label: string,
    readonly maxSeconds: number,
    /** Hands the event loop back between slices. */
    readonly turn: () => Promise<unknown>,
    private readonly emit: (pcm16k: Int16Array) => void,
  ) {}

  push(mono: Int16Array, rate: number): void {
    if (this.channels > MAX_CHANNELS) throw new AudioDecodeError('unsupported', `the ${this.label} file has ${this.channels} channels; this server accepts at most ${MAX_CHANNELS}`);
    if (mono.length === 0) return;
    if (!(rate >= 1000 && rate <= 384000)) throw new AudioDecodeError('corrupt', `the ${this.label} file declares a sample rate of ${rate} Hz`);
    if (this.rate === 0) {
      this.rate = rate;
      if (rate !== 16000) this.resampler = new Resampler(rate, 16000);
    } else if (rate !== this.rate) {
      throw new AudioDecodeError('unsupported', `the ${this.label} file changes sample rate mid-stream (${this.rate} Hz to ${rate} Hz)`);
    }
    this.sourceSamples += mono.length;
    if (this.sourceSamples / rate > this.maxSeconds + LIMIT_GRACE_S) {
      throw new AudioDecodeError('too_long', `the audio is longer than ${this.maxSeconds} s, the longest this server accepts`);
    }
    this.add(this.resampler ? this.resampler.process(mono) : mono.slice());
  }

  /** 16 kHz output is exactly round(source samples * 16000 / rate) long. */
  private get want(): number {
    return this.rate === 0 ? 0 : Math.round((this.sourceSamples * 16000) / this.rate);
  }

  private add(x: Int16Array): void {
    const room = this.want - this.length;
    const y = x.length > room ? x.subarray(0, Math.max(0, room)) : x;
    if (y.length === 0) return;
    this.length += y.length;
    this.emit(y);
  }

  finish(): void {
    if (this.resampler) {
      this.add(this.resampler.flush());
      this.resampler.destroy();
      this.resampler = undefined;
    }
    if (this.length < this.want) this.add(new Int16Array(this.want - this.length));
  }

  destroy(): void {
    this.resampler?.destroy();
  }
}

/**
 * Byte-streaming decoders are fed slices sized so that one takes about TARGET_MS of work (the
 * bytes per second of audio vary 50-fold between a 32 kbps Opus and a FLAC file): the size
 * adapts between MIN_SLICE and MAX_SLICE as it goes.
 */
const TARGET_MS = 8;
const MIN_SLICE = 512;
const MAX_SLICE = 64 * 1024;
/** PCM handed to the sink per turn of the event loop, samples. */
const PCM_SLICE = 48000;

interface Decoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: Array<{ message: string }>;
}

interface ByteDecoder {
  ready: Promise<void>;
  decode(b: Uint8Array): Decoded | Promise<Decoded>;
  flush?(): Promise<Decoded>;
  free(): void;
}

async function loadDecoder(c: Container, channels: number): Promise<ByteDecoder> {
  switch (c) {
    case 'mp3':
      return new (await import('mpg123-decoder')).MPEGDecoder();
    case 'flac':
      return new (await import('@wasm-audio-decoders/flac')).FLACDecoder();
    case 'ogg-opus':
      // more than two channels are mixed to stereo inside the decoder: a quarter of the output at 8
      return new (await import('ogg-opus-decoder')).OggOpusDecoder({ forceStereo: channels > 2 }) as unknown as ByteDecoder;
    case 'ogg-vorbis':
      return new (await import('@wasm-audio-decoders/ogg-vorbis')).OggVorbisDecoder();
    default:
      throw new AudioDecodeError('unsupported', `no decoder for ${NAMES[c]}`);
  }
}

/**
 * The WASM decoders print every bad frame with console.error (a hostile upload could flood
 * stderr); their errors are counted from the results instead, so console.error is muted while
 * any decoder call runs. Calls of several decodes can overlap (some decoders are async): the
 * original is put back when the last one ends. (The bridge logs with pino, not console.)
 */
let muted = 0;
let consoleError: typeof console.error = console.error;
async function quietly<T>(fn: () => T | Promise<T>): Promise<T> {
  if (muted++ === 0) {
    consoleError = console.error;
    console.error = () => undefined;
  }
  try {
    return await fn();
  } finally {
    if (--muted === 0) console.error = consoleError;
  }
}

/** Ogg: every page complete and the last one marked end-of-stream. */
function oggTruncated(b: Uint8Array): boolean {
  let o = 0;
  let eos = false;
  while (o + 27 <= b.length) {
    if (b[o] !== 0x4f || b[o + 1] !== 0x67 || b[o + 2] !== 0x67 || b[o + 3] !== 0x53) return false; // not a page: leave it to the decoder
    const segs = b[o + 26]!;
    if (o + 27 + segs > b.length) return true;
    let body = 0;
    for (let i = 0; i < segs; i++) body += b[o + 27 + i]!;
    eos = (b[o + 5]! & 4) !== 0;
    o += 27 + segs + body;
  }
  return o > b.length || (o < b.length ? true : !eos);
}

/** FLAC: fewer samples decoded than STREAMINFO declares. */
function flacShort(b: Uint8Array, decoded: number): boolean {
  const info = flacStreamInfo(b);
  return info !== undefined && info.total > 0 && decoded < info.total - 4608;
}

/** The end of the last complete MPEG frame is past the end of the file: the upload was cut. */
function mp3Truncated(b: Uint8Array): boolean {
  let o = id3Skip(b);
  while (o < b.length && !isMpegFrameHeader(b, o)) o++;
  let frames = 0;
  while (o + 4 <= b.length && isMpegFrameHeader(b, o)) {
    const len = mpegFrameLength(b, o);
    if (len === undefined || len < 4) return false;
    if (o + len > b.length) return frames > 0;
    o += len;
    frames++;
  }
  return false;
}

/** More decoded audio than this past the limit, by the prescan's count, is refused unread. */
const PRESCAN_MARGIN_S = 1;

/** Ogg and FLAC headers checked and the decoder calls planned (./prescan.ts); undefined for MP3. */
function plan(c: Container, bytes: Uint8Array, maxSeconds: number): Prescan | undefined {
  let p: Prescan;
  try {
    if (c === 'ogg-opus' || c === 'ogg-vorbis') p = prescan(bytes, c);
    else if (c === 'flac') p = bytes[0] === 0x4f ? prescan(bytes, 'ogg-flac') : prescan(bytes, 'flac', id3Skip(bytes));
    else return undefined;
  } catch (err) {
    if (err instanceof PrescanError) throw new AudioDecodeError(err.kind, err.message);
    throw err;
  }
  if (p.maxSamples !== undefined && p.maxSamples / p.rate > maxSeconds + LIMIT_GRACE_S + PRESCAN_MARGIN_S) {
    throw new AudioDecodeError('too_long', `the audio is longer than ${maxSeconds} s, the longest this server accepts (its ${NAMES[c]} frames hold ${Math.round(p.maxSamples / p.rate)} s)`);
  }
  return p;
}

async function decodeBytes(c: Container, bytes: Uint8Array, sink: Sink, signal?: AbortSignal, afterSlice?: () => void): Promise<void> {
  const label = NAMES[c];
  const planned = plan(c, bytes, sink.maxSeconds);
  let d: ByteDecoder;
  try {
    d = await loadDecoder(c, planned?.channels ?? 2);
    await d.ready;
  } catch (err) {
    if (err instanceof AudioDecodeError) throw err;
    throw new AudioDecodeError('unsupported', `the ${label} decoder could not be loaded (${(err as Error).message})`);
  }
  let errors = 0;
  let firstError = '';
  const take = (r: Decoded) => {
    if (r.errors.length > 0) {
      errors += r.errors.length;
      firstError ||= r.errors[0]!.message;
    }
    if (r.samplesDecoded > 0) {
      sink.channels = planned?.channels ?? r.channelData.length;
      sink.push(floatToMono16(r.channelData, r.samplesDecoded), r.sampleRate);
    }
  };
  try {
    // slices sized for TARGET_MS of work, never across a planned cut (a bound on their output)
    const cuts = planned?.slices ?? [];
    let cut = 0;
    let slice = 4096;
    for (let o = 0; o < bytes.length; ) {
      while (cut < cuts.length && cuts[cut]! <= o) cut++;
      const end = Math.min(bytes.length, o + slice, cuts[cut] ?? Infinity);
      const t0 = performance.now();
      take(await quietly(() => d.decode(bytes.subarray(o, end))));
      afterSlice?.();
      o = end;
      const ms = performance.now() - t0;
      if (ms < TARGET_MS / 2 && slice < MAX_SLICE) slice *= 2;
      else if (ms > TARGET_MS * 2 && slice > MIN_SLICE) slice /= 2;
      await sink.turn();
      signal?.throwIfAborted();
    }
    if (d.flush) take(await quietly(() => d.flush!()));
  } catch (err) {
    if (err instanceof AudioDecodeError || signal?.aborted) throw err;
    throw new AudioDecodeError('corrupt', `the ${label} file could not be decoded (${(err as Error).message})`);
  } finally {
    d.free();
  }
  if (sink.sourceSamples === 0) throw new AudioDecodeError('corrupt', `no ${label} audio could be decoded: the file is corrupt or empty`);
  if (errors > 0) throw new AudioDecodeError('corrupt', `the ${label} file is corrupt: ${errors} frame(s) failed to decode (${firstError})`);
  if (c === 'flac' ? flacShort(bytes, sink.sourceSamples) : endsEarly(bytes, c)) throw new AudioDecodeError('truncated', truncatedMessage(c));
}

/** MP3 or Ogg that ends inside its last frame or page: told from the bytes, before decoding. */
export function endsEarly(bytes: Uint8Array, c: Container): boolean {
  return c === 'mp3' ? mp3Truncated(bytes) : c.startsWith('ogg') ? oggTruncated(bytes) : false;
}

export function truncatedMessage(c: Container): string {
  return `the ${NAMES[c]} file is truncated: it ends before its last ${c === 'mp3' ? 'frame' : c === 'flac' ? 'declared sample' : 'page'} (was the upload complete?)`;
}

async function decodeWebm(bytes: Uint8Array, sink: Sink, signal?: AbortSignal, afterSlice?: () => void): Promise<void> {
  // Opus frames last 2.5 ms at the least: more frames than that many for maxSeconds cannot be
  // a file within the limit (and are never all held)
  const maxFrames = Math.ceil(((sink.maxSeconds + LIMIT_GRACE_S + PRESCAN_MARGIN_S) * 1000) / 2.5);
  let webm;
  try {
    webm = demuxWebmAudio(bytes, { maxFrames });
  } catch (err) {
    if (err instanceof WebmError && err.tooMany) throw new AudioDecodeError('too_long', `the audio is longer than ${sink.maxSeconds} s, the longest this server accepts (the WebM file holds over ${maxFrames} frames)`);
    throw new AudioDecodeError('corrupt', `the WebM file could not be read (${(err as Error).message})`);
  }
  if (webm.codecId !== 'A_OPUS') throw new AudioDecodeError('unsupported', `WebM with ${webm.codecId} audio is not supported; WebM must hold Opus (as browsers record it)`);
  if (webm.frames.length === 0) throw new AudioDecodeError('corrupt', 'the WebM file holds no audio frames');
  if (webm.truncated) throw new AudioDecodeError('truncated', 'the WebM file is truncated: it ends inside an element (was the upload complete?)');
  const cp = webm.codecPrivate;
  const declared = cp && cp.length >= 19 ? cp[9]! : webm.channels;
  if (declared > MAX_CHANNELS) throw new AudioDecodeError('unsupported', `the WebM file has ${declared} channels; this server accepts at most ${MAX_CHANNELS}`);
  if (declared > 2) throw new AudioDecodeError('unsupported', `the WebM file has ${declared} channels; WebM Opus is taken in mono or stereo (as browsers record it)`);
  // its length from the packets' TOC bytes, before any is decoded
  let samples48k = 0;
  for (const f of webm.frames) samples48k += opusPacketSamples(f) ?? 0;
  if (samples48k / 48000 > sink.maxSeconds + LIMIT_GRACE_S + PRESCAN_MARGIN_S) {
    throw new AudioDecodeError('too_long', `the audio is longer than ${sink.maxSeconds} s, the longest this server accepts (its WebM frames hold ${Math.round(samples48k / 48000)} s)`);
  }
  const channels = declared === 2 ? 2 : 1;
  let preSkip = cp && cp.length >= 12 ? cp[10]! | (cp[11]! << 8) : 0;
  const opus = new OpusScript(48000, channels, OpusScript.Application.AUDIO);
  sink.channels = channels;
  let bad = 0;
  try {
    for (let i = 0; i < webm.frames.length; i++) {
      let pcm: Int16Array;
      try {
        const out = opus.decode(Buffer.from(webm.frames[i]!));
        pcm = new Int16Array(out.buffer, out.byteOffset, out.byteLength >> 1).slice();
      } catch {
        bad++;
        continue;
      }
      let mono = interleaved16ToMono(pcm, channels);
      if (preSkip > 0) {
        const s = Math.min(preSkip, mono.length);
        mono = mono.subarray(s);
        preSkip -= s;
      }
      sink.push(mono, 48000);
      if (i % 50 === 49) {
        afterSlice?.();
        await sink.turn();
        signal?.throwIfAborted();
      }
    }
  } finally {
    opus.delete();
  }
  if (bad > 0) throw new AudioDecodeError('corrupt', `the WebM file is corrupt: ${bad} of ${webm.frames.length} Opus packets failed to decode`);
}

async function decodeWavInto(bytes: Uint8Array, sink: Sink, signal?: AbortSignal): Promise<void> {
  let w;
  try {
    w = openWav(bytes);
  } catch (err) {
    throw new AudioDecodeError('corrupt', `the WAV file could not be read: ${(err as Error).message}`);
  }
  if (w.truncated) throw new AudioDecodeError('truncated', 'the WAV file is truncated: its data chunk is shorter than its header declares (was the upload complete?)');
  if (w.channels > MAX_CHANNELS) throw new AudioDecodeError('unsupported', `the WAV file has ${w.channels} channels; this server accepts at most ${MAX_CHANNELS}`);
  if (w.frames / w.sampleRate > sink.maxSeconds + LIMIT_GRACE_S) throw new AudioDecodeError('too_long', `the audio is longer than ${sink.maxSeconds} s, the longest this server accepts`);
  sink.channels = w.channels;
  for (let o = 0; o < w.frames; o += PCM_SLICE) {
    sink.push(w.read(o, Math.min(w.frames, o + PCM_SLICE)), w.sampleRate);
    await sink.turn();
    signal?.throwIfAborted();
  }
}

/** What a finished decode learnt of the file. */
export type DecodeFacts = Omit<DecodedAudio, 'pcm16k'>;

/** A file's length as its container states it (./duration.ts), and whether its bytes end early. */
export interface StatedLength {
  /** Undefined where the container does not state it. */
  seconds?: number;
  /** MP3 or Ogg that ends inside its last frame or page. */
  endsEarly: boolean;
}

/** A decode under way: its 16 kHz mono audio as it comes, and the file's facts at the end. */
export interface DecodeJob {
  readonly container: Container;
  /** 16 kHz samples decoded and not yet taken. */
  readonly pending: number;
  /** Decoding has ended (done has settled). */
  readonly ended: boolean;
  /** The length the container states, read without decoding (rejects as done does when refused first). */
  stated(): Promise<StatedLength>;
  /** Resolves once at least n samples are pending, or decoding has ended. */
  until(n: number): Promise<void>;
  /** Takes the pending audio. */
  take(): Int16Array[];
  /** The audio from here on, in order, as it is decoded; throws the decode's error at its point. */
  rest(): AsyncGenerator<Int16Array>;
  /** Resolves when the whole file is decoded; rejects with an AudioDecodeError. */
  readonly done: Promise<DecodeFacts>;
}

/** What the container states of a file's length (run where the file is decoded: MP3 is scanned). */
export function statedLength(bytes: Uint8Array, c: Container): StatedLength {
  const seconds = containerSeconds(bytes, c);
  return { ...(seconds !== undefined && { seconds }), endsEarly: endsEarly(bytes, c) };
}

/**
 * A DecodeJob over a decode that `run` does, handing its 16 kHz chunks to `emit` as they come
 * (here, or from a worker thread).
 */
export function decodeJob(container: Container, stated: () => Promise<StatedLength>, run: (emit: (x: Int16Array) => void) => Promise<DecodeFacts>): DecodeJob {
  let queue: Int16Array[] = [];
  let pending = 0;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const next = () => new Promise<void>((resolve) => (wake = resolve));
  const done = (async (): Promise<DecodeFacts> => {
    try {
      return await run((x) => {
        queue.push(x);
        pending += x.length;
        notify();
      });
    } finally {
      ended = true;
      notify();
    }
  })();
  done.catch(() => undefined); // the caller's await reports it
  const take = () => {
    const out = queue;
    queue = [];
    pending = 0;
    return out;
  };
  return {
    container,
    get pending() {
      return pending;
    },
    get ended() {
      return ended;
    },
    stated,
    async until(n) {
      while (!ended && pending < n) await next();
    },
    take,
    async *rest() {
      for (;;) {
        yield* take();
        if (ended) {
          yield* take();
          await done;
          return;
        }
        await next();
      }
    },
    done,
  };
}

/** Refuses, from its first bytes alone, a file that is empty or in a format not decoded here. */
export function refuseUnsupported(container: Container, bytes: Uint8Array): void {
  if (bytes.length === 0) throw new AudioDecodeError('empty', 'the audio file is empty');
  if (container === 'mp4' || container === 'aac') {
    throw new AudioDecodeError('unsupported', `${NAMES[container]} (AAC) audio is not supported by this server; send ${ACCEPTED_INPUTS}`);
  }
  if (container === 'ogg') throw new AudioDecodeError('unsupported', `this Ogg file holds neither Opus, Vorbis nor FLAC; send ${ACCEPTED_INPUTS}`);
  if (container === 'unknown') {
    throw new AudioDecodeError('unsupported', `the audio is not in a format this server recognises; send ${ACCEPTED_INPUTS}, or raw 16 kHz mono PCM16 with file_format=pcm_s16le_16`);
  }
}

/** Starts decoding an encoded audio file (container from its bytes) to 16 kHz mono PCM16, on this thread. */
export function startDecode(bytes: Uint8Array, opts: DecodeOptions): DecodeJob {
  const container = sniffContainer(bytes);
  const stated = async () => {
    refuseUnsupported(container, bytes);
    return statedLength(bytes, container);
  };
  return decodeJob(container, stated, async (emit) => {
    refuseUnsupported(container, bytes);
    const sink = new Sink(NAMES[container], opts.maxSeconds, opts.yieldTurn ?? (() => setImmediate()), emit);
    try {
      if (container === 'wav') await decodeWavInto(bytes, sink, opts.signal);
      else if (container === 'webm') await decodeWebm(bytes, sink, opts.signal, opts.afterSlice);
      else await decodeBytes(container, bytes, sink, opts.signal, opts.afterSlice);
      sink.finish();
      if (sink.length === 0) throw new AudioDecodeError('empty', `the ${NAMES[container]} file holds no audio`);
      return { container, sampleRate: sink.rate, channels: sink.channels, seconds: sink.sourceSamples / sink.rate };
    } finally {
      sink.destroy();
    }
  });
}

/** Decodes an encoded audio file (container from its bytes) to 16 kHz mono PCM16. */
export async function decodeToMono16k(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedAudio> {
  const job = startDecode(bytes, opts);
  const facts = await job.done;
  return { pcm16k: concatChunks(job.take()), ...facts };
}
