/**
 * bench:delay --two-party: what the customer hears of an agent's long turn on a contact line
 * while the customer backchannels or interrupts.
 *
 * Each scenario is one call through its own bridge (CONVERTER=elevenlabs, MASK=agent,
 * FALLBACK=silence, a line with `screen: false`), an echoing fake ElevenLabs whose first byte
 * comes `ttfbMs` after each request (so converted chunks arrive in bursts and a backlog forms
 * in the customer's playout), and the fake Twilio REST API. The agent speaks the first 34 s of
 * a clip in real time; the customer says:
 *  - alone: nothing (the reference delay);
 *  - backchannels: four "mm-hmm"s, 0.45-0.5 s of real speech cut from other speakers' clips;
 *  - interruption: one 3 s phrase.
 * A listener speaking over more than PLAYOUT_CLEAR_BACKLOG_MS of queued agent speech makes it
 * play faster (WSOLA ×CATCH_UP_SPEED, pitch kept) until it is short again. Reported per scenario:
 *  - heard: the agent's speech frames heard sample for sample (mouthToEar), plus those heard
 *    played faster (counted by time and energy between the matched frames around them:
 *    scripts/lib/catch-up-share.ts), and what is left: lost;
 *  - catch-ups and their time: from the bridge's log, from "playing it faster" to "caught up"
 *    (the backlog under PLAYOUT_LEAD_MS + 200 ms again), and the backlog when it started;
 *  - delay of the frames heard sample for sample (p50, p95, max) and the extra p95 against the
 *    agent alone.
 * Goals: backchannels cost nothing (≥ 98 % heard), an interruption loses nothing silently
 * (≥ 98 % heard, and anything dropped is in the log as a clear).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/compose.js';
import { CATCH_UP_SPEED } from '../../src/twilio/media-out.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';
import { startFakeElevenLabs } from '../../tools/fakes/fake-elevenlabs.js';
import { startFakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { shareHeard } from './catch-up-share.js';
import { lineCall } from './line-call.js';
import { mouthToEar, percentile } from './mouth-to-ear.js';

const LINE = '+15005550100';
const AGENT = '+15005550111';
const TURN_S = 34;
const AGENT_TAIL_MS = 12_000;

const cut = (clip: string, fromS: number, toS: number) => loadClipMulaw(clip).subarray(Math.round(fromS * 8000), Math.round(toS * 8000));

type Bit = { atS: number; clip: string; fromS: number; toS: number; onBacklog?: boolean };
const BACKCHANNELS: Bit[] = [
  { atS: 6.5, clip: 'p240', fromS: 1.2, toS: 1.65 },
  { atS: 12.0, clip: 'libri3575', fromS: 1.0, toS: 1.45 },
  { atS: 18.5, clip: 'axb', fromS: 2.0, toS: 2.5 },
  { atS: 24.5, clip: 'p240', fromS: 2.5, toS: 3.0 },
];
const INTERRUPTION: Bit[] = [{ atS: 15.0, clip: 'libri3575', fromS: 0.32, toS: 3.32 }];
const onBacklog = (bits: Bit[]) => bits.map((b) => ({ ...b, onBacklog: true }));

/**
 * What the customer says, when (s on the agent's clock), per scenario. At fixed times a bit
 * meets whatever backlog there is then (it rises by a chunk's length when a converted chunk
 * arrives, and falls as it plays); "on the backlog" each bit waits from its time until the
 * agent's speech queued for the customer is over PLAYOUT_CLEAR_BACKLOG_MS + 300 ms (at most 6 s,
 * then as soon as it is near the longest of the last 6 s): the case where a catch-up starts,
 * if a backlog that long forms at all.
 */
const SCENARIOS: Record<string, Bit[]> = {
  alone: [],
  backchannels: BACKCHANNELS,
  'backchannels on the backlog': onBacklog(BACKCHANNELS),
  interruption: INTERRUPTION,
  'interruption on the backlog': onBacklog(INTERRUPTION),
};

export interface TwoPartyOptions {
  ttfbMs: number;
  /** Every third answer this much later still (a service's uneven time to first byte). */
  jitterMs: number;
  clip: string;
  env: Record<string, string>;
  json: boolean;
  /** Only these (default: all; 'alone' always runs, as the reference). */
  scenarios?: string[];
}

type Log = Record<string, unknown> & { msg?: string; time?: string };
const at = (l: Log) => Date.parse(l.time ?? '');

/**
 * The agent's speech queued for the customer, estimated from outside: converted audio that has
 * reached the bridge (the fake's bytes sent) minus audio the customer's phone received, less
 * the least that difference was over the last 8 s (the queue runs empty between chunks and
 * phrases; audio played faster while catching up, and the hold music, would otherwise count as
 * queued), plus the playout lead.
 */
function backlogEstimate(fake: { requests: Array<{ bytesSent: number; firstByteSentAt?: number }> }, leadMs: number) {
  const seen: Array<{ t: number; diff: number; ms: number }> = [];
  return (customerBytes: number) => {
    const now = performance.now();
    const diff = fake.requests.reduce((n, q) => n + q.bytesSent, 0) - customerBytes;
    const queued = diff - Math.min(diff, ...seen.map((x) => x.diff));
    const ms = queued / 8 + (queued > 0 ? leadMs : 0);
    seen.push({ t: now, diff, ms });
    while (seen.length > 1 && now - seen[0]!.t > 8000) seen.shift();
    // Near the longest backlog of the last 6 s (a chunk has just arrived whole).
    const peak = Math.max(...seen.filter((x) => now - x.t <= 6000).map((x) => x.ms));
    return { ms, nearPeak: ms > 0 && ms >= 0.9 * peak };
  };
}

async function scenario(name: string, o: TwoPartyOptions) {
  const clip = CLIPS[o.clip];
  if (!clip) throw new Error(`--clip: unknown clip ${o.clip}; expected one of ${Object.keys(CLIPS).join(', ')}`);
  const turnS = Math.min(TURN_S, clip.durationS);
  const twilio = await startFakeTwilioRest();
  const fake = await startFakeElevenLabs({ answer: 'echo', apiKey: null, firstByteMs: o.ttfbMs });
  if (o.jitterMs > 0) fake.setFaults((i) => (i % 3 === 2 ? { type: 'slow-first-byte', delayMs: o.jitterMs } : undefined));
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-lines-'));
  const linesFile = path.join(dir, 'lines.yaml');
  writeFileSync(linesFile, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    screen: false\n`);
  const logs: Log[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l) as Log);
      cb();
    },
  });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    CONVERTER: 'elevenlabs',
    ELEVENLABS_API_KEY: 'bench',
    ELEVENLABS_BASE_URL: fake.baseUrl,
    FALLBACK: 'silence',
    LINES_CONFIG: linesFile,
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    TWILIO_API_BASE_URL: twilio.url,
    ...o.env,
  });
  const bridge = await startServer(config, { logger: createLogger('debug', sink) });
  try {
    const agentAudio = loadClipMulaw(o.clip).subarray(0, Math.round(turnS * 8000));
    const minBacklogMs = config.PLAYOUT_CLEAR_BACKLOG_MS + 300;
    const bits = SCENARIOS[name]!.map((b) => ({ atMs: Math.round(b.atS * 1000), audio: cut(b.clip, b.fromS, b.toS), ...(b.onBacklog && { minBacklogMs }) }));
    const backlog = backlogEstimate(fake, config.PLAYOUT_LEAD_MS);
    const r = await lineCall({
      bridgeUrl: bridge.url,
      twilio,
      line: LINE,
      agentNumber: AGENT,
      agentAudio,
      customer: bits,
      backlog,
      agentTailMs: AGENT_TAIL_MS,
      paired: async () => {
        while (!logs.some((l) => l.msg === 'agent answered: call connected, agent voice masked')) await new Promise((res) => setTimeout(res, 10));
      },
    });
    // The agent's speech on the customer's timeline.
    const off = r.agentOffsetMs;
    const said = new Uint8Array(off * 8 + agentAudio.length).fill(0xff);
    said.set(agentAudio, off * 8);
    const phrases = clip.phrases.filter(([s]) => s < turnS).map(([s, e]) => [s + off / 1000, Math.min(e, turnS) + off / 1000] as [number, number]);
    const requests = fake.requests.filter((q) => q.pcm8k.length > 0);
    const rep = mouthToEar(mulawDecode(said), phrases, requests, r.customer.heard);
    const share = shareHeard(rep, said, phrases, r.customer.heard, CATCH_UP_SPEED);
    // Catch-ups, from the bridge's log: start (with the backlog then) to "caught up".
    const starts = logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('listener spoke over a long backlog: playing it faster'));
    const ends = logs.filter((l) => l.msg === 'caught up: playing in real time again');
    const catchUps = starts.map((s) => {
      const end = ends.find((e) => at(e) >= at(s));
      return { atS: +((at(s) - r.agentT0Epoch) / 1000).toFixed(1), backlogMs: Number(s.backlogMs ?? 0), durationS: end ? +((at(end) - at(s)) / 1000).toFixed(1) : NaN };
    });
    const cleared = logs.filter((l) => l.msg === 'listener spoke over a long backlog: playback cleared').length;
    const pct = (n: number) => +((100 * n) / share.speechFrames).toFixed(1);
    return {
      scenario: name,
      customer: bits.length ? `${bits.length} × ${Math.min(...bits.map((b) => b.audio.length / 8000)).toFixed(2)}–${Math.max(...bits.map((b) => b.audio.length / 8000)).toFixed(2)} s` : '–',
      speechS: +rep.speechS.toFixed(1),
      exactPct: pct(share.exactFrames),
      fasterPct: pct(share.compressedFrames),
      heardPct: pct(share.exactFrames + share.compressedFrames),
      lostPct: pct(share.lostFrames),
      catchUps: catchUps.length,
      catchUpS: catchUps.map((c) => c.durationS).join(', ') || '–',
      backlogAtStartMs: catchUps.map((c) => c.backlogMs).join(', ') || '–',
      cleared,
      p50Ms: Math.round(percentile(rep.delaysMs, 50)),
      p95Ms: Math.round(percentile(rep.delaysMs, 95)),
      maxMs: Math.round(Math.max(...rep.delaysMs)),
      lostRuns: share.runs.filter((x) => x.verdict === 'lost').map((x) => `${((x.saidMs - off) / 1000).toFixed(1)}s:${x.frames}`).join(' ') || '–',
      catchUpAt: catchUps.map((c) => c.atS).join(', ') || '–',
      customerAt: r.customerStarts.map((t) => (t === undefined ? 'never' : `${(t.atMs / 1000).toFixed(1)}s (${t.backlogMs ?? '?'} ms)`)).join(', ') || '–',
    };
  } finally {
    await bridge.close();
    await fake.close();
    await twilio.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the three scenarios one after another; prints the table; true when the goals are met. */
export async function twoPartyBench(o: TwoPartyOptions): Promise<boolean> {
  const rows = [];
  for (const s of o.scenarios ?? []) if (!SCENARIOS[s]) throw new Error(`--scenario: unknown ${s}; expected one of ${Object.keys(SCENARIOS).map((k) => `"${k}"`).join(', ')}`);
  for (const name of Object.keys(SCENARIOS)) if (name === 'alone' || !o.scenarios || o.scenarios.includes(name)) rows.push(await scenario(name, o));
  const alone = rows.find((r) => r.scenario === 'alone')!;
  const table = rows.map((r) => ({ ...r, extraP95Ms: r.p95Ms - alone.p95Ms }));
  const of = (prefix: string) => table.filter((r) => r.scenario.startsWith(prefix));
  const goals = {
    'backchannels cost nothing (≥ 98 % heard)': of('backchannels').every((r) => r.heardPct >= 98),
    'an interruption loses nothing silently (≥ 98 % heard, or what is lost was cleared and logged)': of('interruption').every((r) => r.heardPct >= 98 || r.cleared > 0),
  };
  if (o.json) console.log(JSON.stringify({ rows: table, goals }, null, 2));
  else {
    console.log(`two-party line, agent ${o.clip} (${TURN_S} s), TTFB ${o.ttfbMs} ms${o.jitterMs ? ` (+${o.jitterMs} ms every third answer)` : ''}, catch-up ×${CATCH_UP_SPEED}, ${Object.keys(o.env).length ? JSON.stringify(o.env) : 'shipped defaults'}`);
    console.table(table);
    for (const [goal, met] of Object.entries(goals)) console.log(`${met ? 'met   ' : 'MISSED'}  ${goal}`);
  }
  return Object.values(goals).every(Boolean);
}
