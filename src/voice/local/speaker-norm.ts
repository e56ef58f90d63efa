/**
 * Per-speaker formant normalisation: one fixed formant ratio keeps every difference between
 * speakers (a long vocal tract stays long, only scaled), so a speaker-verification attacker who
 * enrols on masked speech links masked calls almost as easily as real ones. Instead, the
 * speaker's own long-term formant positions are estimated online and each speaker is warped by
 * the ratio that puts them on the preset's target (vocal-tract length normalisation).
 *
 * Estimate: on voiced hops, the sharp LPC poles (radius >= MIN_RADIUS) between LO_HZ and HI_HZ,
 * in angle order, give F1..F3 candidates; their log frequencies are averaged with an exponential
 * memory (MEMORY voiced hops), starting from the population averages of the same statistic
 * (PRIOR_HZ, measured on the project's speech clips, men and women together) held as if observed
 * PRIOR_HOPS times, so the first hops of a call move the warp only a little.
 *
 * Warp: every pole angle is scaled by one ratio, the preset's formant ratio times the geometric
 * mean of PRIOR_HZ[k] * callScale / (the speaker's k-th mean). Only the uniform part is
 * corrected: reshaping the speaker's F1 against F2 as well was measured to cost recogniser
 * accuracy for no privacy gain that the evaluation could resolve. `strength` (0..1) blends
 * from the plain preset ratio (0, the old behaviour) to full normalisation (1).
 */
import { SAMPLE_RATE } from './hop-track.js';

/** Population means of the F1..F3 candidates (Hz), from scripts/eval-privacy/calibrate.ts. */
export const PRIOR_HZ: readonly number[] = [420, 1460, 2720];
const K = 3;
const LO_HZ = 200;
const HI_HZ = 3700;
const MIN_RADIUS = 0.9;
const MEMORY = 600;
const PRIOR_HOPS = 100;
/** The speaker correction stays within +-MAX_LOG (about 0.7x to 1.4x). */
const MAX_LOG = 0.35;

/**
 * Largest pole rotation (a male speaker on bright-female with the call's variation upwards
 * would reach 1.6): past it F3 leaves the 8 kHz band, and poles above 4 kHz amplify the
 * inverse filter's whitened noise there (measured, bright-female at the largest upward draw:
 * 1.8% of samples in the limiter without the cap, 0.5% with it).
 */
const MAX_WARP = 1.4;
const TO_RAD = (2 * Math.PI) / SAMPLE_RATE;
const PRIOR_LOG = PRIOR_HZ.map((f) => Math.log(f * TO_RAD));

export class FormantNormaliser {
  /** Running mean log angle of each candidate, and its weight. */
  private readonly mean = Float64Array.from(PRIOR_LOG);
  private readonly weight = new Float64Array(K).fill(PRIOR_HOPS);
  private readonly decay = 1 - 1 / MEMORY;
  private readonly cand = new Float64Array(K);
  private callLog: number;
  private presetRatio = 1;
  private warpRatio = 1;

  /**
   * @param callScale the call's variation of the target (1 for none)
   * @param strength 0..1, how far speakers are pulled onto the target
   * @param exponent extra warp exponent (the residual keeps part of the speaker's own envelope)
   */
  constructor(
    callScale = 1,
    private readonly strength = 1,
    private readonly exponent = 1,
  ) {
    this.callLog = Math.log(callScale);
    this.update();
  }

  /** Adds one voiced hop's poles (angles in radians at 16 kHz, radii), in any order. */
  observe(count: number, angle: ArrayLike<number>, radius: ArrayLike<number>): void {
    let n = 0;
    const lo = LO_HZ * TO_RAD;
    const hi = HI_HZ * TO_RAD;
    // The K lowest sharp poles in the band, in ascending order (insertion into cand).
    for (let i = 0; i < count; i++) {
      const a = angle[i]!;
      if (a < lo || a > hi || radius[i]! < MIN_RADIUS) continue;
      if (n === K && a >= this.cand[K - 1]!) continue;
      let j = Math.min(n, K - 1);
      while (j > 0 && this.cand[j - 1]! > a) {
        this.cand[j] = this.cand[j - 1]!;
        j--;
      }
      this.cand[j] = a;
      if (n < K) n++;
    }
    if (n < K) return; // too few formants to tell which is which
    for (let k = 0; k < K; k++) {
      const w = this.weight[k]! * this.decay;
      this.mean[k] = (w * this.mean[k]! + Math.log(this.cand[k]!)) / (w + 1);
      this.weight[k] = Math.min(MEMORY, w + 1);
    }
    this.update();
  }

  /** Sets the call's variation of the target (per-phrase variation changes it between phrases). */
  setCallScale(scale: number): void {
    const log = Math.log(scale);
    if (log === this.callLog) return;
    this.callLog = log;
    this.update();
  }

  /** Sets the preset's formant ratio (the target scales with it). */
  setRatio(ratio: number): void {
    if (ratio === this.presetRatio) return;
    this.presetRatio = ratio;
    this.update();
  }

  /** The speaker's current F1..F3 estimate, Hz. */
  formantsHz(): number[] {
    return Array.from(this.mean, (m) => Math.exp(m) / TO_RAD);
  }

  /** The pole-angle ratio to synthesise with now. */
  get ratio(): number {
    return this.warpRatio;
  }

  private update(): void {
    let speaker = 0;
    for (let k = 0; k < K; k++) speaker += (PRIOR_LOG[k]! - this.mean[k]!) / K;
    const correction = Math.max(-MAX_LOG, Math.min(MAX_LOG, speaker + this.callLog));
    const r = Math.exp(this.exponent * (Math.log(this.presetRatio) + this.strength * correction));
    this.warpRatio = Math.min(MAX_WARP, r);
  }
}
