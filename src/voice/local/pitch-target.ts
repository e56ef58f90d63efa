/**
 * Pitch normalisation: a running median of the speaker's F0 (an exponentially forgetting
 * log-frequency histogram: it costs the same at any call length, follows a change of speaker,
 * and also removes the slow drift of a speaker's pitch over a phrase, itself a cue to identity),
 * corrected for its lag (PitchReference), and the mapping from input F0 to the preset's output F0.
 */
import type { LocalVoicePreset } from './presets.js';

const MIN_HZ = 50;
const BINS_PER_OCTAVE = 48;
const OCTAVES = 4.2;
const NBINS = Math.ceil(BINS_PER_OCTAVE * OCTAVES);
/** Memory of the median, in voiced hops (5 ms each): 0.75 s of voiced speech. */
const MEMORY = 150;
/** Memory of the lag correction (PitchReference), in voiced hops. */
const BIAS_MEMORY = 200;
/** Log-ratio histogram of the lag correction: +-0.5 (natural log) in 0.005 steps. */
const BIAS_SPAN = 0.5;
const BIAS_STEP = 0.005;

/** Output/input F0 ratios outside this range sound broken; they are clamped. */
export const MIN_RATIO = 0.35;
export const MAX_RATIO = 2.6;

export class F0Median {
  private readonly bins = new Float64Array(NBINS);
  private total = 0;
  private readonly decay: number;

  constructor(memory = MEMORY) {
    this.decay = 1 - 1 / memory;
  }

  add(f0: number): void {
    if (!(f0 > 0)) return;
    const b = Math.max(0, Math.min(NBINS - 1, Math.floor(Math.log2(f0 / MIN_HZ) * BINS_PER_OCTAVE)));
    for (let i = 0; i < NBINS; i++) this.bins[i]! *= this.decay;
    this.bins[b]! += 1;
    this.total = this.total * this.decay + 1;
  }

  get count(): number {
    return this.total;
  }

  /** Median F0 in Hz (interpolated inside the bin), 0 before any voiced frame. */
  median(): number {
    if (this.total <= 0) return 0;
    const half = this.total / 2;
    let acc = 0;
    for (let i = 0; i < NBINS; i++) {
      const c = this.bins[i]!;
      if (acc + c >= half && c > 0) {
        const frac = (half - acc) / c;
        return MIN_HZ * 2 ** ((i + frac) / BINS_PER_OCTAVE);
      }
      acc += c;
    }
    return MIN_HZ * 2 ** OCTAVES;
  }

  reset(): void {
    this.bins.fill(0);
    this.total = 0;
  }
}

/**
 * The speaker's reference pitch for normalisation: the running median m, times the running
 * median of f0 / m. A running median lags a speaker whose pitch drifts, and speech drifts one
 * way more than the other (pitch falls slowly through each phrase and resets quickly), so f0 / m
 * sits below 1 most of the time and the output median would come out a few % under the target.
 * The second median measures that bias as it builds up and takes it out; it is slow (its own
 * memory), so it does not flatten the melody.
 */
export class PitchReference {
  private readonly f0 = new F0Median(MEMORY);
  private readonly ratio = new Float64Array(Math.round((2 * BIAS_SPAN) / BIAS_STEP) + 1);
  private ratioTotal = 0;
  private readonly decay = 1 - 1 / BIAS_MEMORY;

  /** Adds a voiced frame's F0 (Hz) and returns the reference for it. */
  add(f0: number): number {
    this.f0.add(f0);
    const m = this.f0.median();
    const z = Math.max(-BIAS_SPAN, Math.min(BIAS_SPAN, Math.log(f0 / m)));
    const bins = this.ratio;
    for (let i = 0; i < bins.length; i++) bins[i]! *= this.decay;
    bins[Math.round((z + BIAS_SPAN) / BIAS_STEP)]! += 1;
    this.ratioTotal = this.ratioTotal * this.decay + 1;
    const half = this.ratioTotal / 2;
    let acc = 0;
    let i = 0;
    while (i < bins.length - 1 && acc + bins[i]! < half) acc += bins[i++]!;
    return m * Math.exp(i * BIAS_STEP - BIAS_SPAN);
  }
}

/** Typical mean absolute deviation of ln(f0 / reference) in speech (calibrated on the clips). */
export const TYPICAL_SPREAD = 0.13;
const SPREAD_MEMORY = 400;
const SPREAD_PRIOR = 100;

/**
 * Pitch-range normalisation: the speaker's running mean absolute deviation of ln(f0 / reference)
 * (a lively speaker swings further than a flat one: a cue to identity), and the factor that
 * scales it to TYPICAL_SPREAD. It starts from the typical spread, held as if seen SPREAD_PRIOR times.
 */
export class PitchSpread {
  private spread = TYPICAL_SPREAD;
  private weight = SPREAD_PRIOR;
  private readonly decay = 1 - 1 / SPREAD_MEMORY;

  add(f0: number, reference: number): void {
    if (!(f0 > 0 && reference > 0)) return;
    const w = this.weight * this.decay;
    this.spread = (w * this.spread + Math.abs(Math.log(f0 / reference))) / (w + 1);
    this.weight = Math.min(SPREAD_MEMORY, w + 1);
  }

  /** The speaker's spread so far. */
  get value(): number {
    return this.spread;
  }

  /** Multiplier of the intonation exponent that brings the speaker to the typical spread (0.5..1.6). */
  factor(): number {
    return Math.max(0.5, Math.min(1.6, TYPICAL_SPREAD / Math.max(1e-3, this.spread)));
  }
}

/**
 * Output F0 for one voiced frame of input F0 f0, given the speaker's running median;
 * rangeFactor scales the intonation exponent (pitch-range normalisation; target presets only).
 */
export function targetF0(preset: LocalVoicePreset, f0: number, median: number, rangeFactor = 1): number {
  let out: number;
  if (preset.targetF0Hz !== undefined && median > 0) out = preset.targetF0Hz * (f0 / median) ** (preset.intonation * rangeFactor);
  else out = f0 * 2 ** ((preset.pitchSemitones ?? 0) / 12);
  return Math.max(f0 * MIN_RATIO, Math.min(f0 * MAX_RATIO, out));
}
