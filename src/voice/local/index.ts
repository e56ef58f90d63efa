/**
 * The embedded voice-masking engine, and its one facade: every use of it, the calls' and the
 * compatible API's, goes through LocalEngine, so preset lookup, RNNoise, the seed and variation
 * rules and the block loop exist once. The DSP (processor.ts): LPC source-filter split, YIN
 * pitch tracking with pitch normalisation, residual PSOLA, seeded-noise unvoiced excitation,
 * pole-angle formant warping; optionally RNNoise first (loaded on first use).
 *
 * The uses, each choosing its rules explicitly:
 *  - a call in streaming mode (openStream): 20 ms of 8 kHz PCM in, 20 ms of masked mu-law out;
 *  - a call in phrase mode (convert): a whole phrase, masked in 200 ms blocks (block-loop.ts);
 *  - a recording (maskRecording): the compatible API's requests, 16 kHz PCM whole or still
 *    arriving, through the same block loop;
 *  - maskPcm16k / maskPcm16kAsync: a phrase at 16 kHz, for tools and tests.
 * Seeds: the use's own seed, else the engine's (LOCAL_SEED), else the use's default: a call's is
 * derived from its call id (every phrase of a call shares it), a recording's is drawn for it,
 * maskPcm16k's is 0. Variation (per call, drawn from the seed; per phrase, a new formant draw
 * after every pause) is the engine's, the same for every use. Denoising: LOCAL_DENOISE for
 * calls, the request's choice for a recording.
 */
import { createHash, randomInt } from 'node:crypto';
import type { FrameStream, PhraseConverter, PhraseRequest, VoiceInfo } from '../converter.js';
import { abortedError, ConversionError } from '../errors.js';
import { asMasked, type MaskedAudio } from '../masked.js';
import { mulawEncode } from '../../audio/mulaw.js';
import { RateConverter } from '../../audio/rate-converter.js';
import { initResampler, resample } from '../../audio/resampler.js';
import type { Logger } from '../../observability/logger.js';
import { denoisePrefilter, denoiseReady, initDenoise } from './denoise.js';
import { phraseIndexOf } from './call-variation.js';
import { maskInBlocks, type ArrivingPcm } from './block-loop.js';
import { BlockMasker, concatChunks, maskBlocks, type MaskProcessorOptions, type Prefilter } from './processor.js';
import { getPreset, isLocalVoice, LOCAL_VOICES, type LocalVoicePreset } from './presets.js';
import { ELEVENLABS_PREMADE_VOICES, type PremadeVoice } from './premade-voices.js';
import { LocalFrameStream, STREAM_DELAY_8K } from './stream.js';

export { engineBusySeconds } from './load.js';
export { FallbackVoices, presetForLabels, presetForVoiceId, type FallbackVoicesOptions } from './closest-preset.js';
export { LOCAL_VOICES, ELEVENLABS_PREMADE_VOICES, getPreset, isLocalVoice, type ArrivingPcm, type LocalVoicePreset, type PremadeVoice };

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
  /** Fixed seed for every call and recording (deterministic output). Unset: each draws its own. */
  seed?: number;
  /** RNNoise before masking a call's phrases (LOCAL_DENOISE). */
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

/** A preset's parameters as one use plays them (the compatible API's voice settings). */
export type PresetAdjustment = (preset: LocalVoicePreset) => LocalVoicePreset;

export interface RecordingOptions {
  voiceId: string;
  /** The recording's seed; unset: the engine's (LOCAL_SEED), else one drawn for this recording. */
  seed?: number;
  /** RNNoise first (the request's remove_background_noise). */
  denoise: boolean;
  adjust?: PresetAdjustment;
  signal: AbortSignal;
  /** How the event loop is handed back between blocks (see BlockLoopOptions.turn). */
  turn?: () => Promise<void>;
}

/** What one masking needs, its rules applied: the preset, the seed, the DSP options. */
interface Plan {
  preset: LocalVoicePreset;
  seed: number;
  opts: MaskProcessorOptions & { prefilter?: Prefilter };
}

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

  /** The seed rule, for every use: its own seed, else LOCAL_SEED, else the use's default. */
  private seedOf(own: number | undefined, otherwise: () => number): number {
    return own ?? this.seed ?? otherwise();
  }

  /**
   * One masking's plan: the voice's preset (adjusted), the engine's variation from `phrase` on,
   * RNNoise first when asked for (it must be loaded: the async uses await it first).
   */
  private plan(voiceId: string, seed: number, phrase: number, denoise: boolean, adjust?: PresetAdjustment, stable = false): Plan {
    const base = getPreset(voiceId || this.defaultVoiceId);
    const preset = adjust ? adjust(base) : base;
    if (denoise && !denoiseReady()) {
      this.loadDenoise().catch(() => undefined);
      throw new Error('RNNoise is not loaded yet: use maskPcm16kAsync (it loads it on first use)');
    }
    // A stable persona has no per-phrase draw: the same voice on every phrase and every call.
    const dsp = stable ? { ...this.dsp, phraseVariation: 0 } : this.dsp;
    return { preset, seed, opts: { ...dsp, phrase, ...(denoise && { prefilter: denoisePrefilter() }) } };
  }

  /** The block loop over a plan, RNNoise loaded first when the plan needs it. */
  private async *run(
    make: () => Plan,
    denoise: boolean,
    input: Int16Array | ArrivingPcm,
    loop: { signal?: AbortSignal; turn?: () => Promise<void> },
  ): AsyncGenerator<Int16Array, void, undefined> {
    if (denoise && !denoiseReady()) await this.loadDenoise();
    loop.signal?.throwIfAborted();
    const p = make();
    yield* maskInBlocks(new BlockMasker(p.preset, p.seed, p.opts), input, loop);
  }

  /**
   * A phrase: pure DSP, 16 kHz mono PCM16 in -> same length out, in one synchronous call (about
   * 9 ms per second of audio). Each phrase draws its own formant variation from its samples (see
   * phraseIndexOf). Servers should prefer maskPcm16kAsync.
   */
  maskPcm16k(pcm: Int16Array, opts: MaskOptions): Int16Array {
    const p = this.plan(opts.voiceId, this.seedOf(opts.seed, () => 0), phraseIndexOf(pcm), opts.denoise ?? this.denoise);
    return concatChunks([...maskBlocks(pcm, p.preset, p.seed, p.opts)]);
  }

  /** maskPcm16k through the block loop; RNNoise loads on first use. */
  async maskPcm16kAsync(pcm: Int16Array, opts: MaskOptions & { signal?: AbortSignal }): Promise<Int16Array> {
    const denoise = opts.denoise ?? this.denoise;
    const chunks: Int16Array[] = [];
    const make = () => this.plan(opts.voiceId, this.seedOf(opts.seed, () => 0), phraseIndexOf(pcm), denoise);
    for await (const chunk of this.run(make, denoise, pcm, { ...(opts.signal && { signal: opts.signal }) })) chunks.push(chunk);
    return concatChunks(chunks);
  }

  /**
   * A recording (the compatible API's use): 16 kHz mono PCM16, whole or still arriving, masked
   * through the block loop like a call of its own: its seed draws the per-call variation, and
   * the per-phrase draws follow its pauses, counted from its start as a stream counts them.
   * Joined, the chunks are aligned with the input and exactly as long. Stops (throwing the
   * signal's reason) when aborted, or with the error the arriving input throws.
   */
  maskRecording(input: Int16Array | ArrivingPcm, opts: RecordingOptions): AsyncIterable<Int16Array> {
    const seed = this.seedOf(opts.seed, drawSeed);
    const make = () => this.plan(opts.voiceId, seed, 0, opts.denoise, opts.adjust);
    return this.run(make, opts.denoise, input, { signal: opts.signal, ...(opts.turn && { turn: opts.turn }) });
  }

  /**
   * A call's phrase: masked in blocks, each block's 8 kHz mu-law yielded as soon as it is ready,
   * the event loop handed back between blocks. The phrases of a call share its seed (and so the
   * call's variation); each draws its own formant variation from its samples.
   */
  async *convert(req: PhraseRequest): AsyncIterable<MaskedAudio> {
    if (this.closed) throw new ConversionError('local engine closed', 'internal');
    const aborted = () => abortedError(req.signal.reason);
    if (req.signal.aborted) throw aborted();
    let down: RateConverter | undefined;
    try {
      const pcm16k = req.sampleRate === 16000 ? req.pcm : resample(req.pcm, req.sampleRate, 16000);
      down = new RateConverter(16000, 8000);
      // One seed per call: the phrases of a call share it (and so the call's variation); a stable
      // persona brings its own, without the per-phrase draw.
      const seed = req.personaSeed ?? this.seedOf(undefined, () => callSeed(req.callKey));
      const make = () => this.plan(req.voiceId, seed, phraseIndexOf(pcm16k), this.denoise, undefined, req.personaSeed !== undefined);
      for await (const chunk of this.run(make, this.denoise, pcm16k, { signal: req.signal })) {
        const pcm8 = down.push(chunk);
        if (pcm8.length > 0) yield asMasked(mulawEncode(pcm8));
      }
      // At the end, the resampler's delay line holds the phrase's last samples.
      const tail = down.end();
      if (tail.length > 0) yield asMasked(mulawEncode(tail));
    } catch (err) {
      if (req.signal.aborted) throw aborted();
      throw new ConversionError(`local engine failed: ${(err as Error).message}`, 'internal', { cause: err });
    } finally {
      down?.destroy();
    }
  }

  /**
   * `seed` overrides the engine's (a stable persona, evaluation tools); else LOCAL_SEED, else one
   * drawn per call. `stable`: no per-phrase draw (a stable persona).
   */
  openStream(opts: { voiceId: string; log?: Logger; callKey?: string; seed?: number; stable?: boolean }): FrameStream {
    if (this.closed) throw new Error('local engine closed');
    const seed = this.seedOf(opts.seed, () => (opts.callKey !== undefined ? callSeed(opts.callKey) : drawSeed()));
    const dsp = opts.stable ? { ...this.dsp, phraseVariation: 0 } : this.dsp;
    return new LocalFrameStream(opts.voiceId || this.defaultVoiceId, seed, opts.log ?? this.log, dsp);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const drawSeed = (): number => randomInt(0x1_0000_0000);

/** Process-wide salt, so call seeds derived from call ids cannot be predicted from outside. */
const SALT = drawSeed().toString(16);

/** A call's seed from its key (phrase mode: every phrase of a call masks with the same variation). */
function callSeed(callKey: string): number {
  return createHash('sha256').update(SALT).update(callKey).digest().readUInt32LE(0);
}
