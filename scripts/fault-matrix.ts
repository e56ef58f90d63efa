/**
 * npm run bench:faults [-- --clip bush --seconds 45 --kinds 500,stall --faulted 2 --no-barge-in --json]
 *
 * The fault matrix: for each kind of ElevenLabs fault (500, 429 + Retry-After, reset, hang,
 * 401, quota 401, stall, truncated body), one real-time call through a real bridge
 * (FALLBACK=silence, default settings) whose first phrases meet the fault on every attempt,
 * then ElevenLabs recovers. First the same call with no fault, as the reference (it tells the
 * phrases apart); then the faulty calls all at once, each with its own bridge, fake
 * ElevenLabs and fault proxy.
 *
 * Per kind: whether the call stayed up, caller frames leaked (must be 0), audio that is
 * neither the converter's nor silence (must be 0), the share of the speech after the fault
 * that ElevenLabs converted, the converted audio the caller heard after the fault (beside the
 * clean call's figure: barge-in clears drop some in both), and whether the first phrase after
 * the fault was converted. Exits 1 when a kind misses the goal:
 * call up, 0 leaked, converted share >= 0.7.
 *
 * A phrase counts as converted when ElevenLabs' whole answer reached the bridge. In hotline
 * mode the caller speaking over more than PLAYOUT_CLEAR_BACKLOG_MS of queued audio clears it
 * and cancels those conversions (barge-in), fault or not: the clean call's share says what
 * that costs. --no-barge-in (PLAYOUT_CLEAR_BACKLOG_MS=0) measures the fault recovery alone.
 */
import { parseArgs } from 'node:util';
import { CLIPS, loadClipMulaw } from '../tools/clips.js';
import { FAULT_KINDS, runMatrix, type FaultKindName, type FaultSummary } from './lib/fault-scenario.js';

const GOAL = 0.7;

function fail(msg: string): never {
  process.stderr.write(`bench:faults: ${msg}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    clip: { type: 'string', default: 'bush' },
    seconds: { type: 'string' },
    kinds: { type: 'string', default: FAULT_KINDS.join(',') },
    faulted: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    'no-barge-in': { type: 'boolean', default: false },
  },
});
if (!CLIPS[values.clip]) fail(`unknown --clip ${values.clip}; one of ${Object.keys(CLIPS).join(', ')}`);
const kinds = values.kinds.split(',').map((k) => k.trim());
for (const k of kinds) if (!(FAULT_KINDS as readonly string[]).includes(k)) fail(`unknown fault kind "${k}"; kinds: ${FAULT_KINDS.join(', ')}`);
const faulted = Number(values.faulted);
if (!Number.isInteger(faulted) || faulted < 1) fail(`--faulted must be a whole number >= 1, got ${values.faulted}`);
let audio = loadClipMulaw(values.clip);
if (values.seconds !== undefined) {
  const s = Number(values.seconds);
  if (!(s > 0)) fail(`--seconds must be > 0, got ${values.seconds}`);
  audio = audio.subarray(0, Math.round(s * 8000));
}

process.stderr.write(`bench:faults: 1 clean call, then ${kinds.length} faulty calls at once, ${(audio.length / 8000).toFixed(1)} s of "${values.clip}" each, in real time...\n`);
const t0 = Date.now();
const env = values['no-barge-in'] ? { PLAYOUT_CLEAR_BACKLOG_MS: '0' } : undefined;
const { clean, summaries: rows } = await runMatrix(audio, kinds as FaultKindName[], faulted, env);
const ok = (s: FaultSummary) => s.callUp && s.leakedFrames === 0 && s.foreignBytes === 0 && s.convertedShare >= GOAL;

if (values.json) {
  process.stdout.write(`${JSON.stringify({ clip: values.clip, seconds: audio.length / 8000, faulted, bargeIn: !env, cleanPhrases: clean.phrases.length, rows }, null, 2)}\n`);
} else {
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const lines = [
    `clip ${values.clip} (${(audio.length / 8000).toFixed(1)} s), ${clean.phrases.length} phrases in the clean call; the fault hits the first ${faulted} on every attempt; FALLBACK=silence${env ? ', PLAYOUT_CLEAR_BACKLOG_MS=0 (no barge-in clears)' : ''}`,
    `clean call: up ${clean.callUp ? 'yes' : 'NO'}, ${clean.leakedFrames} leaked frames, ${(clean.heardToneMs / 1000).toFixed(1)} s of converted audio heard; ` +
      `${pct(rows[0]?.cleanConvertedShare ?? 0)} of the speech after the first ${faulted} phrases converted in full` +
      ((rows[0]?.cleanConvertedShare ?? 1) < 1 ? ' (the rest cancelled by barge-in clears)' : ''),
    '',
    'kind        call up  leaked  foreign  speech after  converted  heard after (clean)  first after  not sent  goal',
  ];
  for (const s of rows) {
    lines.push(
      [
        s.kind.padEnd(11),
        (s.callUp ? 'yes' : 'NO').padEnd(8),
        String(s.leakedFrames).padEnd(7),
        String(s.foreignBytes).padEnd(8),
        `${(s.afterMs / 1000).toFixed(1)} s`.padEnd(13),
        pct(s.convertedShare).padEnd(10),
        `${(s.heardAfterMs / 1000).toFixed(1)} s (${(s.cleanHeardAfterMs / 1000).toFixed(1)} s)`.padEnd(20),
        (s.firstAfterConverted ? 'converted' : 'LOST').padEnd(12),
        String(s.notSent).padEnd(9),
        ok(s) ? 'ok' : 'MISSED',
      ].join(' '),
    );
  }
  const met = rows.filter(ok).length;
  lines.push('', `${met}/${rows.length} kinds: call up, 0 leaked frames, >= ${pct(GOAL)} of the speech after the fault converted (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(rows.every(ok) && clean.callUp ? 0 : 1);
