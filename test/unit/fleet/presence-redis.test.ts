/**
 * The fleet presence store on a real redis-server: the shared PresenceStore contract, then what
 * only a fleet has: concurrent claims from two instances, a crashed instance's leases, changes
 * heard across instances, and Redis going away.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PresenceUnavailableError, RedisPresence, type RedisPresenceOptions } from '../../../src/fleet/presence-redis.js';
import type { Strategy } from '../../../src/session/line/presence.js';
import { silentLog } from '../../helpers/phrases.js';
import { redisBinary, startRedis, type RedisServer } from '../../../tools/redis-server.js';
import { presenceContract, sleep, stateOf, until } from '../../helpers/presence-contract.js';

const have = redisBinary() !== undefined;

describe.skipIf(!have)('RedisPresence (real redis-server)', () => {
  let redis: RedisServer;
  const open: RedisPresence[] = [];
  let n = 0;
  const make = (o: Partial<RedisPresenceOptions> = {}) => {
    // a generous timeout: these two cores are shared, and a storm queues 200 scripts
    const p = new RedisPresence({ url: redis.url, pool: `t${++n}`, log: silentLog, timeoutMs: 3000, ...o });
    open.push(p);
    return p;
  };
  const ready = async (...ps: RedisPresence[]) => {
    await until(async () => {
      for (const p of ps) await p.snapshot().catch(() => {});
      return ps.every((p) => p.redisUp);
    }, 3000);
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  presenceContract('RedisPresence', async () => {
    const p = make();
    await ready(p);
    return p;
  });

  const agents = Array.from({ length: 10 }, (_, i) => `agent${i}`);

  it('two instances under a claim storm never ring one agent for two callers, and serve the queue in order', async () => {
    const pool = 'storm';
    const a = make({ pool });
    const b = make({ pool });
    await ready(a, b);
    await a.setRoster(agents);
    const callers = Array.from({ length: 200 }, (_, i) => `CA${i}`);
    for (const [i, c] of callers.entries()) await (i % 2 ? b : a).enqueue({ line: 'L', callSid: c });
    const order = (await a.queue('L')).map((w) => w.callSid);
    expect(order).toEqual(callers);
    const strategies: Strategy[] = ['linear', 'rrmemory', 'longest-idle', 'fewestcalls'];
    // every caller asks at once, from both instances, three times over
    const got = new Map<string, string>();
    for (let round = 0; round < 50 && got.size < 10; round++) {
      const results = await Promise.all(
        callers.map((c, i) => (i % 2 ? b : a).claim({ line: 'L', callSid: c, candidates: agents, strategy: strategies[i % 4]! }).then((ids) => ({ c, ids }))),
      );
      for (const { c, ids } of results) {
        for (const id of ids) {
          expect(got.get(id), `${id} claimed for ${got.get(id)} and ${c}`).toBeUndefined();
          got.set(id, c);
        }
      }
    }
    expect(got.size).toBe(10);
    expect([...got.values()].sort()).toEqual(order.slice(0, 10).sort());
    const ringing = (await b.snapshot()).filter((s) => s.state === 'ringing');
    expect(new Map(ringing.map((s) => [s.id, s.callSid]))).toEqual(got);
  });

  it('while agents are released and claimed again, an agent never rings for two callers', async () => {
    const pool = 'churn';
    const a = make({ pool });
    const b = make({ pool });
    await ready(a, b);
    await a.setRoster(agents);
    const holder = new Map<string, string>();
    let claims = 0;
    const served = new Set<string>();
    // one dispatcher per instance, as the lines run it: on each change, its callers in queue
    // order ask for agents until one is told no (only the head can be served)
    const dispatcher = (p: RedisPresence, mine: string[]) => {
      let running = false;
      let again = false;
      const serve = async (callSid: string, ids: string[], i: number) => {
        for (const id of ids) {
          expect(holder.get(id), `${id} rings for ${holder.get(id)} and ${callSid}`).toBeUndefined();
          holder.set(id, callSid);
        }
        claims += ids.length;
        await p.leave('L', callSid);
        await sleep(i % 7);
        await Promise.all(ids.map((id) => (holder.delete(id), p.release(id, callSid, { wrapUpMs: 0, answered: true }))));
        served.add(callSid);
      };
      const run = async (): Promise<void> => {
        if (running) return void (again = true);
        running = true;
        for (const callSid of [...mine]) {
          const i = Number(callSid.slice(2));
          const ids = await p.claim({ line: 'L', callSid, candidates: agents, strategy: i % 3 ? 'ringall' : 'rrmemory' });
          if (ids.length === 0) break;
          mine.splice(mine.indexOf(callSid), 1);
          void serve(callSid, ids, i);
        }
        running = false;
        if (again) {
          again = false;
          return run();
        }
      };
      p.onChange(() => void run());
      const poll = setInterval(() => void run(), 200);
      return { run, stop: () => clearInterval(poll) };
    };
    const mineA: string[] = [];
    const mineB: string[] = [];
    for (let i = 0; i < 200; i++) {
      await (i % 2 ? b : a).enqueue({ line: 'L', callSid: `CH${i}` });
      (i % 2 ? mineB : mineA).push(`CH${i}`);
    }
    const d = [dispatcher(a, mineA), dispatcher(b, mineB)];
    await Promise.all(d.map((x) => x.run()));
    await until(() => served.size === 200, 30_000);
    d.forEach((x) => x.stop());
    expect(claims).toBeGreaterThanOrEqual(200);
    expect((await a.snapshot()).every((s) => s.state === 'available')).toBe(true);
  });

  it('a crashed instance’s claims and waiting callers expire within its lease', async () => {
    const pool = 'crash';
    const leaseMs = 1200;
    const a = make({ pool, leaseMs });
    const b = make({ pool, leaseMs });
    await ready(a, b);
    await a.setRoster(agents.slice(0, 3));
    await a.enqueue({ line: 'L', callSid: 'A1' });
    await a.enqueue({ line: 'L', callSid: 'A2' });
    await b.enqueue({ line: 'L', callSid: 'B1' });
    expect(await a.claim({ line: 'L', callSid: 'A1', candidates: agents, strategy: 'linear' })).toEqual(['agent0']);
    expect(await a.claim({ line: 'L', callSid: 'A2', candidates: agents, strategy: 'linear' })).toEqual(['agent1']);
    await a.connected('agent1', 'A2');
    await sleep(2 * leaseMs); // renewed meanwhile: still held
    expect(await stateOf(b, 'agent0')).toBe('ringing');
    expect(await stateOf(b, 'agent1')).toBe('on-call');
    let heard = 0;
    b.onChange(() => heard++);
    await a.close(); // as in a crash: no release, no more heartbeats
    const t0 = performance.now();
    await until(() => heard > 0 && stateOf(b, 'agent1').then((s) => s === 'available'), leaseMs + 500);
    expect(performance.now() - t0).toBeLessThan(leaseMs + 100);
    expect((await b.queue('L')).map((w) => w.callSid)).toEqual(['B1']);
    expect(await stateOf(b, 'agent0')).toBe('available');
    expect(await b.claim({ line: 'L', callSid: 'B1', candidates: agents, strategy: 'linear' })).toEqual(['agent0']);
  });

  it('the other instance hears of a release at once, and of a wrap-up end within a second, even when the releasing instance is gone', async () => {
    const pool = 'hear';
    const a = make({ pool });
    const b = make({ pool });
    await ready(a, b);
    await a.setRoster(['x']);
    await a.enqueue({ line: 'L', callSid: 'A' });
    await b.enqueue({ line: 'L', callSid: 'B' });
    await a.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'linear' });
    await a.leave('L', 'A');
    await sleep(100);
    let heardAt = 0;
    b.onChange(() => (heardAt ||= performance.now()));
    const t0 = performance.now();
    await a.release('x', 'A', { wrapUpMs: 0, answered: false });
    await until(() => heardAt > 0, 1000);
    expect(heardAt - t0).toBeLessThan(1000);
    expect(await b.claim({ line: 'L', callSid: 'B', candidates: ['x'], strategy: 'linear' })).toEqual(['x']);
    await b.connected('x', 'B');
    await b.leave('L', 'B');
    await a.enqueue({ line: 'L', callSid: 'C' });
    await sleep(100);
    heardAt = 0;
    const aHeard: number[] = [];
    a.onChange(() => aHeard.push(performance.now()));
    const t1 = performance.now();
    await b.release('x', 'B', { wrapUpMs: 400, answered: true });
    await b.close(); // nobody is left to publish the wrap-up end but `a`'s own timer
    await until(() => aHeard.some((t) => t > t1 + 390), 1500);
    expect(aHeard.find((t) => t > t1 + 390)! - (t1 + 400)).toBeLessThan(1000);
    expect(await a.claim({ line: 'L', callSid: 'C', candidates: ['x'], strategy: 'linear' })).toEqual(['x']);
  });

  it('a caller who leaves while its enqueue is on its way stays out (the heartbeat does not bring it back)', async () => {
    const a = make({ heartbeatMs: 50 });
    await ready(a);
    await Promise.all([a.enqueue({ line: 'L', callSid: 'A' }), a.leave('L', 'A')]);
    await sleep(200);
    expect(await a.queue('L')).toEqual([]);
  });

  it('Redis gone: methods reject at once with PresenceUnavailableError; back: callers and roster are restored', async () => {
    const own = await startRedis();
    try {
      const a = new RedisPresence({ url: own.url, log: silentLog, leaseMs: 900 });
      open.push(a);
      await ready(a);
      await a.setRoster(['x', 'y']);
      const w = await a.enqueue({ line: 'L', callSid: 'A' });
      await a.enqueue({ line: 'L', callSid: 'B' });
      await own.kill();
      const t0 = performance.now();
      await expect(a.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'linear' })).rejects.toBeInstanceOf(PresenceUnavailableError);
      expect(performance.now() - t0).toBeLessThan(600);
      let heard = 0;
      a.onChange(() => heard++);
      await own.restart(); // empty: no persistence
      await until(async () => (await a.queue('L').catch(() => [])).length === 2, 5000);
      expect(heard).toBeGreaterThan(0);
      const q = await a.queue('L');
      expect(q.map((x) => x.callSid)).toEqual(['A', 'B']);
      expect(q[0]!.enqueuedAt).toBe(w.enqueuedAt);
      expect((await a.snapshot()).map((s) => s.id).sort()).toEqual(['x', 'y']);
      expect(await a.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'linear' })).toEqual(['x']);
    } finally {
      await Promise.all(open.splice(0).map((p) => p.close()));
      await own.stop();
    }
  });
});
