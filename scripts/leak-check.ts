/**
 * Leak check (not part of npm test): rounds of calls through an in-process bridge, with a
 * forced GC after each round; heap and external (ArrayBuffer, WASM) memory must stay flat.
 * RSS alone (as the soak reports) also moves with V8's lazy heap growth; this separates the two.
 *
 *   npm run leak-check [-- --engine local|elevenlabs] [--rounds 6] [--calls 40]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/env.js';
import { startServer } from '../src/compose.js';
import { simulateCall } from '../tools/sim/index.js';
import { startFakeElevenLabs } from '../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../tools/clips.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run leak-check does)');
const { values: args } = parseArgs({
  options: { engine: { type: 'string', default: 'elevenlabs' }, rounds: { type: 'string', default: '6' }, calls: { type: 'string', default: '40' } },
});

const ROUNDS = Number(args.rounds);
const CALLS = Number(args.calls);
// Growth is measured from round 1 (warm) to the last: fewer than 3 rounds measure nothing.
if (!Number.isInteger(ROUNDS) || ROUNDS < 3) throw new Error(`--rounds must be an integer >= 3, got "${args.rounds}"`);
if (!Number.isInteger(CALLS) || CALLS < 1) throw new Error(`--calls must be a positive integer, got "${args.calls}"`);
if (args.engine !== 'local' && args.engine !== 'elevenlabs') throw new Error(`--engine must be local or elevenlabs, got "${args.engine}"`);
const fake = await startFakeElevenLabs({ apiKey: 'leak' });
const env = args.engine === 'local' ? { CONVERTER: 'local' } : { ELEVENLABS_API_KEY: 'leak', ELEVENLABS_BASE_URL: fake.baseUrl, ELEVENLABS_MAX_CONCURRENCY: '50' };
const bridge = await startServer(
  loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', LOCAL_API: 'false', MAX_CALLS: '1000', WS_MAX_MESSAGES_PER_SEC: '10000', ...env }),
);
const audio = loadClipMulaw('libri8230');
const mb = (b: number) => (b / 1048576).toFixed(1).padStart(6);
const samples: Array<{ heap: number; external: number }> = [];
let cutShort = 0;
console.log(`leak check: ${args.engine}, ${args.rounds} rounds of ${args.calls} concurrent calls, forced GC after each\n round  heapUsed MB  external MB  rss MB`);
for (let round = 0; round < ROUNDS; round++) {
  const results = await Promise.all(Array.from({ length: CALLS }, () => simulateCall({ url: bridge.url, audio, realtime: false, fastSpeedup: 20, tailMs: 300 })));
  // Calls the bridge cut short did not exercise the path being measured.
  cutShort += results.filter((r) => r.endedBy === 'bridge-closed').length;
  fake.reset(); // the fake keeps every request it saw; it shares this process
  await new Promise((r) => setTimeout(r, 500));
  gc();
  gc();
  const m = process.memoryUsage();
  samples.push({ heap: m.heapUsed, external: m.external });
  console.log(`${String(round).padStart(6)}  ${mb(m.heapUsed)}       ${mb(m.external)}      ${mb(m.rss)}   active calls ${bridge.calls.activeCalls}`);
}
await bridge.close();
await fake.close();
// Growth from the second round (warm) to the last, per call.
const calls = (samples.length - 2) * CALLS;
const perCall = (k: 'heap' | 'external') => (samples.at(-1)![k] - samples[1]![k]) / calls;
console.log(`\ngrowth per call after warm-up: heap ${(perCall('heap') / 1024).toFixed(2)} KB, external ${(perCall('external') / 1024).toFixed(2)} KB`);
if (cutShort) console.log(`${cutShort} call(s) ended by the bridge before the audio was sent: the figures do not measure whole calls`);
process.exit(cutShort === 0 && Math.abs(perCall('heap')) + Math.abs(perCall('external')) < 2048 ? 0 : 1);
