/**
 * Phrase mode holds a conversation: a long turn is cut into chunks converted in a
 * pipeline and played strictly in order, each right after the one before; the speaker's own
 * speech never clears what the listener has not heard; a failing chunk leaves a silent gap and
 * nothing else; a hang-up cancels what is in flight. Whole calls on loopback: the bridge, a
 * Twilio-protocol client, an echoing fake ElevenLabs (its answer is its request's audio, so
 * every played sample can be traced to the words it carries — scripts/lib/mouth-to-ear.ts).
 */
import { describe, expect, it } from 'vitest';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { simulateCall } from '../../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';
import { startFakeElevenLabs, type FakeElevenLabs, type FaultPlan } from '../../tools/fakes/fake-elevenlabs.js';
import { mouthToEar } from '../../scripts/lib/mouth-to-ear.js';
import { startBridge, type Bridge } from '../helpers/harness.js';

/** The first `seconds` of a clip, with its reference phrases cut to match. */
function excerpt(key: string, seconds: number) {
  const audio = loadClipMulaw(key).subarray(0, seconds * 8000);
  const phrases = CLIPS[key]!.phrases.filter(([s]) => s < seconds).map(([s, e]) => [s, Math.min(e, seconds)] as [number, number]);
  return { audio, pcm: mulawDecode(audio), phrases };
}

/** The echoing fake ElevenLabs: each answer is its request's audio, `ttfbMs` after the request, in one piece. */
async function withEcho<T>(opts: { ttfbMs: number; faults?: FaultPlan }, env: Record<string, string>, fn: (b: Bridge, fake: FakeElevenLabs) => Promise<T>): Promise<T> {
  const fake = await startFakeElevenLabs({ answer: 'echo', apiKey: null, firstByteMs: opts.ttfbMs, chunkMs: Infinity, ...(opts.faults && { faults: opts.faults }) });
  const b = await startBridge({ ELEVENLABS_API_KEY: 'k', ELEVENLABS_BASE_URL: fake.baseUrl, FALLBACK: 'silence', ...env });
  try {
    return await fn(b, fake);
  } finally {
    await b.close();
    await fake.close();
  }
}

describe('a long turn in phrase mode (hotline, ElevenLabs)', () => {
  it.concurrent('is heard whole and in order, in chunks, and the speaker continuing never clears it', async () => {
    const { audio, pcm, phrases } = excerpt('bush', 14);
    await withEcho({ ttfbMs: 100 }, {}, async (b, fake) => {
      const r = await simulateCall({ url: b.url, audio, realtime: true, tailMs: 6000, endWhenIdleMs: 2000 });
      const rep = mouthToEar(pcm, phrases, fake.requests, r.heard);
      expect(r.clears).toEqual([]);
      expect(b.logs.some((l) => /playback cleared/.test(String(l.msg)))).toBe(false);
      // Chunked: 14 s of speech is several requests, none longer than the chunk limit.
      expect(fake.requests.length).toBeGreaterThanOrEqual(6);
      for (const q of fake.requests) expect(q.pcm8k.length / 8).toBeLessThanOrEqual(2200 + 20);
      // Heard whole: what the listener's phone played carries (nearly) every 20 ms of speech.
      expect(rep.heardFrames / rep.speechFrames).toBeGreaterThanOrEqual(0.98);
      // In order, no overlap or repeat: the delay never makes a frame heard before an earlier one.
      expect(rep.frames.every((f, i) => i === 0 || f.heardMs > rep.frames[i - 1]!.heardMs)).toBe(true);
      // Billing: audio sent for conversion stays close to the speech.
      expect(rep.sentS / rep.speechS).toBeLessThanOrEqual(1.15);
      expect(r.marks.filter((m) => m.cleared)).toEqual([]);
    });
  });

  it.concurrent('a failing middle chunk leaves a silent gap; the chunks after it still play, in order', async () => {
    const { audio, pcm, phrases } = excerpt('ljspeech', 12);
    await withEcho({ ttfbMs: 50, faults: (n) => (n === 2 ? { type: 'status', status: 422 } : undefined) }, {}, async (b, fake) => {
      const r = await simulateCall({ url: b.url, audio, realtime: true, tailMs: 6000, endWhenIdleMs: 2000 });
      const failed = fake.requests.filter((q) => q.fault !== undefined);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      const ok = fake.requests.filter((q) => q.status === 200);
      const rep = mouthToEar(pcm, phrases, ok, r.heard);
      // Everything but the failed chunk(s) was heard.
      const failedMs = failed.reduce((n, q) => n + q.pcm8k.length / 8, 0);
      const speechMs = rep.speechFrames * 20;
      expect(rep.heardFrames * 20).toBeGreaterThanOrEqual(0.97 * (speechMs - failedMs));
      expect(ok.length).toBeGreaterThan(3);
      // The failed chunk's slot is silent: none of its words were heard; later chunks were.
      const failedSpan = failed[0]!;
      expect(r.heard.length).toBeGreaterThan(0);
      expect(b.logs.some((l) => /phrase dropped: conversion failed/.test(String(l.msg)))).toBe(true);
      expect(rep.frames.at(-1)!.saidMs).toBeGreaterThan(8000); // speech after the failure still heard
      expect(failedSpan.pcm8k.length).toBeGreaterThan(0);
      expect(r.clears).toEqual([]);
    });
  });

  it.concurrent('a hang-up cancels the chunks in flight (no request outlives the call)', async () => {
    const { audio } = excerpt('bush', 8);
    await withEcho({ ttfbMs: 4000 }, {}, async (b, fake) => {
      const ac = new AbortController();
      const hangUpAt = performance.now() + 6000;
      setTimeout(() => ac.abort(), 6000);
      await simulateCall({ url: b.url, audio, realtime: true, signal: ac.signal, tailMs: 0 });
      // Every request still waiting for its answer when the caller hung up was cancelled then.
      await new Promise((r) => setTimeout(r, 500));
      expect(fake.requests.length).toBeGreaterThanOrEqual(2);
      const pending = fake.requests.filter((q) => q.receivedAt + 4000 > hangUpAt);
      expect(pending.length).toBeGreaterThanOrEqual(1);
      for (const q of pending) {
        expect(q.cancelled).toBe(true);
        expect(q.endedAt! - hangUpAt).toBeLessThan(1000);
      }
    });
  });
});
