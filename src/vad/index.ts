/**
 * Phrase detection for the bridge: WebRTC VAD (fvad WASM) + noise-floor gate + a phrase state
 * machine with pre-roll, hangover, minimum and maximum phrase length. See segmenter.ts.
 */
import type { Config } from '../config/env.js';
import { initFvad } from './fvad.js';
import type { SegmenterOptions } from './segmenter.js';

export { PhraseSegmenter, TAIL_MS, SPLIT_SEARCH_MS, GATE_DB, HOLD_GATE_DB, MIN_SPEECH_DBFS } from './segmenter.js';
export type { SegmenterOptions, SegmentEvent } from './segmenter.js';

/** Loads the VAD WASM once; idempotent. Await at start-up before creating segmenters. */
export async function initVad(): Promise<void> {
  await initFvad();
}

export function segmenterOptionsFromConfig(c: Config): SegmenterOptions {
  return {
    mode: c.VAD_MODE,
    startMs: c.VAD_START_MS,
    prerollMs: c.VAD_PREROLL_MS,
    hangoverMs: c.VAD_HANGOVER_MS,
    minPhraseMs: c.VAD_MIN_PHRASE_MS,
    maxPhraseMs: c.VAD_MAX_PHRASE_MS,
  };
}
