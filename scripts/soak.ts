/**
 * Soak test (not part of npm test): N simulated calls for M minutes against the built bridge,
 * run as its own process, converting on a local fake ElevenLabs server (loopback only).
 *
 *   npm run build && npm run soak -- --calls 100 --minutes 5 [--clip jfk] [--fault-rate 0.1]
 *
 * Reports failed calls, leaked frames (must be 0), latency p50/p95/p99 (end of speech -> first
 * masked audio heard), the bridge's RSS at start and end, and its event-loop delay p99 (both
 * read from the bridge's own /metrics).
 */
import { parseArgs } from 'node:util';
import { loopDelayMs, scrape, startBridgeProcess } from './lib/bridge-process.js';
import { simulateCall, findLeakedFrames, percentile } from '../tools/sim/index.js';
import { startFakeElevenLabs } from '../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw, CLIPS } from '../tools/clips.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '100' },
    minutes: { type: 'string', default: '5' },
    clip: { type: 'string', default: 'jfk' },
    'fault-rate': { type: 'string', default: '0' },
    'ramp-ms': { type: 'string', default: '50' },
  },
});
const CALLS = Number(args.calls);
const MINUTES = Number(args.minutes);
const FAULT_RATE = Number(args['fault-rate']);
if (!Number.isInteger(CALLS) || CALLS < 1) throw new Error('--calls must be a positive integer');
if (!(MINUTES > 0)) throw new Error('--minutes must be positive');
if (!CLIPS[args.clip!]) throw new Error(`--clip must be one of ${Object.keys(CLIPS).join(', ')}`);





/** p50/p95/p99 of a Prometheus histogram (upper bucket bounds: "<= x"), from one scrape. */
function histQuantiles(m: Map<string, number>, name: string): string {
  const buckets = [...m.entries()]
    .filter(([k]) => k.startsWith(`${name}_bucket{le=`))
    .map(([k, v]) => [k.includes('+Inf') ? Infinity : Number(/le="([^"]+)"/.exec(k)![1]), v] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (!total) return 'n/a';
  const q = (p: number) => {
    const le = buckets.find(([, c]) => c >= p * total)![0];
    return le === Infinity ? '> max bucket' : `<= ${Math.round(le * 1000)} ms`;
  };
  return `${q(0.5)} / ${q(0.95)} / ${q(0.99)}`;
}

async function main() {
  const fake = await startFakeElevenLabs({ apiKey: 'soak-key' });
  let n = 0;
  fake.setFaults(() => {
    n++;
    if (FAULT_RATE <= 0 || Math.random() >= FAULT_RATE) return undefined;
    const kinds = [{ type: 'status', status: 500 }, { type: 'rate-limit', code: 'system_busy', retryAfterS: 0 }, { type: 'reset-mid-stream', afterBytes: 400 }] as const;
    return kinds[n % kinds.length];
  });
  const bridge = await startBridgeProcess({
    ELEVENLABS_API_KEY: 'soak-key',
    ELEVENLABS_BASE_URL: fake.baseUrl,
    ELEVENLABS_MAX_CONCURRENCY: '15',
    MAX_CALLS: String(CALLS * 2),
  });
  const url = bridge.url;

  const audio = loadClipMulaw(args.clip!);
  const rssStart = (await scrape(url)).get('process_resident_memory_bytes');
  const deadline = Date.now() + MINUTES * 60_000;
  const latencies: number[] = [];
  let calls = 0;
  let failed = 0;
  let leaked = 0;
  let missed = 0;
  let protocolErrors = 0;
  const errors = new Map<string, number>();

  async function worker(i: number) {
    await new Promise((r) => setTimeout(r, i * Number(args['ramp-ms'])));
    while (Date.now() < deadline) {
      try {
        const r = await simulateCall({ url, audio, realtime: true, tailMs: 4000, endWhenIdleMs: 1500 });
        calls++;
        leaked += findLeakedFrames(r.sentFrames, r.receivedAudio);
        protocolErrors += r.protocolErrors.length;
        for (const e of r.protocolErrors) errors.set(`protocol: ${e.slice(0, 70)}`, (errors.get(`protocol: ${e.slice(0, 70)}`) ?? 0) + 1);
        for (const p of r.phrases) {
          if (p.latencyMs === undefined) missed++;
          else latencies.push(p.latencyMs);
        }
        if (r.closedBy === 'bridge') {
          failed++;
          errors.set(`closed by bridge ${r.closeCode}`, (errors.get(`closed by bridge ${r.closeCode}`) ?? 0) + 1);
        }
      } catch (err) {
        calls++;
        failed++;
        const k = (err as Error).message.slice(0, 80);
        errors.set(k, (errors.get(k) ?? 0) + 1);
      }
    }
  }

  // RSS once the load is steady (half way in): growth from there to the end is the leak signal.
  let rssWarm: number | undefined;
  const warmTimer = setTimeout(async () => {
    rssWarm = (await scrape(url)).get('process_resident_memory_bytes');
  }, (MINUTES * 60_000) / 2);
  let fakeRequests = 0;
  let fakeMaxInFlight = 0;
  const progress = setInterval(() => {
    // The fake keeps every request it saw (audio included); it shares this process, not the bridge's.
    fakeRequests += fake.requests.length;
    fakeMaxInFlight = Math.max(fakeMaxInFlight, fake.maxInFlight);
    fake.reset();
    const line = `${Math.round((deadline - Date.now()) / 1000)} s left, ${calls} calls done, ${failed} failed, ${leaked} leaked frames`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
    else if (Math.round((deadline - Date.now()) / 1000) % 30 === 0) process.stderr.write(`${line}\n`);
  }, 1000);
  await Promise.all(Array.from({ length: CALLS }, (_, i) => worker(i)));
  clearInterval(progress);
  clearTimeout(warmTimer);
  process.stderr.write('\n');

  const end = await scrape(url);
  const rssEnd = end.get('process_resident_memory_bytes');
  const lagP99 = loopDelayMs(end);
  const lagRawMs = (end.get('nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000;
  latencies.sort((a, b) => a - b);
  bridge.stop();
  await fake.close();

  const mb = (b?: number) => (b === undefined ? 'n/a' : `${(b / 1048576).toFixed(1)} MB`);
  const growth = rssWarm && rssEnd ? (((rssEnd - rssWarm) / rssWarm) * 100).toFixed(1) + '%' : 'n/a';
  console.log(`\nsoak: ${CALLS} concurrent calls for ${MINUTES} min, clip ${args.clip}, fault rate ${FAULT_RATE}`);
  console.log(`calls completed      ${calls}`);
  console.log(`failed calls         ${failed}`);
  console.log(`leaked frames        ${leaked}   (must be 0)`);
  console.log(`protocol errors      ${protocolErrors}   (must be 0: messages Twilio would reject)`);
  console.log(`phrases answered     ${latencies.length} (missed ${missed})`);
  console.log(`first audio p50/p95/p99 ${histQuantiles(end, 'voicemask_first_audio_seconds')}   (bridge: end of phrase -> first converted byte)`);
  console.log(`heard p50/p95/p99    ${percentile(latencies, 0.5)?.toFixed(0)} / ${percentile(latencies, 0.95)?.toFixed(0)} / ${percentile(latencies, 0.99)?.toFixed(0)} ms   (simulator: speaker stops -> masked audio received after that heard; an answer still playing from the previous phrase does not count)`);
  console.log(`bridge RSS           idle ${mb(rssStart)}, under load ${mb(rssWarm)} at ${(MINUTES / 2).toFixed(1)} min -> ${mb(rssEnd)} at the end (${growth} under load)`);
  console.log(`event-loop delay p99 ${lagRawMs.toFixed(1)} ms as sampled every 10 ms, i.e. ${lagP99.toFixed(1)} ms of real delay`);
  console.log(`fake requests        ${fakeRequests + fake.requests.length}, max in flight ${Math.max(fakeMaxInFlight, fake.maxInFlight)}`);
  for (const [k, v] of errors) console.log(`  ${v} x ${k}`);
  process.exit(leaked === 0 && protocolErrors === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`soak failed: ${(err as Error).message}`);
  process.exit(1);
});
