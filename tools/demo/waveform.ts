/** Min/max waveform envelopes as SVG path data, for the demo report. */

/** Largest absolute sample value (at least 1, so it can divide). */
export function peakAbs(samples: Int16Array): number {
  let m = 1;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.abs(samples[i]!);
    if (v > m) m = v;
  }
  return m;
}

export interface EnvelopeOptions {
  /** Horizontal resolution: one min/max pair per column. */
  columns: number;
  /** Samples the full width stands for (>= samples.length to leave room, so two plots share a time axis). */
  totalSamples?: number;
  /** Sample value drawn at the top/bottom edge. Default: this signal's own peak. */
  peak?: number;
  /** Height of the drawing in path units (centre line at height / 2). Default 100. */
  height?: number;
}

/** Per-column [min, max] in [-1, 1] (0, 0 where there is no audio). */
export function envelope(samples: Int16Array, o: EnvelopeOptions): Array<[number, number]> {
  const total = Math.max(o.totalSamples ?? samples.length, samples.length, 1);
  const peak = o.peak ?? peakAbs(samples);
  const out: Array<[number, number]> = [];
  for (let x = 0; x < o.columns; x++) {
    const a = Math.floor((x * total) / o.columns);
    const b = Math.min(samples.length, Math.floor(((x + 1) * total) / o.columns));
    let lo = 0;
    let hi = 0;
    for (let i = a; i < b; i++) {
      const v = samples[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out.push([Math.max(-1, lo / peak), Math.min(1, hi / peak)]);
  }
  return out;
}

/**
 * A closed path tracing the top (max) edge left to right and the bottom (min) edge back, in a
 * coordinate system of `columns` x `height` units. Fill it for a classic waveform look.
 */
export function envelopePath(samples: Int16Array, o: EnvelopeOptions): string {
  const h = o.height ?? 100;
  const mid = h / 2;
  const env = envelope(samples, o);
  // At least half a unit of ink either side, so silence still shows as a thin line.
  const y = (v: number, sign: number) => (mid - v * mid + (Math.abs(v * mid) < 0.5 ? -sign * 0.5 : 0)).toFixed(1);
  const top = env.map(([, hi], x) => `${x === 0 ? 'M' : 'L'}${x} ${y(hi, 1)}`);
  const bottom: string[] = [];
  for (let x = env.length - 1; x >= 0; x--) bottom.push(`L${x + 1} ${y(env[x]![0], -1)}`);
  return `${top.join('')}L${env.length} ${y(env[env.length - 1]?.[1] ?? 0, 1)}${bottom.join('')}Z`;
}
