/**
 * What the compatible API needs of a masking engine, and the thin adapter that serves it with
 * the embedded engine (src/voice/local): its presets with voice settings applied, masked block
 * by block (200 ms of input per step, the event loop handed back between steps), so /stream
 * sends audio while the conversion runs and a long file never stalls calls; speed other than 1
 * changes the tempo of the masked output (../audio/time-stretch.ts), not its pitch.
 */
import { denoisePrefilter, denoiseReady, initDenoise } from '../voice/local/denoise.js';
import { ELEVENLABS_PREMADE_VOICES } from '../voice/local/premade-voices.js';
import { getPreset, LOCAL_VOICES, type LocalVoicePreset } from '../voice/local/presets.js';
import { BlockMasker, PHRASE_BLOCK } from '../voice/local/processor.js';
import { applyVoiceSettings, type TimbreParams, type VoiceSettings } from './voice-settings.js';
import { applyGain } from '../audio/gain.js';
import { frameEnergies, speakerBoostGain } from '../audio/speaker-boost.js';
import { TimeStretcher } from '../audio/time-stretch.js';
import { apiTurn } from './turns.js';

export interface EngineVoice {
  id: string;
  name: string;
  description: string;
  /** The preset's own parameters (reported in listings). */
  params: TimbreParams;
  /** For an ElevenLabs premade voice id: the preset that serves it, and ElevenLabs' labels. */
  servedBy?: string;
  labels?: { gender: string; age: string; description: string; use_case: string };
}

export interface MaskRequest {
  voiceId: string;
  settings: VoiceSettings;
  seed?: number;
  denoise: boolean;
  signal: AbortSignal;
}

/**
 * Input still being decoded: what is decoded so far (speaker boost measures its level there),
 * then the rest as it comes.
 */
export interface ArrivingInput {
  head: Int16Array;
  rest: AsyncIterable<Int16Array>;
}

export interface StsEngine {
  readonly voices: readonly EngineVoice[];
  /**
   * 16 kHz mono PCM16 in, whole or still arriving; yields masked output as it becomes final.
   * Joined, the chunks are round(input length / settings.speed) samples long (at speed 1 as
   * long as the input and aligned with it). Stops (throwing the signal's reason) when aborted,
   * or with the error the arriving input throws.
   */
  mask(input: Int16Array | ArrivingInput, req: MaskRequest): AsyncIterable<Int16Array>;
}

export interface LocalStsEngineOptions {
  /** Seed when a request gives none (LOCAL_SEED). */
  seed?: number;
}

/** A chunk cut into masking blocks (200 ms), so each step stays a few ms of work. */
function* pieces(x: Int16Array): Generator<Int16Array> {
  for (let o = 0; o < x.length; o += PHRASE_BLOCK) yield x.subarray(o, o + PHRASE_BLOCK);
}

/** The embedded engine's presets as an StsEngine. */
export function localStsEngine(opts: LocalStsEngineOptions = {}): StsEngine {
  const params = (p: LocalVoicePreset): TimbreParams => ({
    ...(p.targetF0Hz !== undefined && { targetF0Hz: p.targetF0Hz }),
    ...(p.pitchSemitones !== undefined && { pitchSemitones: p.pitchSemitones }),
    intonation: p.intonation,
    formantRatio: p.formantRatio,
  });
  const voices: EngineVoice[] = [
    ...LOCAL_VOICES.map((p) => ({ id: p.id, name: p.name, description: p.description, params: params(p) })),
    ...ELEVENLABS_PREMADE_VOICES.map((v) => {
      const p = getPreset(v.preset);
      return {
        id: v.id,
        name: v.name,
        description: `ElevenLabs' premade voice ${v.name}, served here by the ${p.id} preset: ${p.description}`,
        params: params(p),
        servedBy: p.id,
        labels: { gender: v.gender, age: v.age, description: v.description, use_case: v.useCase },
      };
    }),
  ];
  return {
    voices,
    async *mask(input, req) {
      const preset = applyVoiceSettings(getPreset(req.voiceId), req.settings);
      const { head, rest } = input instanceof Int16Array ? { head: input, rest: undefined } : input;
      if (req.denoise && !denoiseReady()) await initDenoise();
      req.signal.throwIfAborted();
      let gain = 1;
      if (req.settings.use_speaker_boost) {
        // measured in 10 s slices, the event loop handed back between them
        const energies: number[] = [];
        for (let o = 0; o < head.length; o += 160_000) {
          frameEnergies(head.subarray(o, o + 160_000), energies);
          await apiTurn();
        }
        gain = speakerBoostGain(energies);
      }
      const masker = new BlockMasker(preset, req.seed ?? opts.seed ?? 0, req.denoise ? { prefilter: denoisePrefilter() } : {});
      const tempo = new TimeStretcher(req.settings.speed);
      const out = (chunk: Int16Array) => (chunk.length > 0 ? tempo.push(applyGain(chunk, gain)) : chunk);
      async function* blocks(): AsyncGenerator<Int16Array> {
        yield* pieces(head);
        if (rest) for await (const x of rest) yield* pieces(x);
      }
      try {
        for await (const block of blocks()) {
          const y = out(masker.push(block));
          if (y.length > 0) yield y;
          await apiTurn();
          req.signal.throwIfAborted();
        }
        for (const chunk of masker.finish()) {
          const y = out(chunk);
          if (y.length > 0) yield y;
        }
        const tail = tempo.end();
        if (tail.length > 0) yield tail;
      } finally {
        masker.destroy();
      }
    },
  };
}
