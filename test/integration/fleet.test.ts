/**
 * A fleet on one ElevenLabs account: bridge instances on loopback, a real
 * redis-server, and one fake account that refuses with 429 too_many_concurrent_requests above
 * its limit. With REDIS_URL the fleet never goes over the account's limit; without it (the
 * baseline) it does. Redis killed mid-call: each instance falls back to its share. An instance
 * SIGKILLed while holding slots: its leases expire and the others use the slots.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeakedFrames, simulateCall, type SimulatedCallResult } from '../../tools/sim/index.js';
import { ROOT, scrape, startBridgeProcess } from '../../scripts/lib/bridge-process.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { redisBinary, startRedis, type RedisServer } from '../../tools/redis-server.js';
import { startBridge, type Bridge } from '../helpers/harness.js';

const have = redisBinary() !== undefined;
const LIMIT = 4;
const CLIPS = ['p240', 'libri3575', 'libri6829', 'libri8230', 'p260', 'thorsten', 'axb', 'libri3575'];
const nonSilent = (a: Uint8Array) => a.filter((x) => x !== 0xff && x !== 0x7f).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One ElevenLabs account limited to LIMIT requests at once; each conversion holds its slot `holdMs`. */
const startAccount = (holdMs: number) => startFakeElevenLabs({ apiKey: 'fleet-key', concurrencyLimit: LIMIT, holdMs });

function bridgeEnv(fake: FakeElevenLabs, redisUrl?: string): Record<string, string> {
  return {
    CONVERTER: 'elevenlabs',
    ELEVENLABS_API_KEY: 'fleet-key',
    ELEVENLABS_BASE_URL: fake.baseUrl,
    ELEVENLABS_MAX_CONCURRENCY: String(LIMIT),
    ELEVENLABS_MAX_LAG_MS: '30000',
    ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '5000',
    FALLBACK: 'silence',
    PLAYOUT_CLEAR_BACKLOG_MS: '0',
    LOG_LEVEL: 'info',
    ...(redisUrl && { REDIS_URL: redisUrl, REDIS_TIMEOUT_MS: '200' }),
  };
}

/** n calls spread over the bridges, every phrase sent at once (realtime: false). */
function calls(urls: string[], n: number): Promise<SimulatedCallResult[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => simulateCall({ url: urls[i % urls.length]!, audio: loadClipMulaw(CLIPS[i % CLIPS.length]!), realtime: false, tailMs: 30_000, endWhenIdleMs: 7000 })),
  );
}

const metric = (m: Map<string, number>, prefix: string) => [...m].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);

describe.skipIf(!have)('a fleet sharing one ElevenLabs account (real redis-server)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    // the SIGKILL test runs the built server as its own process
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'pipe' });
  }, 120_000);
  afterAll(() => redis?.stop());

  it('two instances, limit 4, 16 calls: over the limit without Redis (baseline), never with it; every call converted, nothing leaked', async () => {
    const figures: Record<string, unknown> = {};
    for (const mode of ['baseline', 'redis'] as const) {
      const fake = await startAccount(500);
      const bridges: Bridge[] = [];
      try {
        for (let i = 0; i < 2; i++) bridges.push(await startBridge(bridgeEnv(fake, mode === 'redis' ? `${redis.url}/1` : undefined)));
        if (mode === 'redis') await sleep(1200); // both have announced themselves
        const before = await scrape(bridges[0]!.url);
        const results = await calls(
          bridges.map((b) => b.url),
          16,
        );
        const after = await scrape(bridges[0]!.url);
        const dropped = metric(after, 'voicemask_conversion_dropped_total') - metric(before, 'voicemask_conversion_dropped_total');
        figures[mode] = { refused: fake.refused, peak: fake.maxInFlight, peakServed: fake.maxServed, converted: fake.converted, dropped, quietCalls: results.filter((r) => nonSilent(r.receivedAudio) <= 4000).length };
        for (const r of results) expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
        if (mode === 'baseline') {
          expect(fake.maxInFlight).toBeGreaterThan(LIMIT);
          expect(fake.refused).toBeGreaterThan(0);
          continue;
        }
        expect(fake.refused).toBe(0);
        expect(fake.maxInFlight).toBeLessThanOrEqual(LIMIT);
        expect(fake.maxInFlight).toBe(LIMIT); // and the fleet used the whole limit
        expect(dropped).toBe(0);
        for (const r of results) expect(nonSilent(r.receivedAudio)).toBeGreaterThan(4000); // every call heard its phrases masked
        expect(fake.converted).toBeGreaterThanOrEqual(16);
      } finally {
        await Promise.all(bridges.map((b) => b.close()));
        await fake.close();
      }
    }
    console.log(`fleet, 2 instances × 8 calls, account limit ${LIMIT}: ${JSON.stringify(figures)}`);
  }, 150_000);

  // When Redis dies, an instance may hold more slots than its share (granted by the pool before):
  // until those end, the fleet can go over the account's limit by at most limit - share, and
  // ElevenLabs refuses those requests with a concurrency 429, which requeues the phrase (it is
  // still converted) and never opens the circuit.
  it('Redis killed mid-call: each instance keeps converting on its share (2 of 4), logged and counted; every phrase converted', async () => {
    const fake = await startAccount(500);
    const bridges: Bridge[] = [];
    try {
      for (let i = 0; i < 2; i++) bridges.push(await startBridge(bridgeEnv(fake, `${redis.url}/2`)));
      await sleep(1200);
      const before = await scrape(bridges[0]!.url);
      const running = calls(
        bridges.map((b) => b.url),
        12,
      );
      for (let i = 0; i < 200 && fake.converted < 2; i++) await sleep(20);
      const killedAt = fake.converted;
      await redis.kill();
      const results = await running;
      await redis.restart();
      const after = await scrape(bridges[0]!.url);
      console.log(`Redis killed after ${killedAt} conversions: refused ${fake.refused}, peak ${fake.maxInFlight} (served ${fake.maxServed}), converted ${fake.converted}`);
      expect(fake.converted).toBeGreaterThan(killedAt + 4); // conversions went on without Redis
      expect(fake.refused).toBeLessThanOrEqual(LIMIT - 2);
      expect(fake.maxServed).toBeLessThanOrEqual(LIMIT);
      expect(metric(after, 'voicemask_conversion_dropped_total') - metric(before, 'voicemask_conversion_dropped_total')).toBe(0);
      expect(bridges.every((b) => !b.logs.some((l) => /circuit opened/.test(String(l.msg))))).toBe(true);
      for (const r of results) {
        expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
        expect(nonSilent(r.receivedAudio)).toBeGreaterThan(4000);
      }
      expect(metric(after, 'voicemask_limiter_fallback_total') - metric(before, 'voicemask_limiter_fallback_total')).toBeGreaterThan(0);
      expect(bridges.every((b) => b.logs.some((l) => /Redis unreachable or slow, using this instance's share \(2 of 4\)/.test(String(l.msg))))).toBe(true);
    } finally {
      await Promise.all(bridges.map((b) => b.close()));
      await fake.close();
    }
  }, 120_000);

  it('an instance SIGKILLed while holding every slot: its leases expire and the other instance uses the slots within 10 s', async () => {
    const fake = await startAccount(8000);
    const env = bridgeEnv(fake, `${redis.url}/3`);
    const doomed = await startBridgeProcess({ ...env, LOG_LEVEL: 'warn' });
    const survivor = await startBridge(env);
    try {
      await sleep(1200);
      // the doomed instance takes the four slots (long answers), then the survivor's calls queue
      const lost = calls([doomed.url], 4).catch(() => []);
      for (let i = 0; i < 300 && fake.inFlight < LIMIT; i++) await sleep(20);
      expect(fake.inFlight).toBe(LIMIT);
      const served = fake.served;
      const waiting = calls([survivor.url], 4);
      await sleep(1000);
      expect(fake.served).toBe(served); // the survivor waits: the pool is full
      const killedAt = performance.now();
      doomed.child.kill('SIGKILL');
      for (let i = 0; i < 750 && fake.served < served + LIMIT; i++) await sleep(20);
      const backMs = Math.round(performance.now() - killedAt);
      console.log(`slots of the killed instance back in use after ${backMs} ms (REDIS_LEASE_MS 3000); refused ${fake.refused}`);
      expect(fake.served).toBe(served + LIMIT); // all four slots in use by the survivor
      expect(backMs).toBeLessThan(10_000);
      // not before the leases could expire (renewed at most REDIS_LEASE_MS / 3 before the kill)
      expect(backMs).toBeGreaterThan(1500);
      expect(fake.refused).toBe(0);
      const results = await waiting;
      for (const r of results) expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      await lost;
    } finally {
      doomed.stop();
      await survivor.close();
      await fake.close();
    }
  }, 120_000);
});
