/**
 * Equal error rate of weighted verification trials, and its speaker-bootstrap interval
 * (speakers drawn with replacement; a trial counts once per drawn copy of its enrolment
 * speaker times per drawn copy of its test speaker, target trials once per copy).
 */

export interface Trial {
  enrolSpeaker: string;
  testSpeaker: string;
  score: number;
}

/** EER in [0, 1]: where the miss and false-alarm rates cross (their mean at the crossing). */
export function eer(trials: ReadonlyArray<{ score: number; target: boolean; weight?: number }>): number {
  const sorted = trials.filter((t) => (t.weight ?? 1) > 0).sort((a, b) => a.score - b.score);
  let tgt = 0;
  let non = 0;
  for (const t of sorted) (t.target ? (tgt += t.weight ?? 1) : (non += t.weight ?? 1));
  if (tgt === 0 || non === 0) return NaN;
  // Threshold just above sorted[i]: misses = targets at or below, false alarms = non-targets above.
  let miss = 0;
  let fa = non;
  let best = Math.abs(0 - 1);
  let at = 0.5;
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!;
    if (t.target) miss += t.weight ?? 1;
    else fa -= t.weight ?? 1;
    if (i + 1 < sorted.length && sorted[i + 1]!.score === t.score) continue;
    const pm = miss / tgt;
    const pf = fa / non;
    if (Math.abs(pm - pf) < best) {
      best = Math.abs(pm - pf);
      at = (pm + pf) / 2;
    }
  }
  return at;
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface EerResult {
  eer: number;
  lo: number;
  hi: number;
  targets: number;
  nonTargets: number;
}

/** EER with a 95% speaker-bootstrap interval over `rounds` resamples. */
export function eerWithInterval(trials: readonly Trial[], rounds = 500, seed = 7): EerResult {
  const speakers = [...new Set(trials.flatMap((t) => [t.enrolSpeaker, t.testSpeaker]))].sort();
  const marked = trials.map((t) => ({ ...t, target: t.enrolSpeaker === t.testSpeaker }));
  const targets = marked.filter((t) => t.target).length;
  const point = eer(marked);
  const rand = rng(seed);
  const values: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const count = new Map<string, number>();
    for (let i = 0; i < speakers.length; i++) {
      const s = speakers[Math.floor(rand() * speakers.length)]!;
      count.set(s, (count.get(s) ?? 0) + 1);
    }
    const weighted = marked.map((t) => {
      const a = count.get(t.enrolSpeaker) ?? 0;
      const b = count.get(t.testSpeaker) ?? 0;
      return { score: t.score, target: t.target, weight: t.target ? a : a * b };
    });
    const v = eer(weighted);
    if (Number.isFinite(v)) values.push(v);
  }
  values.sort((a, b) => a - b);
  const q = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.round(p * (values.length - 1))))] ?? NaN;
  return { eer: point, lo: q(0.025), hi: q(0.975), targets, nonTargets: marked.length - targets };
}
