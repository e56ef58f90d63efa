/**
 * Pitch normalisation: a running median of the speaker's F0 (an exponentially forgetting
 * log-frequency histogram: it costs the same at any call length, follows a change of speaker,
 * and also removes the slow drift of a speaker's pitch over a phrase, itself a cue to identity)
 * and the mapping from input F0 to the preset's output F0.
 */
import type { LocalVoicePreset } from './presets.js';

const MIN_HZ = 50;
const BINS_PER_OCTAVE = 48;
const OCTAVES = 4.2;
const NBINS = Math.ceil(BINS_PER_OCTAVE * OCTAVES);
/** Memory of the median, in voiced hops (5 ms each): about 1 s of voiced speech. */
const MEMORY = 200;
const DECAY = 1 - 1 / MEMORY;

/** Output/input F0 ratios outside this range sound broken; they are clamped. */
export const MIN_RATIO = 0.35;
export const MAX_RATIO = 2.6;

export class F0Median {
  private readonly bins = new Float64Array(NBINS);
  private total = 0;

  add(f0: number): void {
    if (!(f0 > 0)) return;
    const b = Math.max(0, Math.min(NBINS - 1, Math.floor(Math.log2(f0 / MIN_HZ) * BINS_PER_OCTAVE)));
    for (let i = 0; i < NBINS; i++) this.bins[i]! *= DECAY;
    this.bins[b]! += 1;
    this.total = this.total * DECAY + 1;
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

/** Output F0 for one voiced frame of input F0 f0, given the speaker's running median. */
export function targetF0(preset: LocalVoicePreset, f0: number, median: number): number {
  let out: number;
  if (preset.targetF0Hz !== undefined && median > 0) out = preset.targetF0Hz * (f0 / median) ** preset.intonation;
  else out = f0 * 2 ** ((preset.pitchSemitones ?? 0) / 12);
  return Math.max(f0 * MIN_RATIO, Math.min(f0 * MAX_RATIO, out));
}
