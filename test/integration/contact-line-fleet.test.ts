/**
 * A contact line served by two bridge instances on one real Redis: presence and the queue are
 * shared. One agent, four callers arriving on both instances at once: the agent is never rung
 * for two callers at the same time, and the callers are served first come, first served across
 * the fleet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { redisBinary, startRedis, type RedisServer } from '../../tools/redis-server.js';
import { startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';
import { lineLegs, roomOf } from '../helpers/line-legs.js';

const LINE = '+15005552100';
const AGENT = '+15005552111';
const have = Boolean(redisBinary());
if (process.env['VOICEMASK_REQUIRE_REDIS'] === '1' && !have) throw new Error('redis-server is required (VOICEMASK_REQUIRE_REDIS=1)');

let fake: FakeTwilioRest;
let redis: RedisServer;
const bridges: Bridge[] = [];

beforeAll(async () => {
  if (!have) return;
  fake = await startFakeTwilioRest();
  redis = await startRedis();
  const lines = `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    wrapUpS: 1\n`;
  for (let i = 0; i < 2; i++) bridges.push(await startLineBridge(fake, lines, { REDIS_URL: redis.url, LINE_ROOM_SECRET: 's'.repeat(32), WS_MAX_MESSAGES_PER_SEC: '5000' }));
});
afterAll(async () => {
  for (const b of bridges) await b.close();
  await redis?.stop();
  await fake?.close();
});

describe.skipIf(!have)('a contact line on two instances, one Redis', () => {
  it('one agent, four callers on both instances: never rung twice at once, first come first served', async () => {
    const legs = bridges.map((b) => lineLegs(() => ({ url: b.url, fake })));
    // Callers 0..3 arrive 300 ms apart, alternating instances.
    const callers: Array<{ result: Promise<unknown>; room: () => Promise<string> }> = [];
    for (let i = 0; i < 4; i++) {
      callers.push(legs[i % 2]!.callLine(LINE, { tailMs: 90_000, endWhenIdleMs: 2500 }));
      await callers[i]!.room();
      await new Promise((r) => setTimeout(r, 300));
    }
    const rooms = await Promise.all(callers.map((c) => c.room()));
    const served: string[] = [];
    const speech = loadClipMulaw('p240').subarray(0, 8000 * 2);
    for (let n = 0; n < 4; n++) {
      const dial: FakeCall = await waitFor(`dial ${n + 1}`, () => fake.calls.find((c) => c.to === AGENT && !served.includes(c.sid) && c.status !== 'canceled'), 20_000);
      // The agent's call for this caller is the only one ringing: nothing else was placed to the agent.
      await new Promise((r) => setTimeout(r, 300));
      expect(fake.calls.filter((c) => c.to === AGENT && !served.includes(c.sid))).toHaveLength(1);
      served.push(dial.sid);
      const instance = bridges.findIndex((b) => dial.url!.startsWith(b.url));
      const agent = await legs[instance]!.pressOne(dial, { audio: speech, tailMs: 1500 });
      expect(agent.receivedAudio.length).toBeGreaterThan(0);
      await legs[instance]!.status(dial, 'completed');
    }
    // First come, first served across both instances.
    expect(served.map((sid) => roomOf(fake.calls.find((c) => c.sid === sid)!))).toEqual(rooms);
    await Promise.all(callers.map((c) => c.result));
  });
});
