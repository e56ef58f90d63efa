/**
 * How much of a speaker's speech a listener heard when part of it was played faster (the
 * catch-up: WSOLA at `speed`, pitch kept). mouthToEar() finds the 20 ms frames heard sample for
 * sample; compressed frames are new samples and never match, so they are counted by time and
 * energy instead:
 *  - the speech frames not matched are grouped into runs between two matched frames A and B
 *    (in speaking order; after the last matched frame, B is the end of what was heard);
 *  - everything said between A and B was played, compressed or not, if the listener's time
 *    between them is at least the said time ÷ speed (less 10 %), and the audible 20 ms frames
 *    heard between them are at least 85 % of the audible frames said between them ÷ speed (a
 *    dropped part would leave less of both; a pause in playout adds only silence);
 *  - such a run counts as heard compressed; any other unmatched frame as lost (so are frames
 *    before the first match).
 */
import { isAudible } from '../../tools/sim/index.js';
import type { DelayReport } from './mouth-to-ear.js';

export interface ShareReport {
  speechFrames: number;
  /** Heard sample for sample. */
  exactFrames: number;
  /** Heard played faster (by time and energy). */
  compressedFrames: number;
  lostFrames: number;
  /** The unmatched runs and what decided them. */
  runs: Array<{ saidMs: number; frames: number; verdict: 'compressed' | 'lost'; timeRatio: number; audibleRatio: number }>;
}

const FRAME = 160;

/** Audible 20 ms frames of `mulaw` in [fromMs, toMs). */
function audibleFrames(mulaw: Uint8Array, fromMs: number, toMs: number): number {
  let n = 0;
  for (let ms = Math.max(0, fromMs); ms + 20 <= toMs && (ms / 20) * FRAME + FRAME <= mulaw.length; ms += 20) {
    if (isAudible(mulaw.subarray((ms / 20) * FRAME, (ms / 20) * FRAME + FRAME))) n++;
  }
  return n;
}

/**
 * `said`: the speaker's mu-law on the listener's timeline (the input mouthToEar was given);
 * `phrases`: its speech, in seconds on that timeline; `heard`: the listener's mu-law.
 */
export function shareHeard(rep: DelayReport, said: Uint8Array, phrases: ReadonlyArray<readonly [number, number]>, heard: Uint8Array, speed: number): ShareReport {
  const matched = new Map<number, number>(rep.frames.map((f) => [Math.round(f.saidMs / 20), f.heardMs]));
  const speech: number[] = [];
  for (const [s, e] of phrases) for (let f = Math.ceil((s * 1000) / 20); f < Math.floor((e * 1000) / 20); f++) speech.push(f);
  const matchedSorted = [...matched.keys()].sort((a, b) => a - b);
  // The end of what was heard: the last audible frame.
  let heardEndMs = 0;
  for (let o = heard.length - FRAME; o >= 0; o -= FRAME) {
    if (isAudible(heard.subarray(o, o + FRAME))) {
      heardEndMs = (o / FRAME) * 20 + 20;
      break;
    }
  }
  const runs: ShareReport['runs'] = [];
  let compressed = 0;
  let lost = 0;
  let i = 0;
  while (i < speech.length) {
    if (matched.has(speech[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < speech.length && !matched.has(speech[j]!)) j++;
    const first = speech[i]!;
    const last = speech[j - 1]!;
    const frames = j - i;
    const a = matchedSorted.filter((f) => f < first).at(-1);
    const b = matchedSorted.find((f) => f > last);
    let verdict: 'compressed' | 'lost' = 'lost';
    let timeRatio = 0;
    let audibleRatio = 0;
    if (a !== undefined) {
      const saidFrom = a * 20 + 20;
      const heardFrom = matched.get(a)! + 20;
      const saidTo = b !== undefined ? b * 20 : last * 20 + 20;
      const heardTo = b !== undefined ? matched.get(b)! : heardEndMs;
      const saidSpan = saidTo - saidFrom;
      const heardSpan = heardTo - heardFrom;
      timeRatio = saidSpan > 0 ? heardSpan / (saidSpan / speed) : 0;
      const saidAudible = audibleFrames(said, saidFrom, saidTo);
      audibleRatio = saidAudible > 0 ? audibleFrames(heard, heardFrom, heardTo) / (saidAudible / speed) : 1;
      if (timeRatio >= 0.9 && audibleRatio >= 0.85) verdict = 'compressed';
    }
    if (verdict === 'compressed') compressed += frames;
    else lost += frames;
    runs.push({ saidMs: first * 20, frames, verdict, timeRatio: +timeRatio.toFixed(2), audibleRatio: +audibleRatio.toFixed(2) });
    i = j;
  }
  return { speechFrames: speech.length, exactFrames: speech.length - compressed - lost, compressedFrames: compressed, lostFrames: lost, runs };
}
