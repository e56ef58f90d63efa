/**
 * Whole calls through the bridge with the embedded engine (no ElevenLabs key): streaming mode
 * (the default: 20 ms in, 20 ms out) and phrase mode. The caller hears masked speech, never
 * their own waveform.
 */
import { describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames } from '../../tools/sim/index.js';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { maxNormXcorr } from '../../scripts/lib/engine-metrics.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startBridge } from '../helpers/harness.js';

/** Heard audio aligned to the input: the bridge answers in real time, so "heard" starts at call time 0. */
function correlation(input: Uint8Array, heard: Uint8Array): number {
  const x = mulawDecode(input);
  const y = mulawDecode(heard.subarray(0, Math.min(heard.length, input.length + 4000)));
  return maxNormXcorr(x, y, 4000).value; // lags 0..500 ms at 8 kHz
}

const nonSilent = (a: Uint8Array) => a.filter((x) => x !== 0xff && x !== 0x7f).length;

describe('hotline call with the embedded engine', () => {
  it.concurrent('streaming mode: masked audio follows the speaker within a few frames', async () => {
    const b = await startBridge({ LOCAL_VOICE_ID: 'deep-male' });
    try {
      const audio = loadClipMulaw('p260');
      const r = await simulateCall({ url: b.url, audio, realtime: true, tailMs: 1500 });
      expect(b.logs.find((l) => l.msg === 'media stream started')).toMatchObject({ engine: 'local', voice: 'deep-male' });
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      expect(correlation(audio, r.heard)).toBeLessThan(0.3);
      // A continuous stream: about as much audio out as in.
      expect(r.receivedAudio.length).toBeGreaterThan(audio.length * 0.9);
      expect(nonSilent(r.receivedAudio)).toBeGreaterThan(audio.length / 2);
      // Low delay: masked speech is heard while the speaker is still talking.
      const firstSpeechIn = r.sentFrames.findIndex((f) => f.some((x) => x < 0x70 || (x > 0x80 && x < 0xf0))) * 20;
      const firstHeard = r.received.find((m) => m.payload.some((x) => x < 0x70 || (x > 0x80 && x < 0xf0)))!.atMs;
      expect(firstHeard - firstSpeechIn).toBeLessThan(300);
      // One continuous stream: no phrase marks (the VAD does not run for nothing).
      expect(r.marks).toEqual([]);
      expect(r.protocolErrors).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it.concurrent('phrase mode: each phrase converted whole, masked, and marked', async () => {
    const b = await startBridge({ LOCAL_MODE: 'phrase', LOCAL_VOICE_ID: 'bright-female', PLAYOUT_CLEAR_BACKLOG_MS: '0' });
    try {
      const audio = loadClipMulaw('jfk');
      const r = await simulateCall({ url: b.url, audio, realtime: false, tailMs: 12_000, endWhenIdleMs: 1500 });
      expect(r.marks.length).toBeGreaterThanOrEqual(4);
      expect(r.marks.map((m) => m.name)).toEqual(r.marks.map((_, i) => `phrase-${i + 1}`));
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      expect(nonSilent(r.receivedAudio)).toBeGreaterThan(8000 * 5);
      expect(b.logs.filter((l) => l.msg === 'phrase converted').length).toBe(r.marks.length);
    } finally {
      await b.close();
    }
  });

  it.concurrent('the voice parameter: the default when absent, 400 when unknown, a preset when given', async () => {
    const b = await startBridge({});
    try {
      const r = await simulateCall({ url: b.url, audio: loadClipMulaw('libri6829'), realtime: false, tailMs: 1000 });
      expect(r.parameters.voice).toBe('neutral-male');
      const chosen = await simulateCall({ url: b.url, audio: loadClipMulaw('libri6829'), realtime: false, tailMs: 1000, query: { voice: 'deep-male' } });
      expect(chosen.parameters.voice).toBe('deep-male');
      expect(b.logs.filter((l) => l.msg === 'media stream started').map((l) => l.voice)).toEqual(['neutral-male', 'deep-male']);
      const bad = await simulateCall({ url: b.url, audio: loadClipMulaw('libri6829'), realtime: false, tailMs: 0, query: { voice: 'nobody' } }).catch((e: Error) => e);
      expect(String(bad)).toMatch(/400/);
    } finally {
      await b.close();
    }
  });

  it.concurrent('the caller changes voice with * and returns to their own with #', async () => {
    const b = await startBridge({ LOCAL_VOICE_ID: 'neutral-male' });
    try {
      const r = await simulateCall({
        url: b.url,
        audio: loadClipMulaw('libri6829'),
        realtime: false,
        tailMs: 1000,
        dtmf: [
          { digit: '*', atMs: 300 },
          { digit: '*', atMs: 600 },
          { digit: '#', atMs: 900 },
          { digit: '5', atMs: 1000 },
        ],
      });
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      const changes = b.logs.filter((l) => l.msg === 'caller changed voice').map((l) => l.voice);
      // neutral-male is 2nd in the preset list: * -> androgynous, * -> neutral-female, # -> neutral-male; 5 means nothing.
      expect(changes).toEqual(['androgynous', 'neutral-female', 'neutral-male']);
    } finally {
      await b.close();
    }
  });
});
