/**
 * Whole calls in hotline mode through the ElevenLabs path: a simulated Twilio call plays real
 * speech into the real bridge, which converts each phrase on a fake ElevenLabs server (real
 * HTTP on loopback) and plays the answer back. Under every fault, not one frame of the
 * caller's own audio may come back.
 */
import { describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames } from '../../tools/sim/index.js';
import { startFakeElevenLabs, expectedUlaw, type FakeElevenLabs, type Fault, type FaultPlan } from '../../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startBridge, type Bridge } from '../helpers/harness.js';

/** A fresh fake ElevenLabs and bridge per test (tests run concurrently), closed afterwards. */
async function withBridge<T>(env: Record<string, string>, fn: (b: Bridge, fake: FakeElevenLabs) => Promise<T>, faults?: FaultPlan): Promise<T> {
  const fake = await startFakeElevenLabs({ apiKey: 'test-key' });
  if (faults) fake.setFaults(faults);
  const b = await startBridge({
    ELEVENLABS_API_KEY: 'test-key',
    ELEVENLABS_BASE_URL: fake.baseUrl,
    ELEVENLABS_VOICE_ID: 'voiceABC',
    ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '1500',
    FALLBACK: 'silence',
    ...env,
  });
  try {
    return await fn(b, fake);
  } finally {
    await b.close();
    await fake.close();
  }
}

/** Every received byte must be part of the fake's tone (or mu-law silence): nothing else was produced. */
function onlyToneOrSilence(received: Uint8Array): boolean {
  const tone = new Set(expectedUlaw(1000));
  tone.add(0xff);
  return received.every((b) => tone.has(b));
}

const nonSilent = (a: Uint8Array) => a.filter((x) => x !== 0xff).length;

describe('hotline call through ElevenLabs (fake server)', () => {
  it.concurrent('converts each spoken phrase once and plays the answers back in order, with marks', async () => {
    const audio = loadClipMulaw('jfk');
    // Phrases whole (long-turn chunking off: test/integration/long-turn.test.ts covers chunks).
    await withBridge({ PLAYOUT_CLEAR_BACKLOG_MS: '0', VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '10000' }, async (b, fake) => {
      const r = await simulateCall({ url: b.url, audio, realtime: false, tailMs: 15_000, endWhenIdleMs: 1500 });
      // jfk: 5 reference phrases; two are 0.30 s apart, under the 500 ms hangover, so they are one phrase.
      expect(fake.requests.length).toBeGreaterThanOrEqual(4);
      expect(fake.requests.length).toBeLessThanOrEqual(5);
      for (const req of fake.requests) {
        expect(req.path).toBe('/v1/speech-to-speech/voiceABC/stream');
        expect(req.query.output_format).toBe('ulaw_8000');
        expect(req.fields.file_format).toBe('pcm_s16le_16');
        expect(req.fields.model_id).toBe('eleven_multilingual_sts_v2');
        expect(req.headers['xi-api-key']).toBe('test-key');
      }
      // Every answer arrives, whole, each phrase padded to whole 20 ms chunks.
      const sentMs = fake.requests.map((q) => q.audioBytes / 32);
      const totalAnswerBytes = sentMs.reduce((a, ms) => a + expectedUlaw(ms).length, 0);
      expect(r.receivedAudio.length).toBeGreaterThanOrEqual(totalAnswerBytes);
      expect(r.receivedAudio.length).toBeLessThan(totalAnswerBytes + fake.requests.length * 160);
      // In order: a mark after each phrase, echoed in the order the phrases were spoken.
      expect(r.marks.map((m) => m.name)).toEqual(fake.requests.map((_, i) => `phrase-${i + 1}`));
      expect(r.marks.every((m) => !m.cleared)).toBe(true);
      // Each mark comes after exactly its phrase's answer: the heard audio before mark k is phrases 1..k.
      let cumulative = 0;
      for (let k = 0; k < fake.requests.length; k++) {
        cumulative += Math.ceil(expectedUlaw(sentMs[k]!).length / 160) * 160;
        expect(r.marks[k]!.echoedAtMs).toBeGreaterThanOrEqual(cumulative / 8 - 100);
      }
      expect(onlyToneOrSilence(r.receivedAudio)).toBe(true);
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      expect(r.protocolErrors).toEqual([]);
      // Outbound chunks are 20 ms.
      expect(new Set(r.received.map((m) => m.payload.length))).toEqual(new Set([160]));
      // Silence was never sent for conversion: total phrase audio is less than the clip.
      expect(sentMs.reduce((a, x) => a + x, 0)).toBeLessThan(audio.length / 8);
    });
  });

  it.concurrent('the caller starting a new turn over a long backlog clears it (barge-in)', async () => {
    // Hotline: a new turn is speech after HOTLINE_TURN_GAP_MS of silence (JFK pauses about 0.5-1.5 s).
    await withBridge({ PLAYOUT_CLEAR_BACKLOG_MS: '1000', HOTLINE_TURN_GAP_MS: '400' }, async (b, fake) => {
      // At 3x real time the caller's next phrase starts while earlier answers are still queued.
      const r = await simulateCall({ url: b.url, audio: loadClipMulaw('jfk'), realtime: false, fastSpeedup: 3, tailMs: 12_000, endWhenIdleMs: 1500 });
      expect(r.clears.length).toBeGreaterThanOrEqual(1);
      // Cleared phrases never reach their mark; the last phrase plays whole.
      expect(r.marks.length).toBeLessThan(fake.requests.length);
      expect(r.marks.at(-1)?.name).toBe(`phrase-${fake.requests.length}`);
      expect(b.logs.some((l) => /playback cleared/.test(String(l.msg)))).toBe(true);
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
    });
  });

  const faults: Array<[string, Fault]> = [
    ['HTTP 500', { type: 'status', status: 500 }],
    ['429 with Retry-After', { type: 'rate-limit', code: 'too_many_concurrent_requests', retryAfterS: 1 }],
    ['401 bad key', { type: 'unauthorized' }],
    ['slow first byte', { type: 'slow-first-byte', delayMs: 4000 }],
    ['reset mid-stream', { type: 'reset-mid-stream', afterBytes: 800 }],
    ['reset before first byte', { type: 'reset-before-first-byte' }],
    ['hang', { type: 'hang' }],
  ];

  it.concurrent.each(faults)('%s: the caller hears silence, never their own voice; the call stays up', async (_name, fault) => {
    await withBridge(
      {},
      async (b, fake) => {
        const r = await simulateCall({ url: b.url, audio: loadClipMulaw('libri8230'), realtime: false, tailMs: 6000, endWhenIdleMs: 4000 });
        expect(fake.requests.length).toBeGreaterThanOrEqual(1);
        expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
        expect(onlyToneOrSilence(r.receivedAudio)).toBe(true);
        if (fault.type === 'reset-mid-stream') {
          // What arrived before the reset may play; nothing after it.
          expect(nonSilent(r.receivedAudio)).toBeLessThanOrEqual(800 * fake.requests.length);
        } else {
          expect(nonSilent(r.receivedAudio)).toBe(0);
        }
        expect(r.closedBy).toBe('simulator'); // the bridge kept the call up
        expect(b.logs.some((l) => /phrase dropped/.test(String(l.msg)))).toBe(true);
      },
      () => fault,
    );
  });

  it.concurrent('with FALLBACK=local a failing ElevenLabs is replaced by the embedded engine: masked, never raw', async () => {
    await withBridge(
      { FALLBACK: 'local' },
      async (b) => {
        const r = await simulateCall({ url: b.url, audio: loadClipMulaw('libri8230'), realtime: false, tailMs: 8000, endWhenIdleMs: 2000 });
        expect(nonSilent(r.receivedAudio)).toBeGreaterThan(8000); // the engine's masked audio came back
        expect(onlyToneOrSilence(r.receivedAudio)).toBe(false); // ... and it is not the fake's tone
        expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      },
      () => ({ type: 'status', status: 503 }),
    );
  });

  it.concurrent('a hung conversion holds up later phrases only until it times out', async () => {
    // Every request for the first phrase (its retries too) hangs; every other phrase converts.
    let firstBytes: number | undefined;
    const hangFirstPhrase: FaultPlan = (_i, req) => {
      firstBytes ??= req.audioBytes;
      return req.audioBytes === firstBytes ? { type: 'hang' } : undefined;
    };
    await withBridge(
      { PLAYOUT_CLEAR_BACKLOG_MS: '0', ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '1000', FALLBACK: 'silence' },
      async (b, fake) => {
        const r = await simulateCall({ url: b.url, audio: loadClipMulaw('jfk'), realtime: false, tailMs: 15_000, endWhenIdleMs: 2000 });
        const later = fake.requests.filter((q) => q.audioBytes !== firstBytes);
        expect(later.length).toBeGreaterThanOrEqual(3);
        const answered = later.reduce((a, q) => a + expectedUlaw(q.audioBytes / 32).length, 0);
        expect(nonSilent(r.receivedAudio)).toBeGreaterThan(answered * 0.9);
        expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
        // Phrase 1 was dropped (no mark); phrase 2 played after at most the timeouts, not never.
        expect(r.marks[0]!.name).toBe('phrase-2');
        expect(b.logs.some((l) => /phrase dropped/.test(String(l.msg)))).toBe(true);
      },
      hangFirstPhrase,
    );
  });

  it.concurrent('after a failed phrase, later phrases are still converted', async () => {
    await withBridge(
      { PLAYOUT_CLEAR_BACKLOG_MS: '0' },
      async (b, fake) => {
        const r = await simulateCall({ url: b.url, audio: loadClipMulaw('jfk'), realtime: false, tailMs: 15_000, endWhenIdleMs: 1500 });
        expect(fake.requests.length).toBeGreaterThanOrEqual(4);
        const answered = fake.requests.slice(1).reduce((a, q) => a + expectedUlaw(q.audioBytes / 32).length, 0);
        expect(nonSilent(r.receivedAudio)).toBeGreaterThan(answered * 0.9);
        expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      },
      (i) => (i === 0 ? { type: 'validation' } : undefined),
    );
  });
});
