/**
 * Speech onsets with the silence before each: the one place that turns the segmenter's events
 * into SpeechStart (used by the phrase adapter, whose segmenter also cuts phrases, and by the
 * masked direction when its converter does not segment speech).
 */
import type { SegmentEvent } from './segmenter.js';

export interface Onset {
  atMs: number;
  /** Silence (stream time) since the end of the speaker's last phrase or chunk. */
  gapMs: number;
}

export class OnsetTracker {
  /** Stream time (ms) where the last phrase or chunk ended. */
  private lastEndMs = Number.NEGATIVE_INFINITY;

  /** The onset an event reports, if it is one; phrase ends are remembered for the next gap. */
  see(ev: SegmentEvent): Onset | undefined {
    if (ev.type === 'speech-start') return { atMs: ev.atMs, gapMs: ev.atMs - this.lastEndMs };
    if (ev.type === 'phrase') this.lastEndMs = ev.endMs;
    return undefined;
  }
}
