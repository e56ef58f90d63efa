/**
 * The embedded engine's voices. Each preset is a documented set of DSP parameters; ids are
 * stable (they are stored in line configs and sent by clients), names are for people.
 *
 * Pitch (F0) and timbre (formants) are set independently:
 * - targetF0Hz: pitch normalisation. The engine tracks the speaker's running median F0 and maps
 *   each voiced frame to targetF0Hz * (f0 / median)^intonation, so every speaker on the preset
 *   comes out with the same median pitch. intonation 1 keeps the speaker's melody, < 1 flattens it
 *   (intonation is a cue to identity too).
 * - pitchSemitones: a plain relative shift instead (no normalisation).
 * - formantRatio: every LPC pole angle (formant frequency) is multiplied by this ratio, i.e. the
 *   spectral envelope moves by log2(formantRatio) octaves. < 1 sounds larger/darker, > 1 smaller/brighter.
 */
import { ELEVENLABS_PREMADE_VOICES } from './premade-voices.js';

export interface LocalVoicePreset {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** Normalised median output F0 (Hz). Exclusive with pitchSemitones. */
  readonly targetF0Hz?: number;
  /** Relative pitch shift in semitones, used when targetF0Hz is absent. */
  readonly pitchSemitones?: number;
  /** Exponent on the speaker's relative pitch movements (1 = keep melody, 0 = monotone). */
  readonly intonation: number;
  /** Formant (pole-angle) scale factor. */
  readonly formantRatio: number;
}

export const LOCAL_VOICES: readonly LocalVoicePreset[] = Object.freeze(
  [
    {
      id: 'deep-male',
      name: 'Deep male',
      description: 'Low, dark voice: median F0 95 Hz, formants down 14%.',
      targetF0Hz: 95,
      intonation: 0.9,
      formantRatio: 0.86,
    },
    {
      id: 'neutral-male',
      name: 'Neutral male',
      description: 'Average male voice: median F0 120 Hz, formants down 8%.',
      targetF0Hz: 120,
      intonation: 1,
      formantRatio: 0.92,
    },
    {
      id: 'androgynous',
      name: 'Androgynous',
      description: 'Between male and female: median F0 160 Hz, formants up 4%, melody flattened a little.',
      targetF0Hz: 160,
      intonation: 0.8,
      formantRatio: 1.04,
    },
    {
      id: 'neutral-female',
      name: 'Neutral female',
      description: 'Average female voice: median F0 205 Hz, formants up 10%.',
      targetF0Hz: 205,
      intonation: 1,
      formantRatio: 1.1,
    },
    {
      id: 'bright-female',
      name: 'Bright female',
      description: 'High, bright voice: median F0 240 Hz, formants up 17%.',
      targetF0Hz: 240,
      intonation: 1,
      formantRatio: 1.17,
    },
    {
      id: 'steady',
      name: 'Steady',
      description: 'Flat, calm delivery that hides the speaker\'s melody: median F0 135 Hz with intonation cut to 40%, formants down 5%.',
      targetF0Hz: 135,
      intonation: 0.4,
      formantRatio: 0.95,
    },
    {
      id: 'shift-down',
      name: 'Lower (relative)',
      description: 'Keeps the speaker\'s own pitch range, 3 semitones lower; formants down 10%.',
      pitchSemitones: -3,
      intonation: 1,
      formantRatio: 0.9,
    },
    {
      id: 'shift-up',
      name: 'Higher (relative)',
      description: 'Keeps the speaker\'s own pitch range, 3 semitones higher; formants up 10%.',
      pitchSemitones: 3,
      intonation: 1,
      formantRatio: 1.1,
    },
  ].map((p) => Object.freeze(p)),
);

const PRESETS = new Map(LOCAL_VOICES.map((v) => [v.id, v]));
/** Preset ids, and ElevenLabs' premade voice ids served by a preset (./premade-voices.ts). */
const BY_ID = new Map<string, LocalVoicePreset>([...PRESETS, ...ELEVENLABS_PREMADE_VOICES.map((v) => [v.id, PRESETS.get(v.preset)!] as const)]);

/** A preset id, or an ElevenLabs premade voice id that a preset serves. */
export function isLocalVoice(id: string): boolean {
  return BY_ID.has(id);
}

/** The preset for an id; throws naming the valid ids. */
export function getPreset(id: string): LocalVoicePreset {
  const p = BY_ID.get(id);
  if (!p) throw new Error(`unknown local voice "${id}"; valid ids: ${LOCAL_VOICES.map((v) => v.id).join(', ')} (or an ElevenLabs premade voice id)`);
  return p;
}
