/**
 * The embedded voice-masking engine: offline, in-process, real time. One implementation of both
 * converter shapes (phrase and streaming), over the DSP in processor.ts:
 * LPC source-filter split, YIN pitch tracking with pitch normalisation, residual PSOLA,
 * seeded-noise unvoiced excitation, pole-angle formant warping. Optional RNNoise first.
 */
import type { FrameStream, PhraseConverter, PhraseRequest, StreamingConverter, VoiceInfo } from '../converter.js';
import { ConversionError } from '../errors.js';
import { asMasked, type MaskedAudio } from '../masked.js';
import { mulawEncode } from '../../audio/mulaw.js';
import { initResampler, resample } from '../../audio/resampler.js';
import type { Logger } from '../../observability/logger.js';
import { denoiseWhole, initDenoise } from './denoise.js';
import { maskWhole } from './processor.js';
import { getPreset, isLocalVoice, LOCAL_VOICES, type LocalVoicePreset } from './presets.js';
import { LocalFrameStream, STREAM_DELAY_8K } from './stream.js';

export { LOCAL_VOICES, isLocalVoice, type LocalVoicePreset };

/** Loads the WASM the engine needs (resampler, RNNoise). Idempotent. */
export async function initLocalEngine(): Promise<void> {
  await Promise.all([initResampler(), initDenoise()]);
}

export function voiceInfos(): VoiceInfo[] {
  return LOCAL_VOICES.map(({ id, name, description }) => ({ id, name, description }));
}

/** Phrase-mode output chunk: 100 ms of 8 kHz mu-law. */
const CHUNK_BYTES = 800;

export interface LocalEngineOptions {
  defaultVoiceId: string;
  seed?: number;
  denoise?: boolean;
  log?: Logger;
}

export class LocalEngine implements PhraseConverter, StreamingConverter {
  readonly name = 'local' as const;
  readonly delayMs = STREAM_DELAY_8K / 8;
  private readonly defaultVoiceId: string;
  private readonly seed: number;
  private readonly denoise: boolean;
  private readonly log?: Logger;
  private closed = false;

  constructor(opts: LocalEngineOptions) {
    getPreset(opts.defaultVoiceId); // throws naming the valid ids
    this.defaultVoiceId = opts.defaultVoiceId;
    this.seed = opts.seed ?? 0;
    this.denoise = opts.denoise ?? false;
    this.log = opts.log;
  }

  /** Pure DSP, 16 kHz mono PCM16 in -> same length out. */
  maskPcm16k(pcm: Int16Array, opts: { voiceId: string; seed?: number; denoise?: boolean }): Int16Array {
    const preset = getPreset(opts.voiceId || this.defaultVoiceId);
    const input = (opts.denoise ?? this.denoise) ? denoiseWhole(pcm) : pcm;
    return maskWhole(input, preset, opts.seed ?? this.seed);
  }

  async *convert(req: PhraseRequest): AsyncIterable<MaskedAudio> {
    if (this.closed) throw new ConversionError('local engine closed', 'internal', false);
    const aborted = () => new ConversionError('phrase aborted', 'aborted', false, { cause: req.signal.reason });
    if (req.signal.aborted) throw aborted();
    let ulaw: Uint8Array;
    try {
      const pcm = this.maskPcm16k(req.pcm16k, { voiceId: req.voiceId, seed: req.seed });
      ulaw = mulawEncode(resample(pcm, 16000, 8000));
    } catch (err) {
      throw new ConversionError(`local engine failed: ${(err as Error).message}`, 'internal', false, { cause: err });
    }
    for (let off = 0; off < ulaw.length; off += CHUNK_BYTES) {
      if (req.signal.aborted) throw aborted();
      yield asMasked(ulaw.slice(off, off + CHUNK_BYTES));
    }
  }

  openStream(opts: { voiceId: string; seed?: number; log?: Logger }): FrameStream {
    if (this.closed) throw new Error('local engine closed');
    return new LocalFrameStream(opts.voiceId || this.defaultVoiceId, opts.seed ?? this.seed, opts.log ?? this.log);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
