/**
 * Speaker boost: one gain that levels speech to a steady loudness, about -20 dBFS RMS over the
 * speech (pauses do not count), between -6 and +12 dB. The level is measured in 20 ms frames,
 * which a caller can feed in slices (frameEnergies appends), then speakerBoostGain gives the
 * gain to apply (./gain.ts applies it with a soft limiter).
 */

/** Speaker boost's target: speech RMS, dBFS. */
const TARGET_DBFS = -20;
const MIN_GAIN = 0.5;
const MAX_GAIN = 4;
/** 20 ms at 16 kHz. */
const FRAME = 320;

/** Mean square of each 20 ms frame of x (appended to out): speaker boost's measurement, in slices. */
export function frameEnergies(x: Int16Array, out: number[] = []): number[] {
  for (let o = 0; o + FRAME <= x.length; o += FRAME) {
    let e = 0;
    for (let i = o; i < o + FRAME; i++) e += x[i]! * x[i]!;
    out.push(e / FRAME);
  }
  return out;
}

/**
 * The gain speaker boost applies, from the frame energies of what was measured: RMS over the
 * frames within 30 dB of the loudest, so pauses do not count.
 */
export function speakerBoostGain(energies: readonly number[]): number {
  let peak = 0;
  for (const e of energies) if (e > peak) peak = e;
  if (peak === 0) return 1;
  let sum = 0;
  let n = 0;
  for (const e of energies) {
    if (e >= peak / 1000) {
      sum += e;
      n++;
    }
  }
  const rms = Math.sqrt(sum / n) / 32768;
  return Math.min(MAX_GAIN, Math.max(MIN_GAIN, 10 ** (TARGET_DBFS / 20) / rms));
}
