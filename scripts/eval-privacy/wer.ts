/** Word error counting for the intelligibility check, and the clips' known transcripts. */

export const REFERENCES: Record<string, string> = {
  jfk: 'and so my fellow americans ask not what your country can do for you ask what you can do for your country',
  aew: 'author of the danger trail philip steels etc not at this particular case tom apologized whittemore for the twentieth time that evening the two men shook hands',
  axb: "lord but i'm glad to see you again phil will we ever forget it god bless 'em i hope i'll go on seeing them forever",
};

const words = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z' ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** Levenshtein distance over words (substitutions + deletions + insertions) and the reference length. */
export function wordErrors(reference: string, hypothesis: string): { errors: number; words: number } {
  const r = words(reference);
  const h = words(hypothesis);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return { errors: prev[h.length]!, words: r.length };
}
