/**
 * Phrase detection for the bridge: WebRTC VAD (fvad WASM) + noise-floor gate + a phrase state
 * machine with pre-roll, hangover, minimum and maximum phrase length. See segmenter.ts.
 */
import { initFvad } from './fvad.js';

export { PhraseSegmenter, TAIL_MS, SPLIT_SEARCH_MS, GATE_DB, HOLD_GATE_DB, MIN_SPEECH_DBFS } from './segmenter.js';
export type { SegmenterOptions, SegmentEvent } from './segmenter.js';
export { OnsetTracker, type Onset } from './onsets.js';

/** Loads the VAD WASM once; idempotent. Await at start-up before creating segmenters. */
export async function initVad(): Promise<void> {
  await initFvad();
}
