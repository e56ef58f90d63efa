/**
 * npm run bench:delay — what a listener hears of a long turn in phrase mode.
 *
 * Plays long real-speech turns (the bush, fireside and JFK fixtures) into the whole bridge (a
 * real server on loopback, hotline mode, ElevenLabs phrase mode) from a Twilio-protocol client
 * in real time, against an echoing fake converter with a configurable time to first byte, and
 * reports per run the mouth-to-ear delay of every 20 ms of speech (p50, p95, max), the share of
 * speech never heard, requests per minute of speech and seconds sent / seconds of speech.
 *
 *   npm run bench:delay                       # TTFB 0 and 300 ms, shipped defaults
 *   npm run bench:delay -- --ttfb 300 --env VAD_CHUNK_MIN_MS=0 --env VAD_MAX_PHRASE_MS=10000
 *
 * With --two-party, a contact line instead (scripts/lib/two-party-delay.ts): the agent speaks a
 * long turn through a line bridge (TTFB 2 s by default, so a backlog forms) while the customer
 * stays quiet, backchannels ("mm-hmm") or interrupts; it reports the share of the agent's speech
 * the customer heard (sample for sample, or played faster while catching up), the catch-up time
 * and the extra delay, and exits 1 when a goal is missed.
 *
 *   nice npm run bench:delay -- --two-party [--ttfb 2000] [--jitter 800] [--clip bush] [--scenario interruption]
 */
import { parseArgs } from 'node:util';
import { mulawDecode } from '../src/audio/mulaw.js';
import { loadConfig } from '../src/config/env.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/compose.js';
import { simulateCall } from '../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../tools/clips.js';
import { startFakeElevenLabs } from '../tools/fakes/fake-elevenlabs.js';
import { mouthToEar, percentile } from './lib/mouth-to-ear.js';
import { twoPartyBench } from './lib/two-party-delay.js';

const { values: args } = parseArgs({
  options: {
    ttfb: { type: 'string', multiple: true },
    clip: { type: 'string', multiple: true },
    env: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    'two-party': { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true },
    jitter: { type: 'string' },
  },
});
if (args['two-party']) {
  const ok = await twoPartyBench({ ttfbMs: Number(args.ttfb?.[0] ?? 2000), jitterMs: Number(args.jitter ?? 0), clip: args.clip?.[0] ?? 'bush', env: Object.fromEntries((args.env ?? []).map((kv) => kv.split('=', 2) as [string, string])), json: args.json ?? false, ...(args.scenario && { scenarios: args.scenario }) });
  process.exit(ok ? 0 : 1);
}
const ttfbs = (args.ttfb ?? ['0', '300']).map(Number);
const clips = args.clip ?? ['bush', 'ljspeech', 'jfk'];
const extraEnv = Object.fromEntries((args.env ?? []).map((kv) => kv.split('=', 2) as [string, string]));
for (const t of ttfbs) if (!Number.isFinite(t) || t < 0) throw new Error(`--ttfb: expected a number of ms, got ${t}`);
for (const c of clips) if (!CLIPS[c]) throw new Error(`--clip: unknown clip ${c}; expected one of ${Object.keys(CLIPS).join(', ')}`);

async function run(clip: string, ttfbMs: number) {
  const fake = await startFakeElevenLabs({ answer: 'echo', apiKey: null, firstByteMs: ttfbMs, chunkMs: Infinity });
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ELEVENLABS_API_KEY: 'bench', ELEVENLABS_BASE_URL: fake.baseUrl, FALLBACK: 'silence', ...extraEnv });
  const bridge = await startServer(config, { logger: createLogger('warn') });
  try {
    const audio = loadClipMulaw(clip);
    const r = await simulateCall({ url: bridge.url, audio, realtime: true, tailMs: 8000, endWhenIdleMs: 2500 });
    const rep = mouthToEar(mulawDecode(audio), CLIPS[clip]!.phrases, fake.requests, r.heard);
    return {
      clip,
      ttfbMs,
      speechS: +rep.speechS.toFixed(1),
      p50Ms: Math.round(percentile(rep.delaysMs, 50)),
      p95Ms: Math.round(percentile(rep.delaysMs, 95)),
      maxMs: Math.round(Math.max(...rep.delaysMs)),
      unheardPct: +((100 * (rep.speechFrames - rep.heardFrames)) / rep.speechFrames).toFixed(1),
      requestsPerMin: +(rep.requests / (rep.speechS / 60)).toFixed(1),
      billing: +(rep.sentS / rep.speechS).toFixed(3),
      clears: r.clears.length,
    };
  } finally {
    await bridge.close();
    await fake.close();
  }
}

// One call at a time: the figures are the bridge's, not a loaded machine's.
const rows = [];
for (const t of ttfbs) for (const c of clips) rows.push(await run(c, t));
if (args.json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(`phrase mode, hotline, ${Object.keys(extraEnv).length ? JSON.stringify(extraEnv) : 'shipped defaults'}`);
  console.table(rows);
}
