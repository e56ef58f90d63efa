/**
 * Whole calls through a faulty ElevenLabs that recovers: for each fault kind, the first two
 * phrases of a real-time call meet the fault on every attempt (the fault proxy in front of the
 * fake ElevenLabs), then ElevenLabs answers again. With FALLBACK=silence:
 *   - the call stays up, and nothing unmasked is sent: every byte the caller gets is the fake's
 *     tone or mu-law silence, and no caller frame comes back;
 *   - the phrase spoken right after the fault clears is converted and heard.
 * Only external behaviour is checked: the Twilio protocol, HTTP, what the fakes recorded.
 * Barge-in clears are off (PLAYOUT_CLEAR_BACKLOG_MS=0) so that a phrase is lost only to the
 * fault, never to the caller talking over a backlog (npm run bench:faults measures both).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { audibleMs, FAULT_KINDS, runScenario, summarize, type FaultKindName, type ScenarioResult } from '../../scripts/lib/fault-scenario.js';
import { loadClipMulaw } from '../../tools/clips.js';

const FAULTED = 2;
const env = { PLAYOUT_CLEAR_BACKLOG_MS: '0' };
const audio = loadClipMulaw('jfk');
let clean: ScenarioResult;

beforeAll(async () => {
  clean = await runScenario({ audio, env });
  // jfk: four phrases as the VAD cuts them (two reference phrases 0.30 s apart are one)
  expect(clean.phrases.length).toBeGreaterThanOrEqual(FAULTED + 1);
  expect(clean.phrases.every((p) => p.answered && !p.faulted)).toBe(true);
  expect(clean.callUp).toBe(true);
}, 60_000);

const logged = (r: ScenarioResult, re: RegExp) => r.logs.filter((l) => re.test(String(l.msg)));

describe('a fault on the first phrases, then recovery (FALLBACK=silence)', () => {
  it.concurrent.each(FAULT_KINDS.map((k) => [k]))('%s', async (kind) => {
    const faultHashes = clean.phrases.slice(0, FAULTED).map((p) => p.sha1);
    const r = await runScenario({ audio, env, kind: kind as FaultKindName, faultHashes });
    const s = summarize(clean, r, FAULTED);

    // The fault really happened, to the first phrases only.
    expect(r.requests.every((q) => faultHashes.includes(q.audioSha1) === (q.fault !== undefined))).toBe(true);
    expect(r.requests.filter((q) => q.fault).length).toBeGreaterThanOrEqual(1);

    // Fail closed, call up.
    expect(r.callUp).toBe(true);
    expect(r.foreignBytes).toBe(0);
    expect(r.leakedFrames).toBe(0);

    // The phrase right after the fault: sent, answered in full, and heard by the caller.
    const next = clean.phrases[FAULTED]!;
    const sent = r.phrases.find((p) => p.sha1 === next.sha1);
    expect(sent, 'the first phrase after the fault reached ElevenLabs').toBeDefined();
    expect(sent!.answered).toBe(true);
    expect(s.firstAfterConverted).toBe(true);
    const heardAfter = audibleMs(r.call.heard.subarray(Math.max(0, Math.floor(sent!.sentAtMs)) * 8));
    expect(heardAfter).toBeGreaterThanOrEqual(0.9 * next.ms);
    expect(s.convertedShare).toBeGreaterThanOrEqual(0.7);

    // What each kind should look like from outside.
    const first = r.requests.filter((q) => q.audioSha1 === faultHashes[0]);
    switch (kind) {
      case '429': // retried after Retry-After (1 s), while the phrase was fresh
        expect(first.length).toBeGreaterThanOrEqual(2);
        expect(first[1]!.receivedAt - first[0]!.receivedAt).toBeGreaterThanOrEqual(950);
        break;
      case '500':
      case 'reset': // retried at once with backoff
        expect(first.length).toBeGreaterThanOrEqual(2);
        break;
      case 'hang': // given up at the first-byte timeout (3 s), not held until the total deadline
        expect(first[0]!.endedAt! - first[0]!.receivedAt).toBeLessThan(4500);
        break;
      case 'stall': // cut after the idle timeout (1.2 s), keeping what had been sent; never retried
        expect(first).toHaveLength(1);
        expect(first[0]!.bytesSent).toBe(4000);
        expect(first[0]!.endedAt! - first[0]!.receivedAt).toBeLessThan(2500);
        break;
      case 'truncated': // ends at once, not retried (its start already played)
        expect(first).toHaveLength(1);
        break;
      case '401':
      case 'quota-401': {
        // one request per phrase (never retried); the cause logged apart, with what to do
        expect(first).toHaveLength(1);
        const cause = kind === '401' ? 'invalid_api_key' : 'quota_exceeded';
        const lines = r.logs.filter((l) => l.cause === cause && l.level === 50);
        expect(lines.length).toBeGreaterThanOrEqual(1);
        expect(String(lines[0]!.msg)).toMatch(kind === '401' ? /check ELEVENLABS_API_KEY/ : /credits are exhausted.*top up/);
        break;
      }
    }
    if (kind !== '401' && kind !== 'quota-401') expect(logged(r, /uncaught/)).toEqual([]);
  }, 90_000);
});
