/**
 * Converter faults that only show across calls: the global concurrency cap and the circuit
 * breaker, driven through whole calls. Each asserts the no-leak invariant.
 */
import { describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames } from '../../tools/sim/index.js';
import { startFakeElevenLabs, expectedUlaw } from '../../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startBridge } from '../helpers/harness.js';

const nonSilent = (a: Uint8Array) => a.filter((x) => x !== 0xff).length;

describe('converter faults across calls', () => {
  it.concurrent('three concurrent calls share one ElevenLabs slot: never more in flight, every phrase served', async () => {
    const fake = await startFakeElevenLabs({ apiKey: 'k', chunkDelayMs: 40 });
    const b = await startBridge({ ELEVENLABS_API_KEY: 'k', ELEVENLABS_BASE_URL: fake.baseUrl, ELEVENLABS_MAX_CONCURRENCY: '1', ELEVENLABS_MAX_LAG_MS: '10000', FALLBACK: 'silence', VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '10000' });
    try {
      const clips = ['p240', 'libri3575', 'libri6829'];
      const results = await Promise.all(
        clips.map((c) => simulateCall({ url: b.url, audio: loadClipMulaw(c), realtime: false, tailMs: 12_000, endWhenIdleMs: 6000 })),
      );
      expect(fake.maxInFlight).toBe(1);
      expect(fake.requests.length).toBe(3);
      for (const r of results) {
        expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
        expect(nonSilent(r.receivedAudio)).toBeGreaterThan(8000 * 3); // each call got its phrase back
      }
    } finally {
      await b.close();
      await fake.close();
    }
  });

  it.concurrent('a bad key opens the circuit: later phrases go to the fallback, ElevenLabs is only probed on the auth schedule', async () => {
    const fake = await startFakeElevenLabs({ apiKey: 'the-right-key' });
    const b = await startBridge({ ELEVENLABS_API_KEY: 'a-revoked-key', ELEVENLABS_BASE_URL: fake.baseUrl, FALLBACK: 'local', PLAYOUT_CLEAR_BACKLOG_MS: '0' });
    try {
      const r = await simulateCall({ url: b.url, audio: loadClipMulaw('jfk'), realtime: false, tailMs: 12_000, endWhenIdleMs: 2000 });
      // The first phrase meets the 401; the circuit opens at once; probes (live phrases) only
      // after the auth cool-downs (1 s, 2 s, then 5 s), so a few requests at most, all refused.
      expect(fake.requests.length).toBeGreaterThanOrEqual(1);
      expect(fake.requests.length).toBeLessThanOrEqual(3);
      expect(fake.requests.every((q) => q.status === 401)).toBe(true);
      for (let i = 1; i < fake.requests.length; i++) {
        expect(fake.requests[i]!.receivedAt - fake.requests[i - 1]!.receivedAt).toBeGreaterThanOrEqual([950, 1950, 4950][i - 1] ?? 4950);
      }
      expect(r.marks.length).toBeGreaterThan(fake.requests.length); // the others never reached ElevenLabs
      expect(b.logs.some((l) => /circuit opened/.test(String(l.msg)))).toBe(true);
      // Every phrase was still masked, by the embedded engine: audio came back, none of it the caller's.
      expect(r.marks.length).toBeGreaterThanOrEqual(4);
      expect(nonSilent(r.receivedAudio)).toBeGreaterThan(8000 * 5);
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      const tone = new Set(expectedUlaw(1000));
      expect([...r.receivedAudio].filter((x) => x !== 0xff && !tone.has(x)).length).toBeGreaterThan(0); // not the fake's answer
    } finally {
      await b.close();
      await fake.close();
    }
  });
});
