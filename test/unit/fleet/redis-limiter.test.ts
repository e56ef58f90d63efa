/**
 * The fleet semaphore on a real redis-server: one limit across instances, fair across their
 * calls, each instance's share while Redis is gone, and the pool again once it is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisFairLimiter } from '../../../src/fleet/limiter.js';
import type { Release } from '../../../src/voice/resilience/index.js';
import { silentLog } from '../../helpers/phrases.js';
import { redisBinary, startRedis, type RedisServer } from '../../../tools/redis-server.js';

const have = redisBinary() !== undefined;
const never = new AbortController().signal;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!have)('RedisFairLimiter (real redis-server)', () => {
  let redis: RedisServer;
  const open: RedisFairLimiter[] = [];
  let n = 0;
  const make = (limit: number, extra: { leaseMs?: number; pool?: string } = {}) => {
    const l = new RedisFairLimiter({ url: redis.url, limit, pool: extra.pool ?? `t${++n}`, log: silentLog, timeoutMs: 200, ...(extra.leaseMs && { leaseMs: extra.leaseMs }) });
    open.push(l);
    return l;
  };
  const ready = async (...ls: RedisFairLimiter[]) => {
    for (let i = 0; i < 100 && !ls.every((l) => l.redisUp); i++) await tick(20);
    expect(ls.every((l) => l.redisUp)).toBe(true);
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
  });

  it('holds two instances to one limit, and hands freed slots round-robin across both instances’ calls', async () => {
    const pool = 'shared-a';
    const a = make(2, { pool });
    const b = make(2, { pool });
    await ready(a, b);
    const ra1 = await a.acquire('A', never);
    const rb1 = await b.acquire('B', never);
    const order: string[] = [];
    const held: Release[] = [];
    const wait = (l: RedisFairLimiter, k: string, tag: string) =>
      l.acquire(k, never).then((r) => {
        order.push(tag);
        held.push(r);
      });
    // call A (instance a) floods; C (a) and D (b) ask once each, later
    const waits = [wait(a, 'A', 'A1'), wait(a, 'A', 'A2'), wait(a, 'A', 'A3')];
    await tick(30);
    waits.push(wait(b, 'D', 'D1'));
    await tick(30);
    waits.push(wait(a, 'C', 'C1'));
    await tick(30);
    expect(a.inFlight + b.inFlight).toBe(2);
    expect(order).toEqual([]);
    ra1();
    rb1();
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 50 && order.length <= i; j++) await tick(10);
      expect(a.inFlight + b.inFlight).toBeLessThanOrEqual(2);
      held.shift()?.();
    }
    await Promise.all(waits);
    // D and C have never been served: they go before A's second and third phrase
    expect(order.slice(0, 3).sort()).toEqual(['A1', 'C1', 'D1']);
    expect(order.slice(3)).toEqual(['A2', 'A3']);
    held.splice(0).forEach((r) => r());
  });

  it('a waiter leaves the shared queue on abort and on its stale deadline', async () => {
    const a = make(1);
    await ready(a);
    const r = await a.acquire('A', never);
    const ac = new AbortController();
    const aborted = a.acquire('B', ac.signal);
    const stale = a.acquire('C', never, performance.now() + 80, () => new Error('too old'));
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ kind: 'aborted' });
    await expect(stale).rejects.toThrow('too old');
    expect(a.queued).toBe(0);
    r();
    const again = await a.acquire('D', never);
    again();
  });

  it('Redis killed: each instance runs on its share (limit / live instances), then the pool again', async () => {
    const pool = 'shared-b';
    const a = make(4, { pool });
    const b = make(4, { pool });
    await ready(a, b);
    // both have renewed: they know there are two of them
    await tick(1100);
    expect(a.share).toBe(2);
    await redis.kill();
    const got: Release[] = [];
    const t0 = performance.now();
    got.push(await a.acquire('A', never), await a.acquire('B', never));
    expect(performance.now() - t0).toBeLessThan(100); // never blocked on the dead Redis
    let third = false;
    const p = a.acquire('C', never).then((r) => ((third = true), r));
    await tick(50);
    expect(third).toBe(false); // the share is 2
    expect(a.redisUp).toBe(false);
    got.shift()!();
    got.push(await p);
    await redis.restart();
    for (let i = 0; i < 150 && !(a.redisUp && b.redisUp); i++) await tick(20);
    expect(a.redisUp && b.redisUp).toBe(true);
    await tick(1100); // a's share slots are written back as leases
    // the pool counts a's 2 slots: b gets the 2 that are left, not 4
    const fromB = [await b.acquire('D', never), await b.acquire('E', never)];
    let fifth = false;
    const q = b.acquire('F', never).then((r) => ((fifth = true), r));
    await tick(150);
    expect(fifth).toBe(false);
    got.shift()!();
    (await q)();
    [...got, ...fromB].forEach((r) => r());
  });
});
