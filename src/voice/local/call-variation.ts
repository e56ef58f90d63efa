/**
 * Per-call variation within a preset: drawn from the call's seed, so two calls of one agent
 * come out as two slightly different voices of the same preset (a voiceprint taken from one call
 * does not fit the next), while one call stays one voice. `amount` scales every range
 * (0: none, 1: the defaults below; the engine's default is 1).
 */
import { SeededNoise } from './noise.js';
import type { LocalVoicePreset } from './presets.js';

/**
 * Largest change of the formant target (all formants together, natural log): +-14% at amount 1.
 * The formant scale is what a spectral (MFCC) attacker sees most; measured with
 * npm run eval:privacy (streaming, seeds 1001/2002 and 3003/4004), cross-call EERs of every
 * preset but shift-up came out at 25-39% with +-6%, 31-42% with +-10%, 33-43% with +-12% and
 * 36-45% with +-14% (shift-up, which keeps the speaker's own pitch, 22-27% at any span). The
 * price: the segments of one call are told from other speakers' calls more easily (the eval's
 * same-seed "lazy" cell falls by a few points) and the recogniser's word error rises a little.
 */
export const FORMANT_SPAN = 0.14;
/**
 * Largest change of the median pitch target, +-2% (presets stay within 5% of their F0); +-5%
 * was measured to change no EER (the attacker's cepstra carry little of the pitch).
 */
export const F0_SPAN = 0.02;
/** Largest relative change of the intonation exponent, +-15%. */
export const INTONATION_SPAN = 0.15;
/**
 * Largest change of the formant target from one phrase to the next, on top of the call's own
 * (natural log): +-14% at amount 1. With one formant target per call, the segments of a call all
 * share one spectral envelope, and an attacker holding masked recordings of the agent links them
 * (the eval's "lazy" cell); a new draw per phrase spreads one call over a range of envelopes, so
 * a model of one phrase fits the next no better than it fits another speaker's. Measured with
 * npm run eval:privacy (streaming, default preset, seeds 1001/2002 and 3003/4004): lazy EER
 * 17.9% / 24.3% without it, 34.1% / 35.8% with it; semi-informed 8.6% -> 18.5%. The price is
 * intelligibility: pocketsphinx word error x1.35 -> x1.73 of the original at seed 1001,
 * x1.65 -> x1.66 at seed 2002 (README "What it protects against").
 */
export const PHRASE_SPAN = 0.14;

export interface CallVariation {
  /** Multiplier of the formant target. */
  readonly formantScale: number;
  readonly f0Scale: number;
  readonly intonationScale: number;
}

export const NO_VARIATION: CallVariation = Object.freeze({ formantScale: 1, f0Scale: 1, intonationScale: 1 });

export function callVariation(seed: number, amount: number): CallVariation {
  if (!(amount > 0)) return NO_VARIATION;
  // A stream of its own (not the excitation noise's): a different offset into mulberry32.
  const rng = new SeededNoise((seed ^ 0x5bd1e995) >>> 0);
  const u = () => 2 * rng.uniform() - 1;
  return {
    formantScale: Math.exp(amount * FORMANT_SPAN * u()),
    f0Scale: Math.exp(amount * F0_SPAN * u()),
    intonationScale: Math.max(0, 1 + amount * INTONATION_SPAN * u()),
  };
}

/**
 * The extra formant-target multiplier of phrase `index` of the call with this seed (1 when
 * amount is 0). Each (seed, phrase) pair has a stream of its own, so the draw of one phrase says
 * nothing about the next.
 */
export function phraseScale(seed: number, index: number, amount: number): number {
  if (!(amount > 0)) return 1;
  const rng = new SeededNoise((Math.imul((index >>> 0) + 1, 0x9e3779b1) ^ seed ^ 0x85ebca6b) >>> 0);
  rng.uniform();
  return Math.exp(amount * PHRASE_SPAN * (2 * rng.uniform() - 1));
}

/**
 * A phrase's index for phraseScale in phrase mode, where each phrase is masked on its own: a
 * hash (FNV-1a) of its length and first samples, so one phrase always masks alike (retries and
 * tests repeat exactly) and different phrases of a call draw differently.
 */
export function phraseIndexOf(pcm: Int16Array): number {
  let h = 0x811c9dc5;
  const mix = (v: number) => {
    h = Math.imul(h ^ (v & 0xff), 0x01000193);
    h = Math.imul(h ^ ((v >>> 8) & 0xff), 0x01000193);
  };
  mix(pcm.length);
  mix(pcm.length >>> 16);
  const n = Math.min(pcm.length, 4096);
  for (let i = 0; i < n; i++) mix(pcm[i]!);
  return h >>> 0;
}

/** The preset as this call plays it (pitch target and intonation varied; the formant ratio is not). */
export function variedPreset(p: LocalVoicePreset, v: CallVariation): LocalVoicePreset {
  if (v === NO_VARIATION) return p;
  return {
    ...p,
    ...(p.targetF0Hz !== undefined && { targetF0Hz: p.targetF0Hz * v.f0Scale }),
    ...(p.pitchSemitones !== undefined && { pitchSemitones: p.pitchSemitones + 12 * Math.log2(v.f0Scale) }),
    intonation: p.intonation * v.intonationScale,
  };
}
