/**
 * Per-speaker formant normalisation: one fixed formant ratio keeps every difference between
 * speakers (a long vocal tract stays long, only scaled), so a speaker-verification attacker who
 * enrols on masked speech links masked calls as easily as real ones. Instead, the speaker's own
 * long-term formant positions are estimated online and each speaker is warped onto the same
 * target positions (the preset's), by a piecewise warp in log frequency.
 *
 * Estimate: on voiced hops, the sharp LPC poles (radius >= MIN_RADIUS) between LO_HZ and HI_HZ,
 * in angle order, give F1..F3 candidates; their log frequencies are averaged with an exponential
 * memory (MEMORY voiced hops), starting from the population averages of the same statistic
 * (PRIOR_HZ, measured on the project's speech clips, men and women together) held as if observed
 * PRIOR_HOPS times, so the first hops of a call move the warp only a little.
 *
 * Warp: a pole at the speaker's k-th mean goes to target_k = PRIOR_HZ[k] * the preset's ratio
 * (times the call's variation); between the knots the log-frequency ratio is interpolated
 * linearly, below the first and above the last it stays at the end knots' ratio. `strength`
 * (0..1) blends from the speaker's own formants times the ratio (0, the old behaviour) to full
 * normalisation (1).
 */
import { SAMPLE_RATE } from './hop-track.js';

/** Population means of the F1..F3 candidates (Hz), calibrated with scripts/eval-privacy.ts --calibrate. */
export const PRIOR_HZ: readonly number[] = [430, 1460, 2700];
const K = 3;
const LO_HZ = 200;
const HI_HZ = 3700;
const MIN_RADIUS = 0.9;
const MEMORY = 600;
const PRIOR_HOPS = 100;
/** The warp's log-ratio is kept within +-MAX_LOG (about 0.6x to 1.6x). */
const MAX_LOG = 0.5;
const MAX_SLOPE = 0.6;

const TO_RAD = (2 * Math.PI) / SAMPLE_RATE;

export class FormantNormaliser {
  /** Running mean log angle of each candidate, and its weight. */
  private readonly mean = Float64Array.from(PRIOR_HZ, (f) => Math.log(f * TO_RAD));
  private readonly weight = new Float64Array(K).fill(PRIOR_HOPS);
  private readonly decay = 1 - 1 / MEMORY;
  private readonly cand = new Float64Array(K);
  /** Knots of the warp: log angle in, log ratio out. */
  private readonly knotIn = new Float64Array(K);
  private readonly knotLog = new Float64Array(K);
  private readonly target: Float64Array;
  private ratio = 1;
  private readonly exponent: number;

  /**
   * @param targetScale per-knot multipliers of the targets (the call's variation; 1s for none)
   * @param strength 0..1, how far speakers are pulled onto the targets
   * @param exponent extra warp exponent (the residual keeps part of the speaker's own envelope)
   */
  constructor(
    targetScale: readonly number[] = [1, 1, 1],
    private readonly strength = 1,
    exponent = 1,
  ) {
    this.target = Float64Array.from(PRIOR_HZ, (f, k) => Math.log(f * TO_RAD * (targetScale[k] ?? 1)));
    this.exponent = exponent;
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
      let j = Math.min(n, K - 1);
      if (n === K && a >= this.cand[K - 1]!) continue;
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

  /** Sets the preset's formant ratio (the targets scale with it). */
  setRatio(ratio: number): void {
    if (ratio === this.ratio) return;
    this.ratio = ratio;
    this.update();
  }

  /** The speaker's current F1..F3 estimate, Hz. */
  formantsHz(): number[] {
    return Array.from(this.mean, (m) => Math.exp(m) / TO_RAD);
  }

  private update(): void {
    const lr = Math.log(this.ratio);
    for (let k = 0; k < K; k++) {
      const own = lr; // strength 0: the speaker's formants times the ratio
      const full = this.target[k]! + lr - this.mean[k]!;
      const l = this.exponent * (own + this.strength * (full - own));
      this.knotIn[k] = this.mean[k]!;
      this.knotLog[k] = Math.max(-MAX_LOG, Math.min(MAX_LOG, l));
      // Keep the warp increasing (and formants apart): the log-ratio slope stays within +-MAX_SLOPE.
      if (k > 0) {
        const d = MAX_SLOPE * (this.knotIn[k]! - this.knotIn[k - 1]!);
        this.knotLog[k] = Math.max(this.knotLog[k - 1]! - d, Math.min(this.knotLog[k - 1]! + d, this.knotLog[k]!));
      }
    }
  }

  /** The warped angle of a pole at angle phi (radians). Increasing in phi. */
  map = (phi: number): number => {
    if (!(phi > 0)) return phi;
    const x = Math.log(phi);
    const ki = this.knotIn;
    const kl = this.knotLog;
    let l: number;
    if (x <= ki[0]!) l = kl[0]!;
    else if (x >= ki[K - 1]!) l = kl[K - 1]!;
    else {
      let k = 0;
      while (x > ki[k + 1]!) k++;
      const t = (x - ki[k]!) / (ki[k + 1]! - ki[k]!);
      l = kl[k]! + t * (kl[k + 1]! - kl[k]!);
    }
    return phi * Math.exp(l);
  };
}
