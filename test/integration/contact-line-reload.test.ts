/**
 * Reloading the lines file under load: a call in progress keeps the settings it started with
 * and is not cut; a file with problems is refused naming the file, line and field, and the old
 * one stays in use; a good file is used by the next call.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { registry } from '../../src/observability/metrics.js';
import { startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';
import { lineLegs, roomOf } from '../helpers/line-legs.js';

const LINE = '+15005554100';
const AGENT = '+15005554111';
const NEW_LINE = '+15005554200';

let fake: FakeTwilioRest;
let b: Bridge & { linesFile: string };

beforeAll(async () => {
  fake = await startFakeTwilioRest();
  b = await startLineBridge(fake, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    notice: First notice.\n`, { WS_MAX_MESSAGES_PER_SEC: '5000' });
});
afterAll(async () => {
  await b?.close();
  await fake?.close();
});

const reloads = async (result: string) =>
  (await registry.getMetricsAsJSON()).find((m) => m.name === 'voicemask_lines_reloads_total')?.values.find((v) => v.labels.result === result)?.value ?? 0;

describe('lines file reload', () => {
  it('keeps the call in progress whole, refuses a bad file (the old one stays), takes a good one for new calls', async () => {
    const { callLine, pressOne, status, postSigned } = lineLegs(() => ({ url: b.url, fake }));
    const caller = callLine(LINE, { tailMs: 60_000, endWhenIdleMs: 3000 });
    const room = await caller.room();
    const dial = await waitFor('the dial', () => fake.calls.find((c) => roomOf(c) === room));
    const agent = pressOne(dial, { audio: loadClipMulaw('libri8230'), tailMs: 2000 });
    await waitFor('connected', () => b.logs.some((l) => l.msg === 'agent answered: call connected, agent voice masked'));

    // A bad file: refused, every problem named; the old file keeps answering.
    const invalidBefore = await reloads('invalid');
    writeFileSync(b.linesFile, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    maxWaitS: -1\n    holdAudio: /nonexistent/hold.mp3\n`);
    const bad = await b.reloadLines();
    expect(bad?.ok).toBe(false);
    expect(bad?.problems).toEqual([`LINES_CONFIG ${b.linesFile}: line "${LINE}": maxWaitS: expected at least 0 seconds`]);
    expect(await reloads('invalid')).toBe(invalidBefore + 1);
    const form = (to: string, sid: string) => ({ To: to, From: '+15005554999', CallSid: `CA${sid.repeat(32)}` });
    expect(await (await postSigned(`${b.url}/twiml/line`, form(NEW_LINE, 'a'))).text()).toMatch(/not in service/);

    // A hold file that does not decode is refused too, naming the line and field.
    writeFileSync(`${b.linesFile}.mp3`, 'not audio at all');
    writeFileSync(b.linesFile, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    holdAudio: ${b.linesFile}.mp3\n`);
    const undecodable = await b.reloadLines();
    expect(undecodable?.problems[0]).toMatch(new RegExp(`line "\\${LINE}": holdAudio: .* does not decode`));

    // A good file: the new line answers, the old line's new notice is used by new calls only.
    writeFileSync(b.linesFile, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    notice: Second notice.\n  "${NEW_LINE}":\n    agents: ["+15005554211"]\n`);
    expect(await b.reloadLines()).toMatchObject({ ok: true, problems: [] });
    expect(await (await postSigned(`${b.url}/twiml/line`, form(NEW_LINE, 'b'))).text()).toMatch(/<Stream/);
    expect(await (await postSigned(`${b.url}/twiml/line`, form(LINE, 'c'))).text()).toMatch(/Second notice/);

    // The call in progress went on, untouched, and ended when the agent hung up.
    const a = await agent;
    await status(dial, 'completed');
    const c = await caller.result;
    expect(a.closedBy).toBe('simulator');
    expect(c.receivedAudio.length).toBeGreaterThan(8000);
    expect(c.twiml).toMatch(/First notice/);
  });
});
