/**
 * Privacy evaluation of the embedded engine: a classical speaker-verification attacker
 * (telephone-band MFCC + deltas with CMN, GMM-UBM whose background never holds the test speaker,
 * MAP-adapted speaker models, 2-3 s segments cut at the phrases) against the engine run the way
 * a call runs it (--path engine, the default: the engine's streaming and phrase modes fed 8 kHz
 * mu-law directly, each clip with a seed of the run's), through real calls (--path call: each
 * clip one hotline call through a real bridge on loopback, with production's per-call seed and
 * per-phrase draws; what the caller heard; see eval-privacy/bridge.ts), or with --path api the
 * way the compatible API runs it (each clip one request with its own seed, default voice
 * settings, ulaw_8000 out; through the same facade call as the API). --persona stable masks as a
 * contact line's stable persona does (a seed per agent, no per-phrase draw). Equal error rates, with
 * 95% speaker-bootstrap intervals and trial counts, for:
 *   original     enrol and test on the real voices (how well the attacker works at all)
 *   ignorant     enrol on the real voice, test masked (the attacker knows only the real voice)
 *   lazy         enrol masked, test masked, same preset, same call seed (recorded the agent before);
 *                every speaker's clip is a call (or request) of its own, with a seed of its own
 *   fixed seed   as lazy, but every clip masked with one and the same seed (what LOCAL_SEED
 *                gives: every call of every agent gets the same per-call variation)
 *   cross-call   as lazy, but enrolment and test come from calls with different seeds
 *   cross-preset enrol masked with one preset, test masked with every other preset
 *   semi-inf.    as lazy, with the background model trained on masked speech of the other
 *                speakers (an attacker who can run the engine himself; default preset only)
 * plus, when python3 has pocketsphinx, the recogniser's word error rate on the clips with
 * known transcripts, masked over original (--no-asr skips it).
 *
 *   npm run eval:privacy [-- --voices neutral-male,deep-male] [-- --path engine|call|api] [-- --modes streaming,phrase]
 *     [-- --persona per-call|stable]
 *     [-- --clips bush,p240,...] [-- --components 64] [-- --no-asr] [-- --json out.json]
 *     [-- --normalise 0..1] [-- --variation 0..1] [-- --phrase-variation 0..1] [-- --pulse 0..1] [-- --asr-only]
 *     [-- --seeds A,B (the two calls' base seeds, default 1001,2002)]
 *     [-- --asr-voices all|a,b (default: the default preset)] [-- --skip semi,ignorant,lazy,fixed,cross-call,cross-preset]
 *
 * CPU heavy (a few minutes for everything): run it niced on a shared machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulawDecode } from '../src/audio/mulaw.js';
import { initResampler, resample } from '../src/audio/resampler.js';
import { encodeWavPcm16 } from '../src/audio/wav.js';
import { personaSeed } from '../src/session/line/room.js';
import { initLocalEngine, LocalEngine, LOCAL_VOICES } from '../src/voice/local/index.js';
import { CLIPS, loadClipMulaw } from '../tools/clips.js';
import { eerWithInterval, type EerResult, type Trial } from './eval-privacy/eer.js';
import { llrScore, mapAdapt, prepareTest, trainUbm, type Features, type Gmm } from './eval-privacy/gmm.js';
import { closeBridges, maskCall, PERSONA_SECRET } from './eval-privacy/bridge.js';
import { maskPhrases, maskRequest, maskStreaming, type Mode } from './eval-privacy/masking.js';
import { DIM, mfccFeatures } from './eval-privacy/mfcc.js';
import { cutSegments, segmentSamples, spread, type Segment } from './eval-privacy/segments.js';
import { REFERENCES, wordErrors } from './eval-privacy/wer.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(HERE, '../../shared/testdata/speech');
const args = process.argv.slice(2);
const USAGE = `npm run eval:privacy -- [options]
  --path engine|call|api engine (default): the engine as a call runs it, fed directly (--modes
                         below; each clip a seed of the run's); call: each clip one hotline call
                         through a real bridge on loopback (CONVERTER=local, streaming; its own
                         CallSid, so production's per-call seed and per-phrase draws; what the
                         caller heard); api: each clip one /v1/speech-to-speech request with its
                         own seed, default voice settings, ulaw_8000 out, through the facade
  --modes streaming,phrase   engine path modes (default both)
  --persona per-call|stable  per-call (default): today's per-call and per-phrase variation;
                         stable: a contact line's stable persona (a seed per agent from a secret
                         and the agent's id, no per-phrase draw; --path call or engine streaming)
  --voices a,b           presets (default all)          --clips a,b,c   clips (at least 3)
  --seeds A,B            the two calls' base seeds (default 1001,2002)
  --components N         GMM components, a power of two (default 64)
  --skip semi,ignorant,lazy,fixed,cross-call,cross-preset   cells to leave out
  --normalise, --variation, --phrase-variation, --pulse 0..1   engine options
  --no-asr | --asr-only  --asr-voices all|a,b   the recogniser's word error rate
  --json out.json        the results as JSON`;
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const DEFAULT_VOICE = 'neutral-male';
const voices = opt('voices')?.split(',') ?? LOCAL_VOICES.map((v) => v.id);
const pathName = opt('path') ?? 'engine';
const persona = opt('persona') ?? 'per-call';
const stable = persona === 'stable';
/** Modes: the engine path's streaming/phrase, 'call' (the call path), 'api'; '-stable' for a stable persona. */
const baseModes = pathName === 'api' ? ['api'] : pathName === 'call' ? ['call'] : (opt('modes')?.split(',') ?? ['streaming', 'phrase']);
const components = Number(opt('components') ?? 64);
/** Clip 'noisy' is clip 'ljspeech' again (same words, same speaker): left out. */
const clipKeys = opt('clips')?.split(',') ?? Object.keys(CLIPS).filter((k) => k !== 'noisy');
const MAX_TRIAL_SEGMENTS = 8;
/** The recogniser is slow (about 0.3 x real time): by default it checks the default preset only. */
const asrVoices = opt('asr-voices') === 'all' ? voices : (opt('asr-voices')?.split(',') ?? voices.filter((v) => v === DEFAULT_VOICE));
const [SEED_A, SEED_B] = (opt('seeds') ?? '1001,2002').split(',').map(Number) as [number, number];
const usage = (msg: string): never => {
  console.error(`eval:privacy: ${msg}`);
  process.exit(2);
};
if (pathName !== 'engine' && pathName !== 'call' && pathName !== 'api') usage(`unknown path "${pathName}"; paths: engine, call, api`);
if (pathName !== 'engine' && opt('modes') !== undefined) usage(`--modes selects the engine path's modes; --path ${pathName} has one (each clip one ${pathName === 'api' ? 'request' : 'call'})`);
if (persona !== 'per-call' && persona !== 'stable') usage(`unknown persona "${persona}"; personas: per-call, stable`);
if (stable && (pathName === 'api' || baseModes.includes('phrase')))
  usage('--persona stable: a stable persona masks calls (--path call, or --path engine --modes streaming); not the API or phrase mode');
if (!(Number.isInteger(SEED_A) && Number.isInteger(SEED_B) && SEED_A !== SEED_B)) usage('--seeds needs two different integers, e.g. 1001,2002');
for (const v of voices) if (!LOCAL_VOICES.some((p) => p.id === v)) usage(`unknown voice "${v}"; presets: ${LOCAL_VOICES.map((p) => p.id).join(', ')}`);
for (const m of baseModes) if (pathName === 'engine' && m !== 'streaming' && m !== 'phrase') usage(`unknown mode "${m}"; modes: streaming, phrase`);
if (pathName === 'call')
  for (const o of ['normalise', 'variation', 'pulse'])
    if (opt(o) !== undefined) usage(`--${o} is an engine option the bridge does not take; --path call masks as a deployment does (--phrase-variation 0 is LOCAL_PHRASE_VARIATION=false)`);
const modes = baseModes.map((m) => (stable ? `${m}-stable` : m)) as Mode[];
for (const k of clipKeys) if (!CLIPS[k]) usage(`unknown clip "${k}"; clips: ${Object.keys(CLIPS).join(', ')}`);
if (new Set(clipKeys).size < 3) usage('--clips needs at least 3 clips (speakers) for verification trials');
if (!(Number.isInteger(components) && components >= 2 && (components & (components - 1)) === 0)) usage('--components must be a power of two (e.g. 64)');

await initLocalEngine();
await initResampler();
const engineOpts = {
  ...(opt('normalise') !== undefined && { normalise: Number(opt('normalise')) }),
  ...(opt('variation') !== undefined && { variation: Number(opt('variation')) }),
  ...(opt('phrase-variation') !== undefined && { phraseVariation: Number(opt('phrase-variation')) }),
  ...(opt('pulse') !== undefined && { pulse: Number(opt('pulse')) }),
};
const engine = new LocalEngine({ defaultVoiceId: DEFAULT_VOICE, ...engineOpts });

const clips = clipKeys.map((key) => ({ key, ulaw: loadClipMulaw(key), phrases: CLIPS[key]!.phrases }));
const segments: Segment[] = clips.flatMap((c) => cutSegments(c.key, c.key, c.phrases));
const speakers = [...new Set(segments.map((s) => s.speaker))];
const trialSegments = speakers.flatMap((sp) => spread(segments.filter((s) => s.speaker === sp), MAX_TRIAL_SEGMENTS));
console.log(
  `eval:privacy: ${speakers.length} speakers, ${segments.length} segments of 2-3 s (${trialSegments.length} in trials), ` +
    `GMM-UBM ${components} components, MFCC ${DIM} dims`,
);

/** One processing of every clip: 'orig' or `${mode}/${voice}/${seed}`, `/same` for one seed for all. */
type Key = string;
const audio = new Map<Key, Map<string, Uint8Array>>();
const features = new Map<Key, Map<Segment, Features>>();

async function processed(key: Key): Promise<Map<string, Uint8Array>> {
  let m = audio.get(key);
  if (m) return m;
  m = new Map();
  // The call path's calls of one processing run side by side (their output comes in real time).
  const parallel = key.startsWith('call');
  const pending: Array<Promise<void>> = [];
  for (const [i, c] of clips.entries()) {
    if (key === 'orig') m.set(c.key, c.ulaw);
    else if (parallel) {
      // The bridge's own per-call seeds (with /same, LOCAL_SEED = the base seed for every call).
      const [, voice, base, same] = key.split('/') as [string, string, string, string?];
      const phraseVariation = opt('phrase-variation') === undefined ? undefined : Number(opt('phrase-variation')) > 0;
      pending.push(
        maskCall(c.ulaw, {
          voiceId: voice,
          agent: c.key,
          persona: key.startsWith('call-stable') ? 'stable' : 'per-call',
          ...(same === 'same' && { fixedSeed: Number(base) }),
          ...(phraseVariation !== undefined && { phraseVariation }),
        }).then((u) => void m.set(c.key, u)),
      );
    } else {
      // Every clip is a call of its own: its seed is the run's base seed plus the clip's index
      // (or the base seed itself, for every clip, with /same). A stable persona: the speaker's
      // (agent's) own seed, whatever the call.
      const [modeName, voice, base, same] = key.split('/') as [string, string, string, string?];
      const isStable = modeName.endsWith('-stable');
      const mode = modeName.replace(/-stable$/, '') as Mode;
      const seed = isStable ? personaSeed(PERSONA_SECRET, c.key) : Number(base) + (same === 'same' ? 0 : 7919 * i);
      m.set(
        c.key,
        mode === 'streaming'
            ? maskStreaming(engine, c.ulaw, voice, seed, isStable)
            : mode === 'api'
              ? await maskRequest(engine, c.ulaw, voice, seed)
              : await maskPhrases(engine, c.ulaw, c.phrases, voice, seed),
      );
    }
  }
  await Promise.all(pending);
  audio.set(key, m);
  return m;
}

async function featuresOf(key: Key): Promise<Map<Segment, Features>> {
  let f = features.get(key);
  if (f) return f;
  const a = await processed(key);
  const pcm = new Map([...a].map(([k, u]) => [k, mulawDecode(u)]));
  f = new Map(segments.map((s) => [s, mfccFeatures(segmentSamples(pcm.get(s.clip)!, s))]));
  features.set(key, f);
  return f;
}

/** Leave-one-speaker-out background models, per domain of their training data. */
const ubms = new Map<Key, Map<string, Gmm>>();
async function ubmsFor(key: Key): Promise<Map<string, Gmm>> {
  let u = ubms.get(key);
  if (u) return u;
  const f = await featuresOf(key);
  u = new Map();
  for (const sp of speakers) u.set(sp, trainUbm(segments.filter((s) => s.speaker !== sp).map((s) => f.get(s)!), DIM, components));
  ubms.set(key, u);
  return u;
}

const models = new Map<string, Gmm>();
function modelFor(background: Key, sp: string, ubm: Gmm, enrol: Key, seg: Segment, f: Features): Gmm {
  const id = `${background}|${sp}|${enrol}|${seg.clip}#${seg.index}`;
  let g = models.get(id);
  if (!g) models.set(id, (g = mapAdapt(ubm, f)));
  return g;
}

/** Every ordered pair of different trial segments: enrolment from `enrol`, test from each of `tests`. */
async function run(enrol: Key, tests: Key[], background: Key = 'orig'): Promise<EerResult> {
  const u = await ubmsFor(background);
  const fe = await featuresOf(enrol);
  const trials: Trial[] = [];
  for (const testKey of tests) {
    const ft = await featuresOf(testKey);
    for (const sp of speakers) {
      const ubm = u.get(sp)!;
      const testSegs = trialSegments.filter((s) => s.speaker === sp).map((s) => ({ s, t: prepareTest(ubm, ft.get(s)!) }));
      for (const e of trialSegments) {
        const model = modelFor(background, sp, ubm, enrol, e, fe.get(e)!);
        for (const { s, t } of testSegs) if (s !== e) trials.push({ enrolSpeaker: e.speaker, testSpeaker: sp, score: llrScore(model, t) });
      }
    }
  }
  return eerWithInterval(trials);
}

const pct = (r: EerResult) => `${(100 * r.eer).toFixed(1)} [${(100 * r.lo).toFixed(0)}-${(100 * r.hi).toFixed(0)}]`;
const results: Record<string, unknown> = {};
const t0 = performance.now();

if (args.includes('--asr-only')) {
  await intelligibility();
  process.exit(0);
}
const base = await run('orig', ['orig']);
results.original = base;
console.log(`\noriginal/original: EER ${pct(base)} % (${base.targets} target, ${base.nonTargets} non-target trials)\n`);

// The semi-informed attacker first: the one VoicePrivacy ranks systems by, and what anyone who
// runs this open-source engine can build (docs/privacy.md).
const header = ['mode', 'preset', 'semi-informed', 'ignorant', 'lazy', 'fixed seed', 'cross-call', 'cross-preset'];
const skip = new Set(opt('skip')?.split(',') ?? []);
const rows: string[][] = [];
for (const mode of modes) {
  for (const voice of voices) {
    const a = `${mode}/${voice}/${SEED_A}`;
    const b = `${mode}/${voice}/${SEED_B}`;
    // Enrolled under this preset, tested under every other (whatever --voices selects).
    const others = LOCAL_VOICES.filter((v) => v.id !== voice).map((v) => `${mode}/${v.id}/${SEED_A}`);
    const cell = (x: EerResult | undefined) => (x ? pct(x) : '-');
    // Computed in the table's order, semi-informed first, each printed as it comes.
    const semiInformed = voice === DEFAULT_VOICE && !mode.startsWith('phrase') && !skip.has('semi') ? await run(a, [a], a) : undefined;
    if (semiInformed) console.log(`${mode} | ${voice} | semi-informed ${cell(semiInformed)}   (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const r = {
      semiInformed,
      ignorant: skip.has('ignorant') ? undefined : await run('orig', [a]),
      lazy: skip.has('lazy') ? undefined : await run(a, [a]),
      // A stable persona has a seed per agent: LOCAL_SEED does not apply (no fixed-seed cell).
      fixedSeed: skip.has('fixed') || stable ? undefined : await run(`${a}/same`, [`${a}/same`]),
      crossCall: skip.has('cross-call') ? undefined : await run(a, [b]),
      // Cross-preset costs 7 cells' trials: each path's default mode only (streaming; the API's one).
      crossPreset: others.length > 0 && !mode.startsWith('phrase') && !skip.has('cross-preset') ? await run(a, others) : undefined,
    };
    results[`${mode}/${voice}`] = r;
    rows.push([mode, voice, cell(r.semiInformed), cell(r.ignorant), cell(r.lazy), cell(r.fixedSeed), cell(r.crossCall), cell(r.crossPreset)]);
    console.log(`${rows[rows.length - 1]!.join(' | ')}   (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
}
const trialLine = (() => {
  const any = results[`${modes[0]}/${voices[0]}`] as Record<string, EerResult | undefined> | undefined;
  const one = any && Object.values(any).find((x) => x !== undefined);
  return one ? `${one.targets} target / ${one.nonTargets} non-target trials per cell (cross-preset: x${LOCAL_VOICES.length - 1})` : '';
})();

console.log('\nEER % [95% speaker-bootstrap interval]; higher is more private (50 = chance). ' + trialLine);
printTable(header, rows);

if (!args.includes('--no-asr')) await intelligibility();
const json = opt('json');
if (json) writeFileSync(json, JSON.stringify(results, null, 2));
await closeBridges();

/**
 * Recogniser word error rate, original and masked (seed A), over the English clips. The
 * reference is the clip's transcript where one is known (jfk, aew, axb), else the recogniser's
 * own output on the clip's 16 kHz wideband original (in SHARED, when present):
 * the best transcript to hand, and both the telephone original and the masked voice are scored
 * against the same one.
 */
async function intelligibility(): Promise<void> {
  const wide = (key: string) => path.join(SHARED, `${CLIPS[key]!.name}.wav`);
  const refClips = clips.filter((c) => c.key !== 'thorsten' && (REFERENCES[c.key] || existsSync(wide(c.key))));
  if (refClips.length === 0) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eval-privacy-'));
  try {
    const jobs: Array<{ key: Key; clip: string; file: string }> = [];
    for (const c of refClips) if (!REFERENCES[c.key]) jobs.push({ key: 'wide', clip: c.key, file: wide(c.key) });
    for (const key of ['orig', ...modes.flatMap((m) => asrVoices.map((v) => `${m}/${v}/${SEED_A}`))]) {
      const a = await processed(key);
      for (const c of refClips) {
        const file = path.join(dir, `${key.replaceAll('/', '_')}_${c.key}.wav`);
        writeFileSync(file, encodeWavPcm16(resample(mulawDecode(a.get(c.key)!), 8000, 16000), 16000));
        jobs.push({ key, clip: c.key, file });
      }
    }
    let out: string;
    try {
      out = execFileSync('python3', [path.join(HERE, 'eval-privacy/asr.py'), ...jobs.map((j) => j.file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
    } catch (err) {
      console.log(`\nintelligibility: skipped (${(err as { status?: number }).status === 3 ? 'pip install pocketsphinx to measure it' : (err as Error).message.split('\n')[0]})`);
      return;
    }
    const hyp = new Map(out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; hyp: string }).map((r) => [r.file, r.hyp]));
    const reference = (clip: string) => REFERENCES[clip] ?? hyp.get(jobs.find((j) => j.key === 'wide' && j.clip === clip)!.file) ?? '';
    const werOf = (key: Key) => {
      let err = 0;
      let words = 0;
      for (const j of jobs.filter((x) => x.key === key)) {
        const r = wordErrors(reference(j.clip), hyp.get(j.file) ?? '');
        err += r.errors;
        words += r.words;
      }
      return { wer: err / words, words };
    };
    const orig = werOf('orig');
    console.log(
      `\nIntelligibility: pocketsphinx (en-us) word error rate over ${refClips.length} English clips (${orig.words} reference words; ` +
        `transcripts for ${refClips.filter((c) => REFERENCES[c.key]).map((c) => c.key).join(', ')}, the wideband original's recognition for the rest); 8 kHz upsampled to 16 kHz`,
    );
    const wrows = [['original (telephone)', '-', `${(100 * orig.wer).toFixed(1)}`, '1.00']];
    for (const m of modes)
      for (const v of asrVoices) {
        const w = werOf(`${m}/${v}/${SEED_A}`);
        wrows.push([v, m, `${(100 * w.wer).toFixed(1)}`, (w.wer / orig.wer).toFixed(2)]);
      }
    results.wer = wrows;
    printTable(['voice', 'mode', 'WER %', 'x original'], wrows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(head: string[], body: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  for (const r of body) console.log(line(r));
}
