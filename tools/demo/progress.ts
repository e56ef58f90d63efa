/** The demo's live progress: what it tracks during the call, and the one line the CLI shows. */
import { isAudible, type Phrase } from '../sim/index.js';

export interface DemoProgress {
  stage: 'starting' | 'calling' | 'writing' | 'done';
  /** Call time so far (ms). */
  elapsedMs: number;
  /** Expected call length: the sample plus the listening tail (ms). */
  totalMs: number;
  /** Input phrases the caller has finished saying. */
  phrasesSpoken: number;
  phrasesTotal: number;
  /** Finished phrases for which masked audio has been heard since. */
  phrasesAnswered: number;
  /** Audible masked audio received so far (ms). */
  maskedMs: number;
}

/** Follows a call from the simulator's events and tells how far it has got. */
export class ProgressTracker {
  private readonly audibleAt: number[] = [];
  private maskedMs = 0;
  private lastEventMs = 0;
  private lastAudibleMs = -Infinity;
  private audioEndMs: number | undefined;

  constructor(
    private readonly phrases: Phrase[],
    readonly totalMs: number,
  ) {}

  /** One outbound media message (call time, payload). */
  media(atMs: number, payload: Uint8Array): void {
    this.event(atMs);
    if (isAudible(payload)) {
      this.maskedMs += payload.length / 8;
      this.audibleAt.push(atMs);
      this.lastAudibleMs = atMs;
    }
  }

  /** The caller has finished speaking (call time of the last audio frame). */
  audioEnd(atMs: number): void {
    this.event(atMs);
    this.audioEndMs = atMs;
  }

  /**
   * True once the caller has finished, every phrase has been answered, and no audible masked
   * audio has arrived for quietMs: nothing more is coming, the call can hang up.
   */
  finished(clockMs: number, quietMs: number): boolean {
    if (this.audioEndMs === undefined) return false;
    const now = Math.max(clockMs, this.lastEventMs);
    const s = this.snapshot('calling', clockMs);
    return s.phrasesAnswered === s.phrasesTotal && now - Math.max(this.lastAudibleMs, this.audioEndMs) >= quietMs;
  }

  event(atMs: number): void {
    if (atMs > this.lastEventMs) this.lastEventMs = atMs;
  }

  /** Where the call is. After the call (writing, done), clockMs is its final length, which may be under totalMs. */
  snapshot(stage: DemoProgress['stage'], clockMs: number): DemoProgress {
    const over = stage === 'writing' || stage === 'done';
    const total = over ? clockMs : this.totalMs;
    const elapsed = over ? clockMs : Math.min(this.totalMs, Math.max(clockMs, this.lastEventMs));
    let spoken = 0;
    let answered = 0;
    this.phrases.forEach((p, i) => {
      if (p.endMs > elapsed) return;
      spoken++;
      const until = this.phrases[i + 1]?.endMs ?? Infinity;
      if (this.audibleAt.some((t) => t >= p.endMs && t < until)) answered++;
    });
    return {
      stage,
      elapsedMs: elapsed,
      totalMs: total,
      phrasesSpoken: spoken,
      phrasesTotal: this.phrases.length,
      phrasesAnswered: answered,
      maskedMs: this.maskedMs,
    };
  }
}

const clock = (ms: number) => {
  const s = Math.max(0, ms) / 1000;
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${(s % 60).toFixed(1).padStart(4, '0')}`;
};

/** e.g. "▶ calling  00:04.2 / 00:14.4 [██████░░░░░░░░] phrases 1/3 spoken, 1 answered · masked 2.1 s". */
export function formatProgressLine(p: DemoProgress, o: { barWidth?: number; unicode?: boolean } = {}): string {
  const width = o.barWidth ?? 20;
  const unicode = o.unicode ?? true;
  const frac = p.totalMs > 0 ? Math.min(1, p.elapsedMs / p.totalMs) : 0;
  const filled = Math.round(frac * width);
  const bar = unicode ? '█'.repeat(filled) + '░'.repeat(width - filled) : '#'.repeat(filled) + '-'.repeat(width - filled);
  const icon = p.stage === 'done' ? (unicode ? '✔' : '*') : unicode ? '▶' : '>';
  return `${icon} ${p.stage.padEnd(8)} ${clock(p.elapsedMs)} / ${clock(p.totalMs)} [${bar}] phrases ${p.phrasesSpoken}/${p.phrasesTotal} spoken, ${p.phrasesAnswered} answered · masked ${(p.maskedMs / 1000).toFixed(1)} s`;
}
