/**
 * Call simulator CLI: places calls against the bridge the way Twilio would and reports latency.
 *
 *   npm run simulate -- --url http://127.0.0.1:8080 --in speech.wav --out heard.wav
 *     [--fast] [--calls N] [--dtmf 1@2.5s ...] [--voice ID] [--path /twiml/inbound]
 *     [--token $TWILIO_AUTH_TOKEN] [--public-url https://public.host] [--tail 3s] [--idle 1.5s]
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeWavMulaw } from '../src/audio/wav.js';
import {
  findLeakedFrames,
  loadAudioAsMulaw8k,
  simulateCall,
  SimulatorError,
  summarizeLatencies,
  type SimulatedCallResult,
} from '../tools/sim/index.js';

const USAGE = `usage: npm run simulate -- --in speech.wav [--url http://127.0.0.1:8080] [--out heard.wav]
  --fast            send the audio faster than real time (the tail stays real time)
  --speedup N       pace of --fast as a multiple of real time (default 3; "max" = unbounded);
                    the bridge closes a stream more than WS_MAX_AUDIO_AHEAD_MS (20 s) ahead
  --calls N         N concurrent calls (heard files get -1, -2, ... suffixes)
  --dtmf D@T        press digit D at time T (e.g. 1@2.5s or 1@2500ms); repeatable
  --voice ID        ?voice=ID on the webhook URL
  --path P          webhook path (default /twiml/inbound)
  --token T         sign requests (default: env TWILIO_AUTH_TOKEN)
  --public-url U    the public base URL the server validates signatures against (default: env PUBLIC_URL)
  --tail T          keep the line open after the audio (default 3s)
  --idle T          end the tail early after T without anything to play`;

/** "2.5s", "2500ms", "2.5" (seconds) -> ms */
function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v.trim());
  if (!m) throw new Error(`invalid duration "${v}" (use e.g. 2.5s or 2500ms)`);
  return m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
}

function parseDtmf(v: string): { digit: string; atMs: number } {
  const m = /^([0-9*#A-Da-dw])@(.+)$/.exec(v.trim());
  if (!m) throw new Error(`invalid --dtmf "${v}" (use DIGIT@TIME, e.g. 1@2.5s)`);
  return { digit: m[1]!.toUpperCase(), atMs: parseDuration(m[2]!) };
}

const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)}s`);
const msf = (ms: number | undefined) => (ms === undefined ? '-' : `${Math.round(ms)} ms`);

function outPath(out: string, i: number, n: number): string {
  if (n === 1) return out;
  const ext = path.extname(out) || '.wav';
  return `${out.slice(0, out.length - path.extname(out).length)}-${i + 1}${ext}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      in: { type: 'string' },
      out: { type: 'string' },
      fast: { type: 'boolean', default: false },
      speedup: { type: 'string', default: '3' },
      calls: { type: 'string', default: '1' },
      dtmf: { type: 'string', multiple: true },
      voice: { type: 'string' },
      path: { type: 'string', default: '/twiml/inbound' },
      token: { type: 'string' },
      'public-url': { type: 'string' },
      tail: { type: 'string', default: '3s' },
      idle: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.in) {
    console.error(`error: --in is required\n${USAGE}`);
    return 2;
  }
  const calls = Number(values.calls);
  if (!Number.isInteger(calls) || calls < 1 || calls > 1000) throw new Error(`--calls must be an integer from 1 to 1000, got "${values.calls}"`);
  const dtmf = (values.dtmf ?? []).map(parseDtmf);
  const tailMs = parseDuration(values.tail);
  const fastSpeedup = values.speedup === 'max' ? Infinity : Number(values.speedup);
  if (!(fastSpeedup > 0)) throw new Error(`--speedup must be a positive number or "max", got "${values.speedup}"`);
  const endWhenIdleMs = values.idle === undefined ? undefined : parseDuration(values.idle);
  const authToken = values.token ?? (process.env['TWILIO_AUTH_TOKEN'] || undefined);
  const publicUrl = values['public-url'] ?? (process.env['PUBLIC_URL'] || undefined);

  const audio = await loadAudioAsMulaw8k(values.in);
  console.log(
    `input ${values.in}: ${(audio.length / 8000).toFixed(2)} s of 8 kHz mu-law; ${calls} call(s) to ${values.url}${values.path}` +
      `${values.fast ? ' (fast)' : ''}${authToken ? ' (signed)' : ''}`,
  );

  const settled = await Promise.allSettled(
    Array.from({ length: calls }, (_, i) =>
      simulateCall({
        url: values.url,
        webhookPath: values.path,
        ...(values.voice ? { query: { voice: values.voice } } : {}),
        ...(authToken ? { authToken } : {}),
        ...(publicUrl ? { signatureUrlBase: publicUrl } : {}),
        audio,
        realtime: !values.fast,
        fastSpeedup,
        tailMs,
        ...(endWhenIdleMs !== undefined ? { endWhenIdleMs } : {}),
        dtmf,
        onProgress: (e) => {
          if (e.type === 'protocol-error') console.warn(`call ${i + 1}: protocol error at ${s(e.atMs)}: ${e.message}`);
        },
      }),
    ),
  );

  const ok: SimulatedCallResult[] = [];
  let failed = 0;
  for (const [i, r] of settled.entries()) {
    if (r.status === 'rejected') {
      failed++;
      const e = r.reason as unknown;
      console.error(`call ${i + 1}: ${e instanceof SimulatorError ? e.message : String(e)}`);
      continue;
    }
    const c = r.value;
    ok.push(c);
    const tag = calls > 1 ? `call ${i + 1} ` : '';
    console.log(`${tag}${c.callSid} -> ${c.connectUrl} parameters ${JSON.stringify(c.parameters)}`);
    for (const p of c.phrases) {
      console.log(
        `${tag}phrase ${p.index + 1}: ${s(p.startMs)}-${s(p.stoppedAtMs)}  speaker stopped ${s(p.stoppedAtMs)}  ` +
          (p.firstHeardAtMs === undefined ? 'no masked audio heard' : `first heard ${s(p.firstHeardAtMs)}  latency ${msf(p.latencyMs)}`),
      );
    }
    const leaked = findLeakedFrames(c.sentFrames, c.receivedAudio);
    console.log(
      `${tag}ended ${c.endedBy} after ${s(c.durationMs)} (close ${c.closeCode ?? '-'} by ${c.closedBy ?? '-'}); ` +
        `received ${s(c.receivedAudio.length * 1000 / 8000)} of audio in ${c.received.length} messages, ${c.marks.length} marks, ${c.clears.length} clears` +
        `${leaked ? `, LEAKED ${leaked} caller frames` : ''}${c.protocolErrors.length ? `, ${c.protocolErrors.length} protocol errors` : ''}`,
    );
    for (const w of c.warnings) console.log(`${tag}warning: ${w}`);
    if (values.out) {
      const file = outPath(values.out, i, calls);
      await writeFile(file, encodeWavMulaw(c.heard));
      console.log(`${tag}wrote what the caller heard to ${file}`);
    }
  }

  const sum = summarizeLatencies(ok.flatMap((c) => c.phrases));
  if (values.fast) console.log('note: --fast sends the audio ahead of real time, so latencies are inflated (use real time for latency numbers)');
  const leakedTotal = ok.reduce((n, c) => n + findLeakedFrames(c.sentFrames, c.receivedAudio), 0);
  const protocolErrorsTotal = ok.reduce((n, c) => n + c.protocolErrors.length, 0);
  console.log(
    `totals: ${ok.length}/${calls} calls, ${sum.phrases} phrases, ${sum.answered} answered, ${sum.missed} missed; ` +
      `latency p50 ${msf(sum.p50Ms)} p95 ${msf(sum.p95Ms)} max ${msf(sum.maxMs)}; ` +
      `marks ${ok.reduce((n, c) => n + c.marks.length, 0)}, clears ${ok.reduce((n, c) => n + c.clears.length, 0)}, ` +
      `protocol errors ${protocolErrorsTotal}, leaked frames ${leakedTotal}`,
  );
  // A leak or a message Twilio would reject is a failed run, as a failed call is.
  return failed > 0 || leakedTotal > 0 || protocolErrorsTotal > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
