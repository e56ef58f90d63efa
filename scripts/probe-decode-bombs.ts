/**
 * Attacks on the compatible API of a running bridge, during a live call (not part of npm test):
 *
 *   npx tsx scripts/probe-decode-bombs.ts [--rounds 1] [--no-call]
 *
 * Starts the built bridge (dist/main.js, built first when stale) with LOCAL_API_KEY set, a
 * simulated call in real time through it, and /healthz polled every 20 ms; then sends, four at
 * a time (the API's default concurrency): the decompression bombs of test/helpers/bombs.ts
 * (WebM of laced empty frames, 64-channel Ogg Opus, FLAC bombs, ...); ten chunked forms of a
 * hundred 1 MB fields; four /stream requests whose clients stop reading, with a normal request
 * retried beside them. Prints each attack's answers, /healthz latency p50/p99/max, the
 * bridge's RSS growth (from /proc) and the calls' phrases: how many came back masked, and
 * how late (end of speech to first masked audio heard).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BOMBS } from '../tools/fakes/bombs.js';
import { loadClipMulaw } from '../tools/clips.js';
import { percentile, simulateCall } from '../tools/sim/index.js';
import { ROOT, startBridgeProcess } from './lib/bridge-process.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '1' }, 'no-call': { type: 'boolean', default: false } } });
const ROUNDS = Number(args.rounds);
const KEY = randomBytes(24).toString('hex');
const VOICE = 'neutral-female';
const BOUNDARY = 'probe-7c4e';

const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;

interface Answer {
  status: number;
  text: string;
  ms: number;
}

/** A multipart POST written by hand (chunked unless `length`), answered or failed. */
function post(url: string, pathAndQuery: string, parts: Array<string | Uint8Array>, opts: { chunked?: boolean } = {}): Promise<Answer> {
  const t0 = performance.now();
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return new Promise((resolve) => {
    const u = new URL(pathAndQuery, url);
    const req = http.request(u, {
      method: 'POST',
      headers: { 'xi-api-key': KEY, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...(!opts.chunked && { 'content-length': String(body.length) }) },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.on('data', (c: Buffer) => (text += c.length < 2000 ? c.toString() : ''));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
    });
    req.on('error', (err) => {
      if (!answered) resolve({ status: 0, text: err.message, ms: performance.now() - t0 });
    });
    void (async () => {
      for (let o = 0; o < body.length && !answered && !req.destroyed; o += 1 << 20) {
        if (!req.write(body.subarray(o, o + (1 << 20)))) await new Promise((r) => req.once('drain', r).once('close', r));
      }
      if (!req.destroyed) req.end();
    })();
  });
}

const audioPart = (bytes: Uint8Array) => [`--${BOUNDARY}\r\ncontent-disposition: form-data; name="audio"; filename="upload"\r\n\r\n`, bytes, `\r\n--${BOUNDARY}--\r\n`];
const field = (name: string, value: string) => `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;

/** `seconds` of a 300 Hz tone as 16 kHz mono PCM16 WAV. */
function wav16k(seconds: number): Uint8Array {
  const n = seconds * 16000;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 16000)), 44 + i * 2);
  return b;
}

/** Runs `jobs` with at most `n` at once. */
async function limited<T>(n: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

/** /healthz latencies, ms, as polled; `mark()` gives the worst since the previous mark. */
const health: number[] = [];
let marked = 0;
const mark = () => {
  const worst = Math.max(0, ...health.slice(marked));
  marked = health.length;
  return `, /healthz max ${Math.round(worst)} ms`;
};

const summary = (answers: Answer[]) => {
  const by = new Map<string, number>();
  for (const a of answers) {
    let msg = '';
    try {
      const d = (JSON.parse(a.text) as { detail: unknown }).detail;
      msg = Array.isArray(d) ? String((d[0] as { msg: string }).msg) : String((d as { status: string }).status);
    } catch {
      msg = a.status === 200 ? 'converted' : a.text.slice(0, 60);
    }
    const k = `${a.status} ${msg.slice(0, 90)}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  const ms = answers.map((a) => a.ms);
  return `${[...by].map(([k, n]) => `${n}x ${k}`).join('; ')} (answered in ${Math.round(Math.min(...ms))}-${Math.round(Math.max(...ms))} ms)`;
};

async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const bridge = await startBridgeProcess({ LOCAL_API: 'auto', LOCAL_API_KEY: KEY, CONVERTER: 'local' });
  const pid = bridge.child.pid!;
  try {
    // warm: one conversion, so the baseline holds the engine and a decoding thread
    await post(bridge.url, `/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, audioPart(readFileSync(path.join(ROOT, 'test/fixtures/encoded/jfk_3s.opus'))));
    const rss0 = rssOf(pid);
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        await fetch(`${bridge.url}/healthz`).then((r) => r.arrayBuffer());
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // live calls, one after another, for as long as the attacks last
    const calls = (async () => {
      const out: Array<Awaited<ReturnType<typeof simulateCall>>> = [];
      while (polling && !args['no-call']) out.push(await simulateCall({ url: bridge.url, audio: loadClipMulaw('bush'), realtime: true, tailMs: 2000 }));
      return out;
    })();

    await new Promise((r) => setTimeout(r, 3000)); // a quiet moment first: the call alone
    console.log(`bridge ${bridge.url} (pid ${pid}), RSS after warm-up ${mb(rss0)}; the call alone${mark()}; ${ROUNDS} round(s) of each bomb, 4 at a time`);
    // for comparison: what four honest uploads of 275 s cost (16 kHz mono WAV of a tone)
    const honest = wav16k(275);
    const base = await Promise.all(Array.from({ length: 4 }, () => post(bridge.url, `/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, audioPart(honest))));
    console.log(`  honest 275 s WAV (${honest.length} B): ${summary(base)}${mark()}`);
    for (const [name, make] of Object.entries(BOMBS)) {
      const bomb = make();
      const answers = await limited(4, Array.from({ length: ROUNDS * 4 }, () => () => post(bridge.url, `/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, audioPart(bomb))));
      console.log(`  ${name} (${bomb.length} B): ${summary(answers)}${mark()}`);
    }

    const mbField = field('model_id', 'm'.repeat(1 << 20));
    const fields = await Promise.all(
      Array.from({ length: 10 }, () => post(bridge.url, `/v1/speech-to-speech/${VOICE}`, [...Array.from({ length: 100 }, () => mbField), ...audioPart(new Uint8Array(10))], { chunked: true })),
    );
    console.log(`  10 chunked forms of 100 x 1 MB fields: ${summary(fields)}${mark()}`);

    // four clients that stop reading their /stream answer; a normal request retried beside them
    const pcm = new Uint8Array(90 * 16000 * 2);
    const stalled = Array.from({ length: 4 }, () => {
      const req = http.request(new URL(`/v1/speech-to-speech/${VOICE}/stream?output_format=pcm_48000`, bridge.url), {
        method: 'POST',
        headers: { 'xi-api-key': KEY, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      });
      req.on('response', (res) => res.pause());
      req.on('error', () => undefined);
      req.end(Buffer.concat([Buffer.from(field('file_format', 'pcm_s16le_16')), ...audioPart(pcm).map((p) => (typeof p === 'string' ? Buffer.from(p) : p))]));
      return req;
    });
    const t0 = performance.now();
    const retried: Answer[] = [];
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const a = await post(bridge.url, `/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, [field('file_format', 'pcm_s16le_16'), ...audioPart(new Uint8Array(16000))]);
      retried.push(a);
      if (a.status === 200 || performance.now() - t0 > 60_000) break;
    }
    console.log(`  4 stalled /stream readers: a normal request beside them got ${summary(retried)}; served ${Math.round((performance.now() - t0) / 1000)} s after they stalled${mark()}`);
    for (const s of stalled) s.destroy();

    polling = false;
    const done = await calls;
    await poller;
    clearInterval(sampler);
    const sorted = [...health].sort((a, b) => a - b);
    const ms = (q: number) => percentile(sorted, q)!.toFixed(1);
    console.log(`/healthz (${health.length} polls): p50 ${ms(0.5)} ms, p99 ${ms(0.99)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
    console.log(`RSS: ${mb(rss0)} -> peak ${mb(peak)} (growth ${mb(peak - rss0)})`);
    if (done.length > 0) {
      const phrases = done.flatMap((c) => c.phrases);
      const lat = phrases.flatMap((p) => (p.latencyMs === undefined ? [] : [p.latencyMs])).sort((a, b) => a - b);
      const ended = done.map((c) => `${c.endedBy}/${c.closedBy}`).join(', ');
      console.log(`calls: ${done.length} (${ended}); ${lat.length} of ${phrases.length} phrases heard masked, latency p50 ${Math.round(percentile(lat, 0.5) ?? NaN)} ms, max ${Math.round(lat.at(-1) ?? NaN)} ms`);
    }
  } finally {
    bridge.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
