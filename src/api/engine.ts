/**
 * What the compatible API needs of a masking engine, and the adapter that serves it with the
 * embedded engine's facade (src/voice/local/index.ts): its presets and ElevenLabs' premade voice
 * ids, each request masked as a recording (LocalEngine.maskRecording: the engine's seed,
 * variation and block loop) with the voice settings applied: the timbre settings to the preset,
 * speaker boost's gain (../audio/speaker-boost.ts) and speed's tempo (../audio/time-stretch.ts)
 * to the masked output. Every step hands the event loop back through the API's queue
 * (./turns.ts), so /stream sends audio while the conversion runs and a long file never stalls
 * calls.
 */
import { ELEVENLABS_PREMADE_VOICES, getPreset, LocalEngine, LOCAL_VOICES, type ArrivingPcm, type LocalVoicePreset } from '../voice/local/index.js';
import { applyGain } from '../audio/gain.js';
import { frameEnergies, speakerBoostGain } from '../audio/speaker-boost.js';
import { TimeStretcher } from '../audio/time-stretch.js';
import { applyVoiceSettings, type TimbreParams, type VoiceSettings } from './voice-settings.js';
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
  /** The request's seed; unset: the engine's rule (LOCAL_SEED, else one drawn per request). */
  seed?: number;
  denoise: boolean;
  signal: AbortSignal;
}

/**
 * Input still being decoded: what is decoded so far (speaker boost measures its level there),
 * then the rest as it comes.
 */
export type ArrivingInput = ArrivingPcm;

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

/** Speaker boost measures in 10 s slices, the event loop handed back between them. */
const MEASURE_SLICE = 160_000;

const params = (p: LocalVoicePreset): TimbreParams => ({
  ...(p.targetF0Hz !== undefined && { targetF0Hz: p.targetF0Hz }),
  ...(p.pitchSemitones !== undefined && { pitchSemitones: p.pitchSemitones }),
  intonation: p.intonation,
  formantRatio: p.formantRatio,
});

/** The presets, then ElevenLabs' premade voice ids, each with the preset that serves it. */
function engineVoices(): EngineVoice[] {
  return [
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
}

/**
 * The embedded engine as an StsEngine. `engine` is the bridge's own (its LOCAL_SEED and
 * LOCAL_PHRASE_VARIATION apply); by default one with the engine's defaults.
 */
export function localStsEngine(engine: LocalEngine = new LocalEngine({ defaultVoiceId: LOCAL_VOICES[0]!.id })): StsEngine {
  return {
    voices: engineVoices(),
    async *mask(input, req) {
      const head = input instanceof Int16Array ? input : input.head;
      let gain = 1;
      if (req.settings.use_speaker_boost) {
        const energies: number[] = [];
        for (let o = 0; o < head.length; o += MEASURE_SLICE) {
          frameEnergies(head.subarray(o, o + MEASURE_SLICE), energies);
          await apiTurn();
        }
        gain = speakerBoostGain(energies);
      }
      req.signal.throwIfAborted();
      const tempo = new TimeStretcher(req.settings.speed);
      const masked = engine.maskRecording(input, {
        voiceId: req.voiceId,
        ...(req.seed !== undefined && { seed: req.seed }),
        denoise: req.denoise,
        adjust: (p) => applyVoiceSettings(p, req.settings),
        signal: req.signal,
        turn: apiTurn,
      });
      for await (const chunk of masked) {
        const y = tempo.push(applyGain(chunk, gain));
        if (y.length > 0) yield y;
      }
      const tail = tempo.end();
      if (tail.length > 0) yield tail;
    },
  };
}
