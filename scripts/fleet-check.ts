/**
 * npm run bench:fleet -- [--instances 3] [--calls 24] [--limit 4] [--hold-ms 500] [--kill-redis] [--fast]
 *
 * A fleet on one ElevenLabs account, measured: N bridge processes (dist/main.js) on loopback,
 * a real redis-server on a free port, one fake account that answers 429
 * too_many_concurrent_requests above its limit (tools/fakes/fake-elevenlabs.ts), and
 * M simulated calls spread over the instances, all at once (callers speaking in real time;
 * --fast sends their audio as fast as possible). Run twice: without Redis
 * (each instance limits only itself, ELEVENLABS_MAX_CONCURRENCY = the account's limit) and
 * with REDIS_URL. Prints, per run: 429s, peak concurrency at the account, conversions, calls
 * that heard their phrases, leaked frames, the wall time. --kill-redis SIGKILLs Redis once
 * the first conversions are done (each instance then runs on its share).
 */
import { parseArgs } from 'node:util';
import { findLeakedFrames, simulateCall } from '../tools/sim/index.js';
import { loadClipMulaw } from '../tools/clips.js';
import { startFakeElevenLabs } from '../tools/fakes/fake-elevenlabs.js';
import { redisBinary, startRedis } from '../tools/redis-server.js';
import { startBridgeProcess, type BridgeProcess } from './lib/bridge-process.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '3' },
    calls: { type: 'string', default: '24' },
    limit: { type: 'string', default: '4' },
    'hold-ms': { type: 'string', default: '500' },
    'kill-redis': { type: 'boolean', default: false },
    /** Send the callers' audio as fast as possible instead of in real time (a heavier load on this machine). */
    fast: { type: 'boolean', default: false },
  },
});
const instances = Number(values.instances);
const callCount = Number(values.calls);
const limit = Number(values.limit);
const holdMs = Number(values['hold-ms']);
const CLIPS = ['p240', 'libri3575', 'libri6829', 'libri8230', 'p260', 'thorsten', 'axb', 'libri3575'];
const nonSilent = (a: Uint8Array) => a.filter((x) => x !== 0xff && x !== 0x7f).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!redisBinary()) {
  console.error('redis-server is required (apt-get install redis-server)');
  process.exit(1);
}
const redis = await startRedis();

async function run(mode: 'no Redis' | 'REDIS_URL'): Promise<Record<string, string | number>> {
  const fake = await startFakeElevenLabs({ apiKey: 'fleet-key', concurrencyLimit: limit, holdMs });
  const bridges: BridgeProcess[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      bridges.push(
        await startBridgeProcess({
          CONVERTER: 'elevenlabs',
          ELEVENLABS_API_KEY: 'fleet-key',
          ELEVENLABS_BASE_URL: fake.baseUrl,
          ELEVENLABS_MAX_CONCURRENCY: String(limit),
          ELEVENLABS_MAX_LAG_MS: '30000',
          ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '5000',
          FALLBACK: 'silence',
          PLAYOUT_CLEAR_BACKLOG_MS: '0',
          LOG_LEVEL: process.env.FLEET_LOG_LEVEL ?? 'error',
          ...(mode === 'REDIS_URL' && { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '200' }),
        }),
      );
    }
    if (mode === 'REDIS_URL') await sleep(1200); // every instance has announced itself
    const t0 = performance.now();
    const results = Promise.all(
      Array.from({ length: callCount }, (_, i) =>
        simulateCall({ url: bridges[i % instances]!.url, audio: loadClipMulaw(CLIPS[i % CLIPS.length]!), realtime: !values.fast, tailMs: 60_000, endWhenIdleMs: 8000 }),
      ),
    );
    if (values['kill-redis'] && mode === 'REDIS_URL') {
      while (fake.converted < limit) await sleep(20);
      await redis.kill();
    }
    const done = await results;
    const wallS = (performance.now() - t0) / 1000 - 8; // minus the idle wait that ends each call
    if (values['kill-redis']) await redis.restart();
    return {
      mode: values['kill-redis'] && mode === 'REDIS_URL' ? 'REDIS_URL, Redis killed' : mode,
      '429s': fake.refused,
      'peak at account': fake.maxInFlight,
      'peak served': fake.maxServed,
      conversions: fake.converted,
      'calls heard': `${done.filter((r) => nonSilent(r.receivedAudio) > 4000).length}/${callCount}`,
      'leaked frames': done.reduce((s, r) => s + findLeakedFrames(r.sentFrames, r.receivedAudio), 0),
      'wall s': Math.round(wallS * 10) / 10,
    };
  } finally {
    for (const b of bridges) b.stop();
    await fake.close();
  }
}

try {
  const rows = [await run('no Redis'), await run('REDIS_URL')];
  console.log(`\n${instances} instances × ${callCount} calls (spread evenly), one account limited to ${limit}, ${holdMs} ms per conversion\n`);
  console.table(rows);
} finally {
  await redis.stop();
}
