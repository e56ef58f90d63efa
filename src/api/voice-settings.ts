/**
 * ElevenLabs voice_settings, validated as the API does and given a meaning the listener hears
 * on the embedded engine. Relative to each preset's own parameters (the defaults reproduce the
 * preset exactly):
 *   similarity_boost (0..1, default 0.75): how far the timbre moves toward the preset. The
 *     formant shift is the preset's raised to 0.5 + similarity_boost / 1.5: 0.75 gives the
 *     preset, 1 goes 17% further, 0 half way. Never less than half: lowering it cannot unmask.
 *     Relative-pitch presets scale their semitone shift the same way.
 *   stability (0..1, default 0.5): how steady the delivery is. The share of the speaker's own
 *     intonation kept is the preset's times (1.5 - stability): 1 halves the melody, 0 keeps 1.5x.
 *   style (0..1, default 0): exaggeration; multiplies the intonation kept by (1 + style).
 *     Intonation is capped at 1.5x the speaker's own.
 *   use_speaker_boost (default true): levels the output to a steady speech loudness (about
 *     -20 dBFS RMS over the speech, gain between -6 and +12 dB, peaks limited;
 *     ../audio/speaker-boost.ts).
 *   speed (0.7..1.2, default 1): tempo. The masked output is 1/speed as long as the input, its
 *     pitch unchanged (WSOLA, ../audio/time-stretch.ts); 1 keeps the input's timing exactly.
 */
import type { ValidationIssue } from './sts-request.js';

export interface VoiceSettings {
  stability: number;
  similarity_boost: number;
  style: number;
  use_speaker_boost: boolean;
  speed: number;
}

export const DEFAULT_VOICE_SETTINGS: Readonly<VoiceSettings> = Object.freeze({
  stability: 0.5,
  similarity_boost: 0.75,
  style: 0,
  use_speaker_boost: true,
  speed: 1,
});

const RANGES: Record<'stability' | 'similarity_boost' | 'style' | 'speed', [number, number]> = {
  stability: [0, 1],
  similarity_boost: [0, 1],
  style: [0, 1],
  speed: [0.7, 1.2],
};

/** Validates a parsed voice_settings object; issues are located at body.voice_settings.<key>. */
export function parseVoiceSettings(value: Record<string, unknown> | null): { settings: VoiceSettings; issues: ValidationIssue[] } {
  const settings: VoiceSettings = { ...DEFAULT_VOICE_SETTINGS };
  const issues: ValidationIssue[] = [];
  if (!value) return { settings, issues };
  for (const [key, [lo, hi]] of Object.entries(RANGES) as Array<[keyof typeof RANGES, [number, number]]>) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    const loc = ['body', 'voice_settings', key];
    if (typeof v !== 'number' || !Number.isFinite(v)) issues.push({ loc, msg: 'Input should be a valid number', type: 'float_type' });
    else if (v < lo) issues.push({ loc, msg: `Input should be greater than or equal to ${lo}`, type: 'greater_than_equal' });
    else if (v > hi) issues.push({ loc, msg: `Input should be less than or equal to ${hi}`, type: 'less_than_equal' });
    else settings[key] = v;
  }
  const b = value.use_speaker_boost;
  if (b !== undefined && b !== null) {
    if (typeof b === 'boolean') settings.use_speaker_boost = b;
    else issues.push({ loc: ['body', 'voice_settings', 'use_speaker_boost'], msg: 'Input should be a valid boolean', type: 'bool_type' });
  }
  return { settings, issues };
}

/** The engine parameters voice settings control (a subset of a preset's). */
export interface TimbreParams {
  targetF0Hz?: number;
  pitchSemitones?: number;
  intonation: number;
  formantRatio: number;
}

const MAX_INTONATION = 1.5;

/** A preset's parameters with the settings applied (see the module comment). */
export function applyVoiceSettings<P extends TimbreParams>(preset: P, s: VoiceSettings): P {
  const reach = 0.5 + s.similarity_boost / 1.5;
  const intonation = Math.min(MAX_INTONATION, Math.max(0, preset.intonation * (1.5 - s.stability) * (1 + s.style)));
  return {
    ...preset,
    formantRatio: preset.formantRatio ** reach,
    ...(preset.pitchSemitones !== undefined && { pitchSemitones: preset.pitchSemitones * reach }),
    intonation,
  };
}
