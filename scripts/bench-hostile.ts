/**
 * Hostile traffic against a bridge carrying live calls (not part of npm test):
 *
 *   npm run bench:hostile [-- --calls 4 --clip bush --only flood,jumps --with-api --json]
 *
 * The built bridge (dist/, rebuilt when stale) runs as its own process, signed (TWILIO_AUTH_TOKEN,
 * PUBLIC_URL), with the embedded engine. `--calls` simulated calls speak a real clip in real
 * time through it while the attacks run one after another:
 *
 *   jumps      a stream whose media timestamps jump 5 s ahead at every message, and empty payloads
 *   replay     a live call's signed handshake replayed, and the bare path's signature
 *   idle       streams that start and then send no media
 *   repeated   signed webhooks with a second To= appended
 *   slowloris  connections that never finish their headers
 *   flood      unsigned webhooks as fast as 32 clients can send them; signed webhooks beside them
 *   api-*      (--with-api) API upload bombs, a pluggable list (API_BOMBS below)
 *
 * Printed per attack: what the bridge answered and how long it took, /healthz latency (a probe
 * every 50 ms from a worker thread) p50/p99/max, the bridge's own event-loop delay (its
 * /metrics: what the product itself held up, apart from a loaded machine's scheduling), RSS
 * growth, log lines written; then the live calls' coverage (audio
 * heard / audio spoken), leaked frames (caller audio heard verbatim: must be 0) and how they ended.
 * The goal: the process lives, /healthz answers within 250 ms throughout, RSS grows at most
 * 512 MB, every live call is served whole with 0 leaked frames.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { WebSocket } from 'ws';
import { freePort, ROOT, scrape } from './lib/bridge-process.js';
import { findLeakedFrames, percentile, simulateCall, twilioSignature, type SimulatedCallResult } from '../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../tools/clips.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '4' },
    clip: { type: 'string', default: 'bush' },
    only: { type: 'string' },
    'with-api': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const CALLS = Number(args.calls);
if (!Number.isInteger(CALLS) || CALLS < 0) throw new Error(`--calls: expected an integer >= 0, got "${args.calls}"`);
if (!CLIPS[args.clip!]) throw new Error(`--clip: expected one of ${Object.keys(CLIPS).join(', ')}`);

const TOKEN = 'bench-hostile-auth-token-0123456789';
const API_KEY = 'bench-hostile-api-key-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sid = (p: string) => p + Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
const count = (xs: Array<string | number>) => {
  const m = new Map<string, number>();
  for (const x of xs) m.set(String(x), (m.get(String(x)) ?? 0) + 1);
  return [...m].map(([k, v]) => `${v}x ${k}`).join(', ');
};

// ---------------------------------------------------------------- the bridge process

interface Bridge {
  url: string;
  child: ChildProcess;
  logLines(): number;
  rssMb(): number;
  /** CPU time the bridge has used, s (user + system). */
  cpuS(): number;
}

async function startBridge(): Promise<Bridge> {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      TWILIO_AUTH_TOKEN: TOKEN,
      CONVERTER: 'local',
      LOG_LEVEL: 'info',
      LOCAL_API_KEY: API_KEY,
      MAX_CALLS: '200',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lines = 0;
  child.stdout!.on('data', (d: Buffer) => {
    for (const b of d) if (b === 10) lines++;
  });
  for (let i = 0; !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) {
    if (child.exitCode !== null) throw new Error(`bridge exited with ${child.exitCode}`);
    if (i > 200) throw new Error('bridge did not start within 20 s');
    await sleep(100);
  }
  return {
    url,
    child,
    logLines: () => lines,
    cpuS: () => {
      try {
        const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
      } catch {
        return NaN;
      }
    },
    rssMb: () => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN);
        return kb / 1024;
      } catch {
        return NaN;
      }
    },
  };
}

// ---------------------------------------------------------------- probes

/**
 * /healthz every 50 ms from a worker thread (its own event loop, so the attackers and the
 * simulated calls of this process do not delay the probe): each answer's latency, tagged with
 * the attack running when it was sent.
 */
function probeHealth(url: string) {
  const samples: Array<{ attack: string; ms: number; ok: boolean }> = [];
  let attack = 'calls only';
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let stop = false;
     parentPort.on('message', () => (stop = true));
     (async () => {
       while (!stop) {
         const t0 = performance.now();
         let ok = false;
         try {
           const r = await fetch(workerData.url + '/healthz', { signal: AbortSignal.timeout(10000) });
           await r.arrayBuffer();
           ok = r.status === 200;
         } catch {}
         parentPort.postMessage({ ms: performance.now() - t0, ok });
         await new Promise((r) => setTimeout(r, 50));
       }
       parentPort.close();
     })();`,
    { eval: true, workerData: { url } },
  );
  worker.on('message', (m: { ms: number; ok: boolean }) => samples.push({ attack, ...m }));
  const exited = new Promise((r) => worker.once('exit', r));
  return {
    set: (name: string) => (attack = name),
    of: (name?: string) => samples.filter((s) => name === undefined || s.attack === name),
    stop: async () => {
      worker.postMessage('stop');
      await Promise.race([exited, sleep(12_000)]);
    },
  };
}

function rssProbe(b: Bridge) {
  const base = b.rssMb();
  let max = base;
  const t = setInterval(() => (max = Math.max(max, b.rssMb())), 200);
  return {
    base,
    maxGrowth: () => max - base,
    stop: () => clearInterval(t),
  };
}

/** The bridge's own event-loop delay since the last call (prom-client resets it on each scrape), ms. */
async function loopLag(b: Bridge): Promise<{ p99: number; max: number }> {
  try {
    const m = await scrape(b.url);
    return { p99: Math.round((m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000), max: Math.round((m.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000) };
  } catch {
    return { p99: NaN, max: NaN };
  }
}

// ---------------------------------------------------------------- Twilio, signed and not

const signedAgent = new Agent({ keepAliveTimeout: 60_000, connections: 8 });

async function postForm(url: string, body: string, headers: Record<string, string> = {}, dispatcher = signedAgent): Promise<{ status: number | string; text: string }> {
  try {
    const r = await request(url, { method: 'POST', dispatcher, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    return { status: r.statusCode, text: await r.body.text() };
  } catch (err) {
    return { status: `error ${(err as { code?: string }).code ?? (err as Error).message}`, text: '' };
  }
}

/** A voice webhook signed as Twilio signs it: the TwiML's stream URL (bound to `callSid`). */
async function signedWebhook(url: string, callSid: string, extra = ''): Promise<{ status: number | string; streamUrl?: string }> {
  const form = { CallSid: callSid, AccountSid: sid('AC'), From: '+15005550006', To: '+15005550001' };
  const hookUrl = `${url}/twiml/inbound`;
  const r = await postForm(hookUrl, new URLSearchParams(form).toString() + extra, { 'x-twilio-signature': twilioSignature(TOKEN, hookUrl, form) });
  const streamUrl = /<Stream url="([^"]+)"/.exec(r.text)?.[1];
  return { status: r.status, ...(streamUrl && { streamUrl }) };
}

/** Opens a stream URL the way Twilio would (signed handshake): the socket, or the status that refused it. */
function openStream(streamUrl: string, signature = twilioSignature(TOKEN, streamUrl, {})): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(streamUrl, { headers: { 'x-twilio-signature': signature } });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_q, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', () => resolve(-1));
  });
}

function startMessage(ws: WebSocket, callSid: string, streamSid: string): void {
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid,
      start: { accountSid: sid('AC'), streamSid, callSid, tracks: ['inbound'], customParameters: { mode: 'hotline' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
    }),
  );
}

const closed = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));

// ---------------------------------------------------------------- the attacks

interface AttackResult {
  answer: string;
  ms: number;
}
interface Attack {
  name: string;
  what: string;
  run(b: Bridge, live: LiveCalls): Promise<string>;
}

const ATTACKS: Attack[] = [
  {
    name: 'jumps',
    what: 'a signed stream whose media timestamps jump 5 s per message (50 a second), then empty payloads',
    async run(b) {
      const out: string[] = [];
      for (const kind of ['jumps', 'empty'] as const) {
        const callSid = sid('CA');
        const hook = await signedWebhook(b.url, callSid);
        const ws = await openStream(hook.streamUrl!);
        if (typeof ws === 'number') {
          out.push(`${kind}: upgrade ${ws}`);
          continue;
        }
        const streamSid = sid('MZ');
        const end = closed(ws);
        startMessage(ws, callSid, streamSid);
        const t0 = performance.now();
        let sent = 0;
        const payload = Buffer.alloc(160, 0x7f).toString('base64');
        // At Twilio's own pace (50 messages a second, under the message-rate limit) for 3 s.
        for (let burst = 0; burst < 30 && ws.readyState === ws.OPEN; burst++) {
          for (let i = 0; i < 5; i++, sent++) {
            const media = kind === 'jumps' ? { timestamp: String(sent * 5000), payload } : { timestamp: String(sent * 5000), payload: '' };
            ws.send(JSON.stringify({ event: 'media', sequenceNumber: String(sent + 2), streamSid, media }));
          }
          await sleep(100);
        }
        const r = await Promise.race([end, sleep(10_000).then(() => ({ code: 0, reason: 'still open after 10 s' }))]);
        out.push(`${kind}: ${sent} messages (${Math.round(sent * 5)} s claimed), closed ${r.code} "${r.reason}" after ${Math.round(performance.now() - t0)} ms`);
        ws.terminate();
      }
      return out.join('; ');
    },
  },
  {
    name: 'replay',
    what: "a live call's signed handshake replayed 200 times, and the bare path signed",
    async run(b, live) {
      const captured = live.captured[0];
      const statuses: Array<number | string> = [];
      if (captured) {
        const opened = await Promise.all(Array.from({ length: 200 }, () => openStream(captured.url, captured.signature)));
        for (const o of opened) {
          statuses.push(typeof o === 'number' ? o : 101);
          if (typeof o !== 'number') o.terminate();
        }
      }
      const bare = `${b.url.replace(/^http/, 'ws')}/media`;
      const bareStatuses: Array<number | string> = [];
      for (let i = 0; i < 50; i++) {
        const o = await openStream(bare);
        bareStatuses.push(typeof o === 'number' ? o : 101);
        if (typeof o !== 'number') o.terminate();
      }
      return `replayed live handshake: ${captured ? count(statuses) : 'no live call captured'}; bare /media signed: ${count(bareStatuses)}`;
    },
  },
  {
    name: 'idle',
    what: '20 signed streams that start and send no media',
    async run(b) {
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const callSid = sid('CA');
          const hook = await signedWebhook(b.url, callSid);
          const ws = await openStream(hook.streamUrl!);
          if (typeof ws === 'number') return `upgrade ${ws}`;
          const end = closed(ws);
          startMessage(ws, callSid, sid('MZ'));
          const r = await Promise.race([end, sleep(15_000).then(() => ({ code: 0, reason: 'open after 15 s' }))]);
          ws.terminate();
          return `${r.code} ${r.reason} at ${(Math.round((performance.now() - t0) / 500) / 2).toFixed(1)} s`;
        }),
      );
      return count(results);
    },
  },
  {
    name: 'repeated',
    what: 'signed webhooks with a second To= appended (100)',
    async run(b) {
      const statuses: Array<number | string> = [];
      for (let i = 0; i < 100; i++) statuses.push((await signedWebhook(b.url, sid('CA'), '&To=x')).status);
      return count(statuses);
    },
  },
  {
    name: 'slowloris',
    what: '300 connections that never finish their headers',
    async run(b) {
      const { port } = new URL(b.url);
      const t0 = performance.now();
      const ends = await Promise.all(
        Array.from(
          { length: 300 },
          () =>
            new Promise<string>((resolve) => {
              let first = '';
              const s = net.connect(Number(port), '127.0.0.1', () => s.write('POST /twiml/inbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'));
              s.on('data', (d) => (first ||= String(d).split('\r\n')[0]!));
              s.on('error', () => {});
              s.on('close', () => resolve(`${first || 'closed'} by ${Math.ceil((performance.now() - t0) / 1000)} s`));
              setTimeout(() => s.destroy(), 20_000);
            }),
        ),
      );
      return count(ends);
    },
  },
  {
    name: 'flood',
    what: 'unsigned webhooks from 32 clients for 5 s, signed webhooks beside them',
    async run(b) {
      const agent = new Agent({ connections: 32, keepAliveTimeout: 60_000 });
      const statuses: Array<number | string> = [];
      const signed: Array<number | string> = [];
      const until = Date.now() + 5000;
      const worker = async () => {
        while (Date.now() < until) statuses.push((await postForm(`${b.url}/twiml/inbound`, `CallSid=${sid('CA')}&From=%2B15005550006`, {}, agent)).status);
      };
      const twilio = async () => {
        while (Date.now() < until) {
          signed.push((await signedWebhook(b.url, sid('CA'))).status);
          await sleep(250);
        }
      };
      await Promise.all([...Array.from({ length: 32 }, worker), twilio()]);
      await agent.close();
      return `unsigned: ${statuses.length} (${Math.round(statuses.length / 5)}/s): ${count(statuses)}; signed beside them: ${count(signed)}`;
    },
  },
];

/** API upload bombs: a pluggable list (the API's own limits live in src/api/). */
const API_BOMBS: Attack[] = [
  {
    name: 'api-unauthenticated-upload',
    what: '20 uploads of 8 MB with a wrong key',
    async run(b) {
      const body = Buffer.alloc(8 * 1024 * 1024, 0x55);
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () =>
          request(`${b.url}/v1/speech-to-speech/neutral-male`, { method: 'POST', headers: { 'xi-api-key': 'wrong', 'content-type': 'application/octet-stream' }, body }).then(
            async (r) => (await r.body.text(), r.statusCode),
            (e: Error) => `error ${(e as { code?: string }).code ?? e.message}`,
          ),
        ),
      );
      return count(statuses);
    },
  },
  {
    name: 'api-zero-wav',
    what: '4 keyed uploads of a WAV header claiming an hour of audio',
    async run(b) {
      const hdr = Buffer.alloc(44);
      hdr.write('RIFF', 0);
      hdr.writeUInt32LE(0xffffffff, 4);
      hdr.write('WAVEfmt ', 8);
      hdr.writeUInt32LE(16, 16);
      hdr.writeUInt16LE(1, 20);
      hdr.writeUInt16LE(1, 22);
      hdr.writeUInt32LE(8000, 24);
      hdr.writeUInt32LE(16000, 28);
      hdr.writeUInt16LE(2, 32);
      hdr.writeUInt16LE(16, 34);
      hdr.write('data', 36);
      hdr.writeUInt32LE(8000 * 2 * 3600, 40);
      const form = new FormData();
      form.set('audio', new Blob([hdr, Buffer.alloc(64 * 1024)]), 'bomb.wav');
      const statuses = await Promise.all(
        Array.from({ length: 4 }, () =>
          fetch(`${b.url}/v1/speech-to-speech/neutral-male`, { method: 'POST', headers: { 'xi-api-key': API_KEY }, body: form }).then(
            async (r) => (await r.arrayBuffer(), r.status),
            (e: Error) => `error ${e.message}`,
          ),
        ),
      );
      return count(statuses);
    },
  },
];

// ---------------------------------------------------------------- the live calls

interface LiveCalls {
  results: Promise<SimulatedCallResult[]>;
  /** Signed handshakes of live calls, as captured on the wire (what a replay would send). */
  captured: Array<{ url: string; signature: string }>;
}

function placeCalls(b: Bridge, audio: Uint8Array): LiveCalls {
  const captured: LiveCalls['captured'] = [];
  const results = Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      sleep(i * 300).then(() =>
        simulateCall({
          url: b.url,
          authToken: TOKEN,
          audio,
          realtime: true,
          tailMs: 2000,
          onProgress: (e) => {
            if (e.type === 'webhook') captured.push({ url: e.streamUrl, signature: twilioSignature(TOKEN, e.streamUrl, {}) });
          },
        }),
      ),
    ),
  );
  return { results, captured };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const audio = loadClipMulaw(args.clip!);
  const chosen = [...ATTACKS, ...(args['with-api'] ? API_BOMBS : [])].filter((a) => !args.only || args.only.split(',').includes(a.name));
  const b = await startBridge();
  const health = probeHealth(b.url);
  const rss = rssProbe(b);
  const report: Array<{ attack: string; what: string } & AttackResult & { healthz: string; loopLagMs: { p99: number; max: number }; cpuS: number; rssGrowthMb: number; logLines: number }> = [];
  const healthOf = (name?: string) => {
    const ms = health.of(name).map((s) => s.ms).sort((x, y) => x - y);
    const failed = health.of(name).filter((s) => !s.ok).length;
    return ms.length ? `p50 ${percentile(ms, 0.5)!.toFixed(1)} / p99 ${percentile(ms, 0.99)!.toFixed(1)} / max ${ms.at(-1)!.toFixed(1)} ms${failed ? `, ${failed} failed` : ''}` : 'n/a';
  };
  try {
    const live = placeCalls(b, audio);
    await sleep(3000); // the calls are up and speaking
    if (!args.json) console.log(`bench:hostile: ${CALLS} live call(s) of ${args.clip} (${(audio.length / 8000).toFixed(1)} s, real time) on ${b.url}; RSS ${rss.base.toFixed(0)} MB\n`);
    const baseline: Attack = { name: 'baseline', what: 'the live calls alone, 5 s', run: () => sleep(5000).then(() => 'nothing sent') };
    for (const a of [baseline, ...chosen]) {
      health.set(a.name);
      const logs0 = b.logLines();
      await loopLag(b); // resets the bridge's event-loop histogram
      const cpu0 = b.cpuS();
      const t0 = performance.now();
      let answer: string;
      try {
        answer = await a.run(b, live);
      } catch (err) {
        answer = `attack failed: ${(err as Error).message}`;
      }
      const ms = performance.now() - t0;
      await sleep(500);
      const lag = await loopLag(b);
      const cpuS = Math.round((b.cpuS() - cpu0) * 100) / 100;
      const row = { attack: a.name, what: a.what, answer, ms: Math.round(ms), healthz: healthOf(a.name), loopLagMs: lag, cpuS, rssGrowthMb: Math.round(rss.maxGrowth()), logLines: b.logLines() - logs0 };
      report.push(row);
      if (!args.json) {
        console.log(
          `${a.name.padEnd(12)} ${a.what}\n${''.padEnd(12)} -> ${answer}\n${''.padEnd(12)}    ${(ms / 1000).toFixed(1)} s; /healthz ${row.healthz}; bridge event-loop delay p99 ${lag.p99} / max ${lag.max} ms, CPU ${cpuS.toFixed(2)} s; RSS +${row.rssGrowthMb} MB so far; ${row.logLines} log lines\n`,
        );
      }
    }
    health.set('calls only');
    const calls = await live.results;
    const alive = b.child.exitCode === null && (await fetch(`${b.url}/healthz`).then((r) => r.ok, () => false));
    await health.stop();
    rss.stop();
    const all = health.of().map((s) => s.ms);
    const callRows = calls.map((r, i) => {
      const sentMs = r.sentFrames.length * 20;
      const heardMs = (r.receivedAudio.length / 8000) * 1000;
      return { call: i + 1, coverage: Math.min(1, heardMs / Math.max(1, sentMs)), leaked: findLeakedFrames(r.sentFrames, r.receivedAudio), endedBy: r.endedBy, closedBy: r.closedBy ?? '-', protocolErrors: r.protocolErrors.length };
    });
    const worst = Math.max(...all);
    const goals = {
      processAlive: alive,
      healthzUnder250ms: worst < 250 && health.of().every((s) => s.ok),
      rssGrowthUnder512MB: rss.maxGrowth() <= 512,
      callsWhole: callRows.every((c) => c.coverage >= 0.95 && c.endedBy === 'completed' && c.closedBy === 'simulator' && c.protocolErrors === 0),
      zeroLeakedFrames: callRows.every((c) => c.leaked === 0),
    };
    if (args.json) {
      console.log(JSON.stringify({ attacks: report, healthz: healthOf(), rssGrowthMb: Math.round(rss.maxGrowth()), calls: callRows, goals }, null, 2));
    } else {
      console.log(`overall      /healthz ${healthOf()} (${all.length} probes); RSS +${rss.maxGrowth().toFixed(0)} MB (from ${rss.base.toFixed(0)} MB)`);
      for (const c of callRows) console.log(`call ${c.call}       coverage ${(c.coverage * 100).toFixed(1)} %, leaked frames ${c.leaked}, ended by ${c.endedBy} (closed by ${c.closedBy}), protocol errors ${c.protocolErrors}`);
      console.log(`\ngoals        ${Object.entries(goals).map(([k, v]) => `${k} ${v ? 'yes' : 'NO'}`).join(', ')}`);
    }
    if (!Object.values(goals).every(Boolean)) process.exitCode = 1;
  } finally {
    b.child.kill('SIGKILL');
    await signedAgent.close();
  }
}

main().catch((err) => {
  console.error(`bench:hostile failed: ${(err as Error).stack}`);
  process.exit(1);
});
