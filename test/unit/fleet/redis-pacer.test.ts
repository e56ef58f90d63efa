/**
 * The outbound call rate shared through a real redis-server: two instances asking at once get
 * slots one interval apart between them, and without Redis an instance paces alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPacer } from '../../../src/fleet/redis-pacer.js';
import { silentLog } from '../../helpers/phrases.js';
import { redisBinary, startRedis, type RedisServer } from '../../../tools/redis-server.js';

const have = redisBinary() !== undefined;
if (process.env['VOICEMASK_REQUIRE_REDIS'] === '1' && !have) throw new Error('redis-server is required (VOICEMASK_REQUIRE_REDIS=1)');

describe.skipIf(!have)('RedisPacer (real redis-server)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('two instances share one pace: 8 calls at 10 per second take about 0.7 s, spaced 100 ms apart', async () => {
    const a = new RedisPacer({ url: redis.url, perSecond: 10, log: silentLog, key: 'pace-test' });
    const b = new RedisPacer({ url: redis.url, perSecond: 10, log: silentLog, key: 'pace-test' });
    try {
      // Connected first (the first call would otherwise race the connection).
      await Promise.all([a.next(), b.next()]);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      const times = await Promise.all([a, b, a, b, a, b, a, b].map((p) => p.next().then(() => performance.now() - t0)));
      times.sort((x, y) => x - y);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(80);
      expect(times.at(-1)!).toBeGreaterThanOrEqual(650);
      expect(times.at(-1)!).toBeLessThan(2000);
    } finally {
      a.close();
      b.close();
    }
  });

  it('without Redis it paces this instance alone, at the same rate', async () => {
    const p = new RedisPacer({ url: 'redis://127.0.0.1:1', perSecond: 10, log: silentLog, timeoutMs: 100 });
    try {
      const t0 = performance.now();
      await Promise.all([p.next(), p.next(), p.next()]);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(180);
    } finally {
      p.close();
    }
  });
});
