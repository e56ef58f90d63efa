/**
 * A contact line against phones behind the fake Twilio REST API: the phones answer, follow the
 * TwiML they fetch (the whisper, <Gather>, the stream), send the status callbacks Twilio sends,
 * and record what they heard. No test code plays Twilio's part by hand here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { findLeakedFrames, isAudible, toFrames } from '../../tools/sim/index.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { embeddedHoldMusic } from '../../src/voice/hold-music.js';
import { startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';
import { lineLegs } from '../helpers/line-legs.js';

const LINE_VM = '+15005556100'; // a voicemail box first, then a person
const BOX = '+15005556111';
const ALICE = '+15005556112';
const LINE_ONE = '+15005556200'; // one person, two callers
const BOB = '+15005556211';

const greeting = loadClipMulaw('p240'); // "the box's owner": must never reach anyone
const agentSpeech = loadClipMulaw('libri8230');
const callerSpeech = loadClipMulaw('libri6829');
const HOLD = new Set(toFrames(embeddedHoldMusic()).map((f) => Buffer.from(f).toString('base64')));

let fake: FakeTwilioRest;
let b: Bridge;

beforeAll(async () => {
  fake = await startFakeTwilioRest({
    phones: {
      [BOX]: { kind: 'voicemail', greeting, maxMessageMs: 60_000 },
      [ALICE]: { kind: 'person', answerAfterMs: 1500, digits: '1', audio: agentSpeech, hangUpAfterMs: 12_000 },
      [BOB]: { kind: 'person', answerAfterMs: 1000, digits: '1', audio: agentSpeech, hangUpAfterMs: 9000 },
    },
  });
  b = await startLineBridge(
    fake,
    `lines:
  "${LINE_VM}":
    agents: ["${BOX}", "${ALICE}"]
    strategy: linear
    wrapUpS: 0
  "${LINE_ONE}":
    agents: ["${BOB}"]
    wrapUpS: 2
`,
    { WS_MAX_MESSAGES_PER_SEC: '5000' },
  );
});
afterAll(async () => {
  await b?.close();
  await fake?.close();
});

describe('contact line with phones', () => {
  it('a voicemail box never hears the caller and the caller never hears it; its call is over soon; the next agent who presses 1 is joined', async () => {
    const { callLine } = lineLegs(() => ({ url: b.url, fake }));
    const caller = callLine(LINE_VM, { audio: callerSpeech, tailMs: 60_000, endWhenIdleMs: 3000 });
    await caller.room();
    const box = await fake.phone(BOX)!.whenCall(0);
    const boxEnded = await box.ended;
    const answeredAt = box.at('answered')!;
    // The box got the whisper and a key prompt, never a stream: it recorded nothing of the caller.
    expect(box.streams).toEqual([]);
    expect(box.at('gather')).toBeDefined();
    expect(box.events('digits')).toEqual([]);
    expect(['completed', 'canceled']).toContain(boxEnded);
    expect(box.timeline.at(-1)!.at - answeredAt).toBeLessThan(30_000);
    // The next agent pressed 1 and is on the call.
    const alice = await fake.phone(ALICE)!.whenCall(0);
    await alice.ended;
    const c = await caller.result;
    expect(alice.streams).toHaveLength(1);
    // The caller heard hold music, then the masked agent: nothing of the box, nothing raw.
    expect(findLeakedFrames(toFrames(greeting), c.receivedAudio)).toBe(0);
    expect(findLeakedFrames(toFrames(agentSpeech), c.receivedAudio)).toBe(0);
    expect(toFrames(c.receivedAudio).filter((f) => isAudible(f) && !HOLD.has(Buffer.from(f).toString('base64'))).length).toBeGreaterThan(100);
    // The agent heard the caller (mask: agent) only once they accepted.
    expect(alice.streams[0]!.openedAt).toBeGreaterThan(alice.at('digits')!);
  });

  it('one agent, two callers: the agent is never dialled while on a call; both callers are served in turn', async () => {
    const { callLine } = lineLegs(() => ({ url: b.url, fake }));
    const first = callLine(LINE_ONE, { tailMs: 60_000, endWhenIdleMs: 3000 });
    await first.room();
    await new Promise((r) => setTimeout(r, 2000));
    const second = callLine(LINE_ONE, { tailMs: 60_000, endWhenIdleMs: 3000 });
    await second.room();
    const bob = fake.phone(BOB)!;
    const call1 = await bob.whenCall(0);
    await call1.ended;
    const call2 = await waitFor('the second call to the agent', () => bob.calls[1], 20_000);
    await call2.ended;
    const [c1, c2] = await Promise.all([first.result, second.result]);
    expect(bob.overlaps()).toEqual([]);
    expect(call2.at('created')!).toBeGreaterThan(call1.timeline.at(-1)!.at);
    for (const c of [c1, c2]) expect(findLeakedFrames(toFrames(agentSpeech), c.receivedAudio)).toBe(0);
  });
});
