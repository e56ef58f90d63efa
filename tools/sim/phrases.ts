/**
 * Phrase boundaries from the caller's audio (simple frame-energy analysis) and per-phrase
 * latency: speaker stopped -> masked audio first heard through the playout buffer.
 */
import { mulawDecode } from '../../src/audio/index.js';
import type { PlayedSegment } from './playout.js';

export interface Phrase {
  startMs: number;
  endMs: number;
}

export interface PhraseLatency {
  index: number;
  startMs: number;
  /** When the speaker stopped (call time, ms). */
  stoppedAtMs: number;
  /** When masked audio was first heard after that, or undefined if none was. */
  firstHeardAtMs?: number;
  latencyMs?: number;
}

/** dBFS of a block of mu-law bytes. */
export function mulawDbfs(bytes: Uint8Array): number {
  if (bytes.length === 0) return -Infinity;
  const pcm = mulawDecode(bytes);
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) sum += pcm[i]! * pcm[i]!;
  const rms = Math.sqrt(sum / pcm.length);
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / 32768);
}

export interface DetectPhrasesOptions {
  /** Analysis frame (ms). Default 20. */
  frameMs?: number;
  /** A frame is speech when louder than max(absoluteDb, noiseFloor + marginDb). Defaults -45 dBFS, 12 dB. */
  absoluteDb?: number;
  marginDb?: number;
  /** Silence needed to end a phrase. Default 300 ms. */
  minGapMs?: number;
  /** Shorter bursts are ignored (clicks). Default 100 ms. */
  minPhraseMs?: number;
}

/** Speech phrases in 8 kHz mu-law audio, by frame energy with a noise-floor-relative threshold. */
export function detectPhrases(mulaw: Uint8Array, o: DetectPhrasesOptions = {}): Phrase[] {
  const frameMs = o.frameMs ?? 20;
  const frame = frameMs * 8;
  const n = Math.floor(mulaw.length / frame);
  if (n === 0) return [];
  const db: number[] = [];
  for (let i = 0; i < n; i++) db.push(mulawDbfs(mulaw.subarray(i * frame, (i + 1) * frame)));
  const sorted = db.map((d) => Math.max(d, -100)).sort((a, b) => a - b);
  const floor = sorted[Math.floor(sorted.length * 0.1)]!;
  const peak = sorted[sorted.length - 1]!;
  // Relative to the noise floor, but never so high that the loudest speech would not count.
  const threshold = Math.max(-60, Math.min(Math.max(o.absoluteDb ?? -45, floor + (o.marginDb ?? 12)), peak - 15));
  const minGap = Math.ceil((o.minGapMs ?? 300) / frameMs);
  const minLen = Math.ceil((o.minPhraseMs ?? 100) / frameMs);
  const phrases: Phrase[] = [];
  let start = -1;
  let lastSpeech = -1;
  const close = () => {
    if (start >= 0 && lastSpeech - start + 1 >= minLen) phrases.push({ startMs: start * frameMs, endMs: (lastSpeech + 1) * frameMs });
    start = -1;
  };
  for (let i = 0; i < n; i++) {
    if (db[i]! > threshold) {
      if (start >= 0 && i - lastSpeech > minGap) close();
      if (start < 0) start = i;
      lastSpeech = i;
    }
  }
  close();
  return phrases;
}

/** True when a block of heard mu-law is audible (above -50 dBFS). */
export function isAudible(bytes: Uint8Array, thresholdDb = -50): boolean {
  return mulawDbfs(bytes) > thresholdDb;
}

/**
 * For each phrase, the first audible 10 ms of heard audio that was *received after the speaker
 * stopped* and played at or after that moment, before the next phrase ends. Audio still playing
 * from an earlier answer does not count.
 */
export function phraseLatencies(phrases: Phrase[], heard: Uint8Array, segments: PlayedSegment[], offsetMs = 0): PhraseLatency[] {
  const BLOCK = 80;
  return phrases.map((p, index) => {
    const stopped = p.endMs + offsetMs;
    const limit = index + 1 < phrases.length ? phrases[index + 1]!.endMs + offsetMs : Infinity;
    const out: PhraseLatency = { index, startMs: p.startMs + offsetMs, stoppedAtMs: stopped };
    for (const s of segments) {
      if (s.arrivedAtMs < stopped) continue;
      if (s.start / 8 >= limit) break;
      for (let b = Math.max(s.start, Math.ceil(stopped * 8)); b < s.end; b += BLOCK) {
        if (b / 8 >= limit) break;
        if (isAudible(heard.subarray(b, Math.min(b + BLOCK, s.end)))) {
          out.firstHeardAtMs = b / 8;
          out.latencyMs = out.firstHeardAtMs - stopped;
          return out;
        }
      }
    }
    return out;
  });
}

export interface LatencySummary {
  phrases: number;
  answered: number;
  missed: number;
  p50Ms?: number;
  p95Ms?: number;
  maxMs?: number;
  meanMs?: number;
}

export function percentile(sorted: number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function summarizeLatencies(all: PhraseLatency[]): LatencySummary {
  const lat = all.flatMap((p) => (p.latencyMs === undefined ? [] : [p.latencyMs])).sort((a, b) => a - b);
  const s: LatencySummary = { phrases: all.length, answered: lat.length, missed: all.length - lat.length };
  if (lat.length) {
    s.p50Ms = percentile(lat, 0.5);
    s.p95Ms = percentile(lat, 0.95);
    s.maxMs = lat[lat.length - 1];
    s.meanMs = lat.reduce((a, b) => a + b, 0) / lat.length;
  }
  return s;
}
