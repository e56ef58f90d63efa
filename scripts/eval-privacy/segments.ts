/**
 * Speaker-verification segments of 2-3 s cut at the fixtures' phrases: long phrases are split
 * into about 2.5 s pieces, short ones joined with the next phrase of the same clip. A segment
 * is a list of [start, end) sample ranges at 8 kHz.
 */
export interface Segment {
  speaker: string;
  clip: string;
  index: number;
  ranges: Array<[number, number]>;
}

const MIN_S = 2;
const TARGET_S = 2.5;
const MAX_S = 3.2;
const RATE = 8000;

export function cutSegments(speaker: string, clip: string, phrases: ReadonlyArray<readonly [number, number]>): Segment[] {
  const pieces: Array<[number, number]> = [];
  for (const [s, e] of phrases) {
    const len = e - s;
    const n = len > MAX_S ? Math.round(len / TARGET_S) : 1;
    for (let i = 0; i < n; i++) pieces.push([s + (len * i) / n, s + (len * (i + 1)) / n]);
  }
  const out: Segment[] = [];
  let cur: Array<[number, number]> = [];
  let dur = 0;
  const dursOf = (r: Array<[number, number]>) => r.reduce((a, [s, e]) => a + e - s, 0);
  for (const p of pieces) {
    cur.push(p);
    dur += p[1] - p[0];
    if (dur >= MIN_S) {
      out.push({ speaker, clip, index: out.length, ranges: cur.map(([s, e]) => [Math.round(s * RATE), Math.round(e * RATE)]) });
      cur = [];
      dur = 0;
    }
  }
  // A short remainder joins the last segment, or stands alone when that would be too long.
  if (cur.length > 0) {
    const last = out[out.length - 1];
    const r = cur.map(([s, e]) => [Math.round(s * RATE), Math.round(e * RATE)] as [number, number]);
    if (last && dursOf(last.ranges) / RATE + dur <= 3.6) last.ranges.push(...r);
    else if (dur >= 1.5) out.push({ speaker, clip, index: out.length, ranges: r });
  }
  return out;
}

/** At most `max` segments, spread evenly over the list. */
export function spread<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor(((i + 0.5) * items.length) / max)]!);
}

/** The samples of a segment, joined. */
export function segmentSamples(pcm: Int16Array, seg: Segment): Int16Array {
  const n = seg.ranges.reduce((a, [s, e]) => a + e - s, 0);
  const out = new Int16Array(n);
  let o = 0;
  for (const [s, e] of seg.ranges) {
    out.set(pcm.subarray(s, e), o);
    o += e - s;
  }
  return out;
}
