/**
 * A contact line end to end on loopback: the bridge with screening on (the default), the fake
 * Twilio REST API, and simulated legs: callers on the line's number, and an agent who answers
 * the calls the bridge places by fetching the agent webhook (the whisper and <Gather>) and
 * pressing 1 (the <Gather>'s action), as Twilio would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeakedFrames, isAudible, toFrames } from '../../tools/sim/index.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { embeddedHoldMusic } from '../../src/voice/hold-music.js';
import { startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';
import { lineLegs, roomOf } from '../helpers/line-legs.js';

const LINE = '+15005551100'; // one agent, a queue
const AGENT = '+15005551111';
const LINE_VM = '+15005551200'; // a voicemail box, then a person
const BOX = '+15005551211';
const PERSON = '+15005551212';
const LINE_OF = '+15005551300'; // waits 3 s, then overflows to LINE_OF2
const LINE_OF2 = '+15005551400';

let fake: FakeTwilioRest;
let b: Bridge;

beforeAll(async () => {
  fake = await startFakeTwilioRest();
  b = await startLineBridge(
    fake,
    `lines:
  "${LINE}":
    agents: ["${AGENT}"]
    wrapUpS: 2
  "${LINE_VM}":
    agents: ["${BOX}", "${PERSON}"]
    strategy: linear
    acceptTimeoutS: 4
    wrapUpS: 0
  "${LINE_OF}":
    agents: ["+15005551311"]
    maxWaitS: 3
    overflow: "${LINE_OF2}"
  "${LINE_OF2}":
    agents: ["+15005551411"]
`,
    { WS_MAX_MESSAGES_PER_SEC: '5000' },
  );
});
afterAll(async () => {
  await b?.close();
  await fake?.close();
});

const HOLD = new Set(toFrames(embeddedHoldMusic()).map((f) => Buffer.from(f).toString('base64')));
const agentSpeech = loadClipMulaw('libri8230');
const { callLine, agentTwiml, pressOne, status } = lineLegs(() => ({ url: b.url, fake }));

describe('contact line', () => {
  it('one agent, two callers: the agent is never rung while on a call; the second caller waits on hold music and is put through after the first call', async () => {
    const first = callLine(LINE, { tailMs: 60_000 });
    const room1 = await first.room();
    const dial1 = await waitFor('the first dial', () => fake.calls.find((c) => roomOf(c) === room1));
    expect(dial1.to).toBe(AGENT);
    const agent1 = pressOne(dial1, { audio: agentSpeech, tailMs: 3000 });
    await waitFor('the first call connected', () => b.logs.some((l) => l.room === room1.slice(0, 8) && l.msg === 'agent answered: call connected, agent voice masked'));

    // The second caller arrives while the agent talks: nobody is dialled for it.
    const second = callLine(LINE, { tailMs: 60_000, endWhenIdleMs: 4000 });
    const room2 = await second.room();
    await new Promise((r) => setTimeout(r, 3000));
    expect(fake.calls.filter((c) => roomOf(c) === room2)).toEqual([]);

    // The agent hangs up the first call: after wrap-up the second caller's agent call is placed.
    const a1 = await agent1;
    const hungUpAt = Date.now();
    await status(dial1, 'completed');
    const dial2 = await waitFor('the second dial', () => fake.calls.find((c) => roomOf(c) === room2), 20_000);
    const agent2 = pressOne(dial2, { audio: agentSpeech, tailMs: 6000 });
    await waitFor('the second call connected', () => b.logs.some((l) => l.room === room2.slice(0, 8) && l.msg === 'agent answered: call connected, agent voice masked'));
    expect(Date.now() - hungUpAt).toBeLessThan(20_000);
    const a2 = await agent2;
    const c2 = await second.result;
    await first.result;

    // The two calls to the agent never overlapped: the second was placed after the first ended.
    expect(fake.requests.findIndex((q) => q.form.To === AGENT && q.path.endsWith('/Calls.json') && q.form.Url === dial2.url)).toBeGreaterThan(
      fake.requests.findIndex((q) => q.form.To === AGENT && q.path.endsWith('/Calls.json') && q.form.Url === dial1.url),
    );
    // While waiting, the second caller heard hold music for most of the wait (and nothing else).
    const waitedMs = c2.received.length ? c2.received.findLast((m) => toFrames(m.payload).some((f) => HOLD.has(Buffer.from(f).toString('base64'))))!.atMs : 0;
    const holdFrames = toFrames(c2.receivedAudio).filter((f) => isAudible(f) && HOLD.has(Buffer.from(f).toString('base64'))).length;
    expect(holdFrames * 20).toBeGreaterThan(waitedMs / 2);
    // Then the agent's speech, masked: whole, and never raw.
    expect(findLeakedFrames(a2.sentFrames, c2.receivedAudio)).toBe(0);
    expect(findLeakedFrames(a1.sentFrames, c2.receivedAudio)).toBe(0);
    const voice = toFrames(c2.receivedAudio).filter((f) => isAudible(f) && !HOLD.has(Buffer.from(f).toString('base64')));
    expect(voice.length).toBeGreaterThan(toFrames(agentSpeech).filter(isAudible).length * 0.8);
  });

  it('a voicemail box that answers and never presses 1 hears only the whisper; the caller hears nothing of it and the next agent is rung', async () => {
    const caller = callLine(LINE_VM, { tailMs: 60_000, audio: loadClipMulaw('libri6829') });
    const room = await caller.room();
    const box = await waitFor('the box dial', () => fake.calls.find((c) => roomOf(c) === room && c.to === BOX));
    await status(box, 'in-progress');
    const twiml = await agentTwiml(box);
    // The box gets a whisper and a key prompt, no stream: nothing of the caller, nothing back.
    expect(twiml).toMatch(/<Gather[^>]*numDigits="1"[\s\S]*Press 1 to accept/);
    expect(twiml).not.toMatch(/<Stream/);
    // No key: the box's call is ended within the accept time, and the next agent is rung.
    const person = await waitFor('the next dial', () => fake.calls.find((c) => roomOf(c) === room && c.to === PERSON), 15_000);
    expect(fake.requests.some((q) => q.path.endsWith(`/Calls/${box.sid}.json`) && (q.form.Status === 'canceled' || q.form.Status === 'completed'))).toBe(true);
    const agent = await pressOne(person, { audio: agentSpeech, tailMs: 3000 });
    expect(agent.receivedAudio.length).toBeGreaterThan(0);
    await status(person, 'completed');
    const c = await caller.result;
    expect(findLeakedFrames(agent.sentFrames, c.receivedAudio)).toBe(0);
    expect(b.logs.some((l) => l.msg === 'agent did not join' && l.outcome === 'not-accepted')).toBe(true);
  });

  it('after maxWaitS the caller moves to the overflow line, still on hold music, and is put through there', async () => {
    const caller = callLine(LINE_OF, { tailMs: 60_000, endWhenIdleMs: 2500 });
    const room = await caller.room();
    const first = await waitFor('the first line\'s dial', () => fake.calls.find((c) => roomOf(c) === room && c.to === '+15005551311'));
    await status(first, 'busy');
    const second = await waitFor('the overflow line\'s dial', () => fake.calls.find((c) => roomOf(c) === room && c.to === '+15005551411'), 15_000);
    const agent = await pressOne(second, { audio: agentSpeech, tailMs: 1500 });
    await status(second, 'completed');
    const c = await caller.result;
    expect(b.logs.some((l) => l.msg === 'waited maxWaitS: moving to the overflow line')).toBe(true);
    expect(findLeakedFrames(agent.sentFrames, c.receivedAudio)).toBe(0);
    expect(toFrames(c.receivedAudio).filter((f) => isAudible(f) && !HOLD.has(Buffer.from(f).toString('base64'))).length).toBeGreaterThan(50);
  });

  it("the leg left behind is ended through the REST API first and its stream closed after: no TwiML after <Connect> runs", async () => {
    // The REST answer is held for 300 ms: the stream must not close before it.
    let restAt = 0;
    fake.on('POST', /\/Calls\/CA[0-9a-f]+\.json$/, async (req) => {
      if (req.form['Status'] !== 'completed') return undefined;
      await new Promise((r) => setTimeout(r, 300));
      restAt = Date.now();
      return undefined;
    });
    let closedAt = 0;
    const caller = callLine(LINE, {
      tailMs: 60_000,
      onProgress: (e) => {
        if (e.type === 'closed' && e.by === 'bridge') closedAt = Date.now();
      },
    });
    const r = await caller.room();
    const dial = await waitFor('the dial', () => fake.calls.find((c) => roomOf(c) === r));
    const agent = await pressOne(dial, { audio: agentSpeech.subarray(0, 8000), tailMs: 1000 });
    expect(agent.closedBy).toBe('simulator'); // the agent hung up
    await status(dial, 'completed');
    const c = await caller.result;
    expect(c.closedBy).toBe('bridge');
    expect(restAt).toBeGreaterThan(0);
    expect(closedAt).toBeGreaterThanOrEqual(restAt);
  });
});
