/**
 * The embedded voice-masking engine: offline, in-process, real time. One implementation of both
 * converter shapes (phrase and streaming), over the DSP in processor.ts:
 * LPC source-filter split, YIN pitch tracking with pitch normalisation, residual PSOLA,
 * seeded-noise unvoiced excitation, pole-angle formant warping. Optional RNNoise first (loaded
 * on first use).
 *
 * Phrase work is done in 200 ms blocks with the event loop handed back between them (convert,
 * maskPcm16kAsync), so a long phrase never holds up other calls' 20 ms pacing.
 */
import { createHash, randomInt } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FrameStream, PhraseConverter, PhraseRequest, VoiceInfo } from '../converter.js';
import { abortedError, ConversionError } from '../errors.js';
import { asMasked, type MaskedAudio } from '../masked.js';
import { mulawEncode } from '../../audio/mulaw.js';
import { initResampler, resample, Resampler } from '../../audio/resampler.js';
import type { Logger } from '../../observability/logger.js';
import { denoisePrefilter, denoiseReady, initDenoise } from './denoise.js';
import { phraseIndexOf } from './call-variation.js';
import { concatChunks, maskBlocks, type MaskProcessorOptions } from './processor.js';
import { getPreset, isLocalVoice, LOCAL_VOICES, type LocalVoicePreset } from './presets.js';
import { LocalFrameStream, STREAM_DELAY_8K } from './stream.js';

export { LOCAL_VOICES, isLocalVoice, type LocalVoicePreset };

/** Default least clean-pulse share of the voiced excitation (see LocalEngineOptions.pulse). */
const DEFAULT_PULSE = 0;

/** Loads the WASM the engine always needs (the resampler). Idempotent. RNNoise loads on first use. */
export async function initLocalEngine(): Promise<void> {
  await initResampler();
}

export function voiceInfos(): VoiceInfo[] {
  return LOCAL_VOICES.map(({ id, name, description }) => ({ id, name, description }));
}

export interface LocalEngineOptions {
  defaultVoiceId: string;
  /** Fixed seed for every call (deterministic output). Unset: each call draws its own. */
  seed?: number;
  denoise?: boolean;
  /** Per-speaker formant normalisation, 0..1 (default 1; 0 = one fixed ratio for everyone). */
  normalise?: number;
  /** Per-call variation within a preset, drawn from the call's seed, 0..1 (default 1). */
  variation?: number;
  /** Per-phrase variation of the formant target, 0..1 (default: as variation). */
  phraseVariation?: number;
  /** Least clean-pulse share of the voiced excitation, 0..1 (see MaskProcessorOptions.pulse). */
  pulse?: number;
  log?: Logger;
}

export interface MaskOptions {
  voiceId: string;
  seed?: number;
  denoise?: boolean;
}

/**
 * The engine as a phrase backend (convert: a whole phrase, PCM at any rate) and as a frame
 * backend (openStream: 20 ms of 8 kHz PCM in, 20 ms of masked mu-law out; the pipeline's frame
 * adapter wraps it as a Converter). The maskPcm16k* entry points serve the ElevenLabs-compatible API.
 */
export class LocalEngine implements PhraseConverter {
  readonly name = 'local' as const;
  readonly delayMs = STREAM_DELAY_8K / 8;
  private readonly defaultVoiceId: string;
  private readonly seed: number | undefined;
  private readonly denoise: boolean;
  private readonly dsp: MaskProcessorOptions;
  private readonly log?: Logger;
  private closed = false;

  constructor(opts: LocalEngineOptions) {
    getPreset(opts.defaultVoiceId); // throws naming the valid ids
    this.defaultVoiceId = opts.defaultVoiceId;
    this.seed = opts.seed;
    this.denoise = opts.denoise ?? false;
    const variation = opts.variation ?? 1;
    this.dsp = { normalise: opts.normalise ?? 1, variation, phraseVariation: opts.phraseVariation ?? variation, pulse: opts.pulse ?? DEFAULT_PULSE };
    this.log = opts.log;
    // Denoising by default: start loading RNNoise now, so the first phrase does not wait for it.
    if (this.denoise) this.loadDenoise().catch(() => undefined);
  }

  private async loadDenoise(): Promise<void> {
    try {
      await initDenoise();
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, 'local engine: RNNoise failed to load');
      throw err;
    }
  }

  /** The phrase masking steps (see maskBlocks), RNNoise first when asked for. */
  private blocks(pcm: Int16Array, opts: MaskOptions, seed = opts.seed ?? this.seed ?? 0, stable = false): Generator<Int16Array, void, undefined> {
    const preset = getPreset(opts.voiceId || this.defaultVoiceId);
    const denoise = opts.denoise ?? this.denoise;
    if (denoise && !denoiseReady()) {
      this.loadDenoise().catch(() => undefined);
      throw new Error('RNNoise is not loaded yet: use maskPcm16kAsync (it loads it on first use)');
    }
    // Each phrase draws its own formant variation from its samples (see phraseIndexOf).
    // A stable persona has no per-phrase draw: the same voice on every phrase and every call.
    const dsp = stable ? { ...this.dsp, phraseVariation: 0 } : this.dsp;
    return maskBlocks(pcm, preset, seed, { ...dsp, phrase: phraseIndexOf(pcm), ...(denoise && { prefilter: denoisePrefilter() }) });
  }

  /**
   * Pure DSP, 16 kHz mono PCM16 in -> same length out, in one synchronous call (about 9 ms per
   * second of audio). Servers should prefer maskPcm16kAsync.
   */
  maskPcm16k(pcm: Int16Array, opts: MaskOptions): Int16Array {
    return concatChunks([...this.blocks(pcm, opts)]);
  }

  /** maskPcm16k in 200 ms steps, handing the event loop back between them; RNNoise loads on first use. */
  async maskPcm16kAsync(pcm: Int16Array, opts: MaskOptions & { signal?: AbortSignal }): Promise<Int16Array> {
    if ((opts.denoise ?? this.denoise) && !denoiseReady()) await this.loadDenoise();
    const chunks: Int16Array[] = [];
    for (const chunk of this.blocks(pcm, opts)) {
      chunks.push(chunk);
      await nextTurn();
      opts.signal?.throwIfAborted();
    }
    return concatChunks(chunks);
  }

  /**
   * Masks the phrase block by block (200 ms of input each), yielding each block's 8 kHz mu-law as
   * soon as it is ready and handing the event loop back between blocks (no step takes more than
   * a few ms). The signal is checked between blocks.
   */
  async *convert(req: PhraseRequest): AsyncIterable<MaskedAudio> {
    if (this.closed) throw new ConversionError('local engine closed', 'internal');
    const aborted = () => abortedError(req.signal.reason);
    if (req.signal.aborted) throw aborted();
    const fail = (err: unknown) => new ConversionError(`local engine failed: ${(err as Error).message}`, 'internal', { cause: err });
    if (this.denoise && !denoiseReady()) {
      try {
        await this.loadDenoise();
      } catch (err) {
        throw fail(err);
      }
      if (req.signal.aborted) throw aborted();
    }
    let steps: Generator<Int16Array, void, undefined>;
    let down: Resampler;
    let pcm16k: Int16Array;
    try {
      pcm16k = req.sampleRate === 16000 ? req.pcm : resample(req.pcm, req.sampleRate, 16000);
      // One seed per call: the phrases of a call share it (and so the call's variation); a
      // stable persona brings its own.
      steps = this.blocks(pcm16k, { voiceId: req.voiceId }, req.personaSeed ?? this.seed ?? callSeed(req.callKey), req.personaSeed !== undefined);
      down = new Resampler(16000, 8000);
    } catch (err) {
      throw fail(err);
    }
    const want = Math.round(pcm16k.length / 2);
    let sent = 0;
    try {
      for (;;) {
        let ulaw: Uint8Array | undefined;
        let done: boolean;
        try {
          const r = steps.next();
          done = r.done === true;
          // At the end, the resampler's delay line holds the phrase's last samples.
          const pcm8 = r.done === true ? down.flush() : down.process(r.value);
          const n = Math.min(pcm8.length, want - sent);
          if (n > 0) ulaw = mulawEncode(pcm8.subarray(0, n));
          sent += Math.max(0, n);
        } catch (err) {
          throw fail(err);
        }
        if (ulaw) yield asMasked(ulaw);
        if (done) break;
        await nextTurn();
        if (req.signal.aborted) throw aborted();
      }
      // resample() pads a phrase whose filter tail came up short; so do we.
      if (sent < want) yield asMasked(mulawEncode(new Int16Array(want - sent)));
    } finally {
      steps.return();
      down.destroy();
    }
  }

  /**
   * `seed` overrides the engine's (a stable persona, evaluation tools); else LOCAL_SEED, else one
   * drawn per call. `stable`: no per-phrase draw (a stable persona).
   */
  openStream(opts: { voiceId: string; log?: Logger; callKey?: string; seed?: number; stable?: boolean }): FrameStream {
    if (this.closed) throw new Error('local engine closed');
    const seed = opts.seed ?? this.seed ?? (opts.callKey !== undefined ? callSeed(opts.callKey) : randomInt(0x1_0000_0000));
    const dsp = opts.stable ? { ...this.dsp, phraseVariation: 0 } : this.dsp;
    return new LocalFrameStream(opts.voiceId || this.defaultVoiceId, seed, opts.log ?? this.log, dsp);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Process-wide salt, so call seeds derived from call ids cannot be predicted from outside. */
const SALT = randomInt(0x1_0000_0000).toString(16);

/** A call's seed from its key (phrase mode: every phrase of a call masks with the same variation). */
function callSeed(callKey: string): number {
  return createHash('sha256').update(SALT).update(callKey).digest().readUInt32LE(0);
}
