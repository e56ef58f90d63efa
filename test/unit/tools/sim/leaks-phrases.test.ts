import { describe, expect, it } from 'vitest';
import { mulawEncode, mulawSilence } from '../../../../src/audio/mulaw.js';
import { detectPhrases, findLeakedFrames, isInformativeFrame, phraseLatencies, summarizeLatencies, toFrames } from '../../../../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../../../../tools/clips.js';
import { tone } from '../../../helpers/loopback-bridge.js';

describe('findLeakedFrames', () => {
  const speech = loadClipMulaw('libri8230');
  const frames = toFrames(speech);

  it('finds exact copies of the caller\'s frames at any offset', () => {
    const part = speech.subarray(16000, 24000); // 1 s = 50 frames, frame-aligned
    const informative = frames.slice(100, 150).filter(isInformativeFrame).length;
    expect(informative).toBeGreaterThan(40);
    const received = Buffer.concat([mulawSilence(37), tone(300, 300), part, mulawSilence(100)]);
    expect(findLeakedFrames(frames, received)).toBe(informative);
    // Even one frame in a long unrelated stream is found.
    const k = frames.findIndex((f, i) => i > 60 && isInformativeFrame(f));
    expect(findLeakedFrames(frames, Buffer.concat([tone(2000, 300), frames[k]!, tone(2000, 300)]))).toBe(1);
  });

  it('ignores silence and near-silence', () => {
    const quiet = mulawEncode(new Int16Array(160).map((_, i) => (i % 3) - 1)); // +-1 LSB hiss
    const sent = [mulawSilence(160), quiet];
    expect(findLeakedFrames(sent, Buffer.concat([mulawSilence(4000), quiet]))).toBe(0);
  });

  it('has no false positives on a different signal', () => {
    expect(findLeakedFrames(frames, Buffer.concat([tone(3000, 440), tone(2000, 180, 12000)]))).toBe(0);
    expect(findLeakedFrames(frames, loadClipMulaw('p260'))).toBe(0);
    // Transcoded (volume changed by 1 step) is not an exact copy.
    const altered = new Uint8Array(speech.subarray(0, 8000)).map((b) => (b === 0x80 ? b : b - 1));
    expect(findLeakedFrames(frames, altered)).toBe(0);
  });

  it('finds a tone leaked back exactly', () => {
    const t = tone(400, 523);
    expect(findLeakedFrames(toFrames(t), t)).toBe(20);
  });
});

describe('detectPhrases', () => {
  it.each(['bush', 'libri8230', 'p260', 'aew', 'thorsten'])('finds where the speaker of %s stopped (within 200 ms of the reference)', (key) => {
    const clip = CLIPS[key]!;
    const found = detectPhrases(loadClipMulaw(key));
    // Every reference phrase end is matched by a detected end close to it (short pauses may merge).
    const last = clip.phrases[clip.phrases.length - 1]![1] * 1000;
    expect(Math.abs(found[found.length - 1]!.endMs - last)).toBeLessThan(200);
    for (const f of found) {
      const near = clip.phrases.some(([, end]) => Math.abs(end * 1000 - f.endMs) < 200);
      expect(near, `${key}: detected end ${f.endMs} ms matches no reference end`).toBe(true);
    }
  });

  it('finds nothing in silence', () => {
    expect(detectPhrases(mulawSilence(16000))).toEqual([]);
  });
});

describe('phraseLatencies', () => {
  it('counts only answer audio received after the speaker stopped', () => {
    const heard = Buffer.concat([mulawSilence(800), tone(500), mulawSilence(2400), tone(200)]);
    // Segment 1 (100-162 ms) arrived before the phrase ended at 120 ms: it is not the answer.
    const segments = [
      { start: 800, end: 4800, arrivedAtMs: 90 },
      { start: 7200, end: 8800, arrivedAtMs: 880 },
    ];
    const r = phraseLatencies([{ startMs: 0, endMs: 120 }], heard, segments);
    expect(r[0]).toEqual({ index: 0, startMs: 0, stoppedAtMs: 120, firstHeardAtMs: 900, latencyMs: 780 });
    const s = summarizeLatencies([...r, { index: 1, startMs: 1000, stoppedAtMs: 1500 }]);
    expect(s).toMatchObject({ phrases: 2, answered: 1, missed: 1, p50Ms: 780, p95Ms: 780 });
  });
});
