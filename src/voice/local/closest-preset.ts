/**
 * The embedded engine's preset closest to an ElevenLabs voice, for the fallback: when
 * ElevenLabs fails and the engine masks a phrase instead, the listener should hear a voice of
 * the same kind (a female persona must not turn male mid-call), never one global default.
 *  - a premade voice id: its preset (./premade-voices.ts);
 *  - a preset id: itself;
 *  - any other voice: from the labels ElevenLabs gave for it (GET /v1/voices/{id}): its gender,
 *    then its age, as the premade voices map them (female: young bright-female, else
 *    neutral-female; male: young neutral-male, else deep-male; neutral: androgynous);
 *  - nothing known: the default preset (LOCAL_VOICE_ID), with a warning once per voice.
 */
import type { Logger } from '../../observability/logger.js';
import { ELEVENLABS_PREMADE_VOICES } from './premade-voices.js';
import { LOCAL_VOICES } from './presets.js';

const PREMADE = new Map(ELEVENLABS_PREMADE_VOICES.map((v) => [v.id, v.preset]));
const PRESET_IDS = new Set(LOCAL_VOICES.map((v) => v.id));

const norm = (s: string | undefined): string | undefined => s?.trim().toLowerCase().replace(/[\s-]+/g, '_') || undefined;

/** The preset for ElevenLabs labels (gender, age), or undefined when they name no gender. */
export function presetForLabels(labels: Readonly<Record<string, string>>): string | undefined {
  const gender = norm(labels['gender']);
  const age = norm(labels['age']);
  const young = age === 'young' || age === 'child' || age === 'teen' || age === 'youthful';
  switch (gender) {
    case 'female':
    case 'woman':
      return young ? 'bright-female' : 'neutral-female';
    case 'male':
    case 'man':
      return young || age === undefined ? 'neutral-male' : 'deep-male';
    case 'neutral':
    case 'non_binary':
    case 'nonbinary':
    case 'androgynous':
      return 'androgynous';
    default:
      return undefined;
  }
}

/** A premade voice's preset, or a preset id itself; undefined for any other id. */
export function presetForVoiceId(voiceId: string): string | undefined {
  return PREMADE.get(voiceId) ?? (PRESET_IDS.has(voiceId) ? voiceId : undefined);
}

export interface FallbackVoicesOptions {
  /** What ElevenLabs told of a voice (the start-up check's answers), if anything. */
  labelsOf: (voiceId: string) => Readonly<Record<string, string>> | undefined;
  /** LOCAL_VOICE_ID: when nothing is known of a voice. */
  defaultPreset: string;
  log?: Logger;
}

/** Chooses the fallback's preset per phrase, from the phrase's ElevenLabs voice. */
export class FallbackVoices {
  private readonly warned = new Set<string>();

  constructor(private readonly opts: FallbackVoicesOptions) {}

  presetFor(voiceId: string): string {
    const direct = presetForVoiceId(voiceId);
    if (direct) return direct;
    const labels = this.opts.labelsOf(voiceId);
    const byLabels = labels && presetForLabels(labels);
    if (byLabels) return byLabels;
    if (!this.warned.has(voiceId) && this.warned.size < 1000) {
      this.warned.add(voiceId);
      this.opts.log?.warn(
        { voiceId, labels, preset: this.opts.defaultPreset },
        `fallback: nothing is known of ElevenLabs voice "${voiceId}" (not a premade voice, ${labels ? 'no gender in its labels' : 'not looked up'}): the embedded engine masks it with LOCAL_VOICE_ID ${this.opts.defaultPreset}`,
      );
    }
    return this.opts.defaultPreset;
  }
}
