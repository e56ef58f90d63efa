/**
 * Whole calls in hotline mode through the ElevenLabs path: a simulated Twilio call plays real
 * speech into the real bridge, which converts each phrase on a fake ElevenLabs server (real
 * HTTP on loopback) and plays the answer back. Under every fault, not one frame of the
 * caller's own audio may come back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames } from '../../src/sim/index.js';
import { startFakeElevenLabs, expectedUlaw, type FakeElevenLabs, type Fault } from '../fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../fixtures/clips.js';
import { startBridge, type Bridge } from './harness.js';

let fake: FakeElevenLabs;
const bridges: Bridge[] = [];

beforeAll(async () => {
  fake = await startFakeElevenLabs({ apiKey: 'test-key' });
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.close()));
});

async function bridge(env: Record<string, string> = {}, fakeServer = fake) {
  const b = await startBridge({
    ELEVENLABS_API_KEY: 'test-key',
    ELEVENLABS_BASE_URL: fakeServer.baseUrl,
    ELEVENLABS_VOICE_ID: 'voiceABC',
    ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '1500',
    FALLBACK: 'silence',
    ...env,
  });
  bridges.push(b);
  return b;
}

/** Every received byte must be part of the fake's tone (or mu-law silence): nothing else was produced. */
function onlyToneOrSilence(received: Uint8Array): boolean {
  const tone = new Set(expectedUlaw(1000));
  tone.add(0xff);
  return received.every((b) => tone.has(b));
}

describe('hotline call through ElevenLabs (fake server)', () => {
  it('converts each spoken phrase once and plays the answers back in order, with marks', async () => {
    const audio = loadClipMulaw('jfk');
    const own = await startFakeElevenLabs({ apiKey: 'test-key' });
    try {
      const b = await bridge({}, own);
      const r = await simulateCall({ url: b.url, audio, realtime: false, tailMs: 15_000, endWhenIdleMs: 1500 });
      // jfk: 5 reference phrases; two are 0.30 s apart, under the 500 ms hangover, so they are one phrase.
      expect(own.requests.length).toBeGreaterThanOrEqual(4);
      expect(own.requests.length).toBeLessThanOrEqual(5);
      for (const req of own.requests) {
        expect(req.path).toBe('/v1/speech-to-speech/voiceABC/stream');
        expect(req.query.output_format).toBe('ulaw_8000');
        expect(req.fields.file_format).toBe('pcm_s16le_16');
        expect(req.fields.model_id).toBe('eleven_multilingual_sts_v2');
        expect(req.headers['xi-api-key']).toBe('test-key');
      }
      // Phrases are sent in spoken order, and the answers come back in that order: the fake's
      // answer is as long as its input, so the heard segments' lengths follow the requests'.
      const sentMs = own.requests.map((q) => q.audioBytes / 32);
      const totalAnswerBytes = sentMs.reduce((a, ms) => a + expectedUlaw(ms).length, 0);
      expect(r.receivedAudio.length).toBeGreaterThanOrEqual(totalAnswerBytes);
      expect(r.receivedAudio.length).toBeLessThan(totalAnswerBytes + own.requests.length * 160);
      expect(r.marks.map((m) => m.name)).toEqual(own.requests.map((_, i) => `phrase-${i + 1}`));
      expect(r.marks.every((m) => !m.cleared)).toBe(true);
      expect(onlyToneOrSilence(r.receivedAudio)).toBe(true);
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      expect(r.protocolErrors).toEqual([]);
      // Outbound chunks are 20 ms.
      expect(new Set(r.received.map((m) => m.payload.length))).toEqual(new Set([160]));
      // Silence was never sent for conversion: total phrase audio is less than the clip.
      expect(sentMs.reduce((a, b) => a + b, 0)).toBeLessThan(audio.length / 8);
    } finally {
      await own.close();
    }
  });

  const faults: Array<[string, Fault, number]> = [
    ['HTTP 500', { type: 'status', status: 500 }, 500],
    ['429 with Retry-After', { type: 'rate-limit', code: 'too_many_concurrent_requests', retryAfterS: 1 }, 429],
    ['401 bad key', { type: 'unauthorized' }, 401],
    ['slow first byte', { type: 'slow-first-byte', delayMs: 4000 }, 0],
    ['reset mid-stream', { type: 'reset-mid-stream', afterBytes: 800 }, 0],
    ['reset before first byte', { type: 'reset-before-first-byte' }, 0],
    ['hang', { type: 'hang' }, 0],
  ];

  it.concurrent.each(faults)('%s: the caller hears silence or masked audio, never their own voice', async (_name, fault) => {
    const own = await startFakeElevenLabs({ apiKey: 'test-key' });
    own.setFaults(() => fault);
    try {
      const b = await bridge({}, own);
      const r = await simulateCall({ url: b.url, audio: loadClipMulaw('libri8230'), realtime: false, tailMs: 6000, endWhenIdleMs: 4000 });
      expect(own.requests.length).toBeGreaterThanOrEqual(1);
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      expect(onlyToneOrSilence(r.receivedAudio)).toBe(true);
      if (fault.type === 'reset-mid-stream') {
        // What arrived before the reset may play; nothing after it.
        expect(r.receivedAudio.length).toBeLessThanOrEqual(800 * own.requests.length + 160);
      } else {
        expect(r.receivedAudio.filter((x) => x !== 0xff).length).toBe(0);
      }
      // The call stayed up and was closed by the simulator's stop, not by the bridge.
      expect(r.closedBy).toBe('simulator');
      expect(b.logs.some((l) => /phrase dropped/.test(String(l.msg)))).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('after a failed phrase, later phrases are still converted', async () => {
    const own = await startFakeElevenLabs({ apiKey: 'test-key' });
    // The first phrase's request fails permanently (422); everything after succeeds.
    own.setFaults((i) => (i === 0 ? { type: 'validation' } : undefined));
    try {
      const b = await bridge({}, own);
      const r = await simulateCall({ url: b.url, audio: loadClipMulaw('jfk'), realtime: false, tailMs: 15_000, endWhenIdleMs: 1500 });
      expect(own.requests.length).toBeGreaterThanOrEqual(4);
      const answered = own.requests.slice(1).reduce((a, q) => a + expectedUlaw(q.audioBytes / 32).length, 0);
      expect(r.receivedAudio.filter((x) => x !== 0xff).length).toBeGreaterThan(answered * 0.9);
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
    } finally {
      await own.close();
    }
  });
});
