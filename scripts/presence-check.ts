/**
 * npx tsx scripts/presence-check.ts [--rounds 500]
 *
 * The fleet presence store (src/fleet/presence-redis.ts) measured on a real redis-server on a
 * free loopback port, with two instances A and B in one pool and 20 agents:
 *   - claim() latency, one at a time, with 200 callers waiting in the line;
 *   - claim() latency when 200 claims are made at once from both instances;
 *   - dispatch after a release: A releases an agent, B (dispatching on onChange) has it ringing
 *     for its waiting caller: the time from A's release() to B's claim() answer;
 *   - dispatch after a wrap-up end, A gone meanwhile: from the wrap-up's end to B's claim().
 * Prints p50 / p99 / max in milliseconds.
 */
import { parseArgs } from 'node:util';
import { RedisPresence } from '../src/fleet/presence-redis.js';
import { pino } from 'pino';

const silentLog = pino({ level: 'silent' });
import { redisBinary, startRedis } from '../tools/redis-server.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '500' } } });
const rounds = Number(values.rounds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!redisBinary()) process.exit(1);
const redis = await startRedis();
const agents = Array.from({ length: 20 }, (_, i) => `agent${i}`);
const stores: RedisPresence[] = [];
const store = (pool: string) => {
  const p = new RedisPresence({ url: redis.url, pool, log: silentLog, timeoutMs: 5000 });
  stores.push(p);
  return p;
};

function report(name: string, ms: number[]): void {
  const s = [...ms].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))]!.toFixed(2);
  console.log(`${name.padEnd(52)} n=${String(s.length).padStart(4)}  p50 ${q(0.5)}  p99 ${q(0.99)}  max ${s[s.length - 1]!.toFixed(2)}`);
}

try {
  // one at a time, 200 callers waiting behind
  {
    const a = store('seq');
    await a.setRoster(agents);
    for (let i = 0; i < 200; i++) await a.enqueue({ line: 'L', callSid: `W${i}` });
    const head = 'W0';
    const ms: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const [id] = await a.claim({ line: 'L', callSid: head, candidates: agents, strategy: 'longest-idle' });
      ms.push(performance.now() - t0);
      await a.release(id!, head, { wrapUpMs: 0, answered: true });
    }
    report('claim, one at a time (200 waiting)', ms);
  }
  // 200 at once from two instances
  {
    const a = store('storm');
    const b = store('storm');
    await a.setRoster(agents);
    const ms: number[] = [];
    for (let r = 0; r < Math.max(1, Math.floor(rounds / 100)); r++) {
      for (let i = 0; i < 200; i++) await (i % 2 ? b : a).enqueue({ line: 'L', callSid: `S${r}-${i}` });
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const t0 = performance.now();
          await (i % 2 ? b : a).claim({ line: 'L', callSid: `S${r}-${i}`, candidates: agents, strategy: 'linear' });
          ms.push(performance.now() - t0);
        }),
      );
      for (const s of await a.snapshot()) if (s.callSid) await a.release(s.id, s.callSid, { wrapUpMs: 0, answered: false });
      for (let i = 0; i < 200; i++) await a.leave('L', `S${r}-${i}`);
    }
    report('claim, 200 at once from 2 instances', ms);
  }
  // dispatch across instances: after a release, after a wrap-up end
  for (const wrapUpMs of [0, 300]) {
    const ms: number[] = [];
    const n = wrapUpMs ? 10 : 50;
    for (let i = 0; i < n; i++) {
      const pool = `hear-${wrapUpMs}-${i}`;
      const a = store(pool);
      const b = store(pool);
      await a.setRoster(['x']);
      await a.enqueue({ line: 'L', callSid: 'A' });
      await a.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'linear' });
      await a.leave('L', 'A');
      await b.enqueue({ line: 'L', callSid: 'B' });
      const got = new Promise<number>((resolve) => {
        const off = b.onChange(() => {
          void b.claim({ line: 'L', callSid: 'B', candidates: ['x'], strategy: 'linear' }).then((ids) => {
            if (ids.length) {
              off();
              resolve(performance.now());
            }
          });
        });
      });
      await sleep(20);
      const t0 = performance.now();
      await a.release('x', 'A', { wrapUpMs, answered: true });
      if (wrapUpMs) await a.close();
      ms.push((await got) - t0 - wrapUpMs);
    }
    report(wrapUpMs ? `dispatch on B after a ${wrapUpMs} ms wrap-up ends (A gone)` : 'dispatch on B after a release on A', ms);
  }
} finally {
  await Promise.all(stores.map((s) => s.close()));
  await redis.stop();
}
