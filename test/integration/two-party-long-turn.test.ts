/**
 * Two-party line, phrase mode (ElevenLabs, echoing fake): the agent's long turn reaches the
 * customer in chunks, whole; the agent's own next chunks never clear it; the customer (the
 * listener) speaking over a long backlog does. Real bridge, fake Twilio REST, two simulated legs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode, mulawSilence } from '../../src/audio/mulaw.js';
import { CATCH_UP_SPEED } from '../../src/twilio/media-out.js';
import { findLeakedFrames, isAudible, simulateCall, toFrames, type SimulatedCallOptions } from '../../tools/sim/index.js';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../tools/fakes/fake-elevenlabs.js';
import { mouthToEar } from '../../scripts/lib/mouth-to-ear.js';
import { startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';

const LINE = '+15005550700';
const AGENT = '+15005550711';
const LINE_BOTH = '+15005550800';
const AGENT_BOTH = '+15005550811';
let twilio: FakeTwilioRest;
let echo: FakeElevenLabs;
let b: Bridge;

beforeAll(async () => {
  twilio = await startFakeTwilioRest();
  echo = await startFakeElevenLabs({ answer: 'echo', apiKey: null, firstByteMs: 150, chunkMs: Infinity });
  b = await startLineBridge(twilio, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    screen: false\n  "${LINE_BOTH}":\n    agents: ["${AGENT_BOTH}"]\n    mask: both\n    screen: false\n`, {
    CONVERTER: 'elevenlabs',
    ELEVENLABS_API_KEY: 'k',
    ELEVENLABS_BASE_URL: echo.baseUrl,
    FALLBACK: 'silence',
    PLAYOUT_CLEAR_BACKLOG_MS: '500',
  });
});
afterAll(async () => {
  await b?.close();
  await echo?.close();
  await twilio?.close();
});


/** One call on `line`: the customer dials, the agent answers, both speak in real time. */
async function call(line: string, agentNumber: string, agentAudio: Uint8Array, customerAudio: Uint8Array, tailMs: number) {
  // The customer stays on until the agent has finished and been heard (the agent hangs up first).
  const customerTailMs = Math.max(tailMs, (agentAudio.length - customerAudio.length) / 8 + tailMs + 4000);
  let room: string | undefined;
  let release!: () => void;
  const paired = new Promise<void>((r) => (release = r));
  const common: Partial<SimulatedCallOptions> = { url: b.url, authToken: twilio.authToken, realtime: true };
  const customer = simulateCall({
    ...common,
    url: b.url,
    webhookPath: '/twiml/line',
    audio: customerAudio,
    tailMs: customerTailMs,
    form: { To: line },
    onProgress: (e) => {
      if (e.type === 'webhook') room = e.parameters.room;
    },
    hooks: { afterStart: () => paired },
  });
  const r = await waitFor('the room', () => room);
  const dial: FakeCall = await waitFor('the agent dial', () => twilio.calls.find((c) => c.to === agentNumber && new URL(c.url!).searchParams.get('room') === r));
  const u = new URL(dial.url!);
  const agent = simulateCall({
    ...common,
    url: b.url,
    webhookPath: u.pathname,
    query: Object.fromEntries(u.searchParams),
    form: { CallSid: dial.sid, AccountSid: twilio.accountSid, To: dial.to, From: dial.from, Direction: 'outbound-api', CallStatus: 'in-progress' },
    audio: agentAudio,
    tailMs,
  });
  await waitFor('pairing', () => b.logs.some((l) => l.room === r.slice(0, 8) && l.msg === 'agent answered: call connected, agent voice masked'));
  release();
  return Promise.all([agent, customer]);
}

const turn = loadClipMulaw('bush').subarray(0, 14 * 8000);
const phrases = CLIPS['bush']!.phrases.filter(([s]) => s < 14).map(([s, e]) => [s, Math.min(e, 14)] as [number, number]);

describe('two-party line, the agent talks at length (phrase mode)', () => {
  for (const [mask, line, agentNo] of [
    ['agent', LINE, AGENT],
    ['both', LINE_BOTH, AGENT_BOTH],
  ] as const) {
    // One call at a time: the echo's request list is shared.
    it(`MASK=${mask}: the customer hears the agent's long turn whole; nothing clears it`, async () => {
      const before = echo.requests.length;
      const [agent, cust] = await call(line, agentNo, turn, new Uint8Array(0), 6000);
      const mine = echo.requests.slice(before).filter((q) => q.pcm8k.length > 0);
      const rep = mouthToEar(mulawDecode(turn), phrases, mine, cust.heard);
      // (The one clear at pairing stops the ringback; no barge-in clear follows.)
      expect(b.logs.some((l) => l.callSid === cust.callSid && /listener spoke over a long backlog/.test(String(l.msg)))).toBe(false);
      expect(rep.heardFrames / rep.speechFrames).toBeGreaterThanOrEqual(0.9);
      expect(rep.frames.every((f, i) => i === 0 || f.heardMs > rep.frames[i - 1]!.heardMs)).toBe(true);
      expect(agent.protocolErrors).toEqual([]);
    });
  }

  it("the customer speaking over a long backlog of the agent makes it play faster: none of the agent's words is dropped", async () => {
    const customerTalks = new Uint8Array(8 * 8000 + 3 * 8000);
    customerTalks.set(mulawSilence(8 * 8000));
    customerTalks.set(loadClipMulaw('libri6829').subarray(0, 3 * 8000), 8 * 8000);
    const before = echo.requests.length;
    const [, cust] = await call(LINE, AGENT, turn, customerTalks, 4000);
    const mine = echo.requests.slice(before).filter((q) => q.pcm8k.length > 0);
    expect(cust.clears.length).toBe(1); // the hold music's end only: no backlog is cleared
    expect(b.logs.filter((l) => /listener spoke|over a long backlog|faster/.test(String(l.msg))).map((l) => l.msg)).toContain("listener spoke over a long backlog: playing it faster until it is short (nothing dropped)");
    const rep = mouthToEar(mulawDecode(turn), phrases, mine, cust.heard);
    // Frames heard as sent (before the catch-up), and the rest heard compressed (WSOLA changes
    // the samples, so they are counted by sound, not by match): together the whole turn.
    const audible = (a: Uint8Array) => toFrames(a).filter(isAudible).length;
    expect(rep.heardFrames / rep.speechFrames).toBeGreaterThanOrEqual(0.5);
    expect(audible(cust.heard)).toBeGreaterThanOrEqual((audible(turn) / CATCH_UP_SPEED) * 0.9);
    // The echo answers with the agent's own audio, so "leaked" here only checks the customer's
    // speech never reached the customer's own ear.
    expect(findLeakedFrames(customerTalks.subarray(8 * 8000).reduce<Uint8Array[]>((a, _, i, s) => (i % 160 === 0 ? [...a, s.subarray(i, i + 160)] : a), []), cust.heard)).toBe(0);
  });
});
