/**
 * Evaluates the embedded engine: every preset over the twelve speech clips (telephone 8 kHz
 * mu-law, upsampled to 16 kHz as the bridge does), in phrase and streaming mode.
 *
 *   npm run eval:engine [-- --verbose] [-- --voices deep-male,shift-up] [-- --clips jfk,p240]
 *
 * Clips come from the wideband originals (SHARED below) when that folder exists, else
 * test/fixtures. Targets, measured with the per-speaker formant normalisation and the per-call
 * variation off (the preset's own DSP; npm run eval:privacy measures those): output median F0 (on the frames voiced in the input) within 5% of the preset's
 * (relative presets: of the input's median on the same frames, shifted); formant shift within 10% of the
 * preset's ratio; phrase duration within 20 ms; streaming delay as claimed (<= 60 ms); max
 * normalised input/output cross-correlation over 0..500 ms below 0.3; RTF <= 0.02 per core;
 * no NaN; under 0.1% of samples clipped.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulawDecode } from '../src/audio/mulaw.js';
import { resample } from '../src/audio/resampler.js';
import { parseWav } from '../src/audio/wav.js';
import { initLocalEngine, LocalEngine, LOCAL_VOICES } from '../src/voice/local/index.js';
import { maskWhole } from '../src/voice/local/processor.js';
import { medianVoiced, trackF0 } from '../src/voice/local/pitch-tracker.js';
import { CLIPS } from '../tools/clips.js';
import { averageEnvelope, clipStats, envelopeShiftRatio, maxNormXcorr } from './lib/engine-metrics.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(ROOT, '../shared/testdata/speech');
const SEED = 1;

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const verbose = args.includes('--verbose');
const onlyVoices = opt('voices')?.split(',');
const onlyClips = opt('clips')?.split(',');

interface ClipAudio {
  name: string;
  ulaw: Uint8Array;
}

function loadClips(): { source: string; clips: ClipAudio[] } {
  const read = (file: string) => parseWav(readFileSync(file)).data;
  let clips: ClipAudio[];
  let source: string;
  if (existsSync(SHARED)) {
    source = SHARED;
    clips = readdirSync(SHARED)
      .filter((f) => f.endsWith('_8k_ulaw.wav'))
      .sort()
      .map((f) => ({ name: f.replace('_8k_ulaw.wav', ''), ulaw: read(path.join(SHARED, f)) }));
  } else {
    source = 'test/fixtures';
    clips = Object.values(CLIPS).map((c) => ({ name: c.name, ulaw: read(c.file) }));
  }
  if (onlyClips) clips = clips.filter((c) => onlyClips.some((k) => c.name.includes(k)));
  return { source, clips };
}

interface Row {
  clip: string;
  f0In: number;
  f0Target: number;
  f0Out: number;
  f0Err: number;
  formant: number;
  formantErr: number;
  durDiffMs: number;
  xcorr: number;
  xcorrStream: number;
  delayMs: number;
  streamSnrDb: number;
  rtfPhrase: number;
  rtfStream: number;
  clipPct: number;
  nonFinite: number;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function evalClip(engine: LocalEngine, voiceId: string, clip: ClipAudio): Promise<Row> {
  const preset = LOCAL_VOICES.find((v) => v.id === voiceId)!;
  const x8 = mulawDecode(clip.ulaw);
  const x16 = resample(x8, 8000, 16000);
  const seconds = x8.length / 8000;
  const f0InTrack = trackF0(x16, 16000);
  const f0In = medianVoiced(f0InTrack);

  // Phrase mode, as the bridge calls it (mask, downsample, mu-law).
  let t0 = performance.now();
  const phraseBytes = await collect(engine.convert({ pcm: x8, sampleRate: 8000, voiceId, signal: new AbortController().signal, callKey: 'eval', endedAt: 0 }));
  const rtfPhrase = (performance.now() - t0) / 1000 / seconds;
  const phrase8 = mulawDecode(phraseBytes);

  const stats = { nonFinite: 0 };
  // The preset's own pitch and formant ratio, measured without the per-speaker normalisation and
  // per-call variation (those move each speaker differently by design; npm run eval:privacy
  // measures what they are for).
  const y16 = maskWhole(x16, preset, SEED, { stats, normalise: 0, variation: 0 });

  // Output pitch on the speech frames (voiced in the input): background noise is not the voice.
  const f0OutTrack = trackF0(y16, 16000).map((f, i) => (f0InTrack[i]! > 0 ? f : 0));
  const f0Out = medianVoiced(f0OutTrack);
  // A relative preset's target is the input's median on the same frames (voiced on both sides),
  // shifted: a median over all input-voiced frames against one over the output-voiced subset
  // compares different frame sets (in noise the output's voiced subset leans to the loud, high parts).
  const f0InSame = medianVoiced(f0InTrack.map((f, i) => (f0OutTrack[i]! > 0 ? f : 0)));
  const f0Target = preset.targetF0Hz ?? f0InSame * 2 ** ((preset.pitchSemitones ?? 0) / 12);
  const voiced = Array.from(f0InTrack, (f) => f > 0);
  const formant = envelopeShiftRatio(averageEnvelope(x16, voiced), averageEnvelope(y16, voiced));

  // Streaming mode, frame by frame.
  const stream = engine.openStream({ voiceId });
  const parts: Uint8Array[] = [];
  let busy = 0;
  for (let i = 0; i + 160 <= clip.ulaw.length; i += 160) {
    const f = x8.subarray(i, i + 160);
    t0 = performance.now();
    const out = stream.push(f);
    busy += performance.now() - t0;
    parts.push(out.slice());
  }
  parts.push(stream.flush());
  stream.close();
  const stream8 = mulawDecode(Buffer.concat(parts));
  const rtfStream = busy / 1000 / seconds;
  const align = maxNormXcorr(phrase8, stream8, 800);
  const d = align.lag;
  let num = 0;
  let den = 0;
  for (let i = 0; i < phrase8.length && i + d < stream8.length; i++) {
    num += (stream8[i + d]! - phrase8[i]!) ** 2;
    den += phrase8[i]! ** 2;
  }
  const c16 = clipStats(y16);
  const cs = clipStats(stream8);
  return {
    clip: clip.name,
    f0In,
    f0Target,
    f0Out,
    f0Err: f0Out / f0Target - 1,
    formant,
    formantErr: formant / preset.formantRatio - 1,
    durDiffMs: Math.abs(phraseBytes.length - x8.length) / 8,
    xcorr: maxNormXcorr(x8, phrase8, 4000).value,
    xcorrStream: maxNormXcorr(x8, stream8, 4000).value,
    delayMs: d / 8,
    streamSnrDb: 10 * Math.log10(den / Math.max(1, num)),
    rtfPhrase,
    rtfStream,
    clipPct: 100 * Math.max(c16.clipped, cs.clipped),
    nonFinite: stats.nonFinite,
  };
}

const pct = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`;
const pad = (s: string, n: number) => s.padStart(n);

function printTable(header: string[], rows: string[][]): void {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : pad(c, w[i]!))).join('  ');
  console.log(line(header));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<number> {
  await initLocalEngine();
  const { source, clips } = loadClips();
  const engine = new LocalEngine({ defaultVoiceId: 'neutral-male', seed: SEED });
  const voices = LOCAL_VOICES.filter((v) => !onlyVoices || onlyVoices.includes(v.id));
  // An empty selection would "meet every target" over nothing.
  if (voices.length === 0) throw new Error(`--voices matches no preset; the presets are ${LOCAL_VOICES.map((v) => v.id).join(', ')}`);
  if (clips.length === 0) throw new Error(`--clips matches no clip in ${source}`);
  const total = clips.reduce((s, c) => s + c.ulaw.length / 8000, 0);
  console.log(`embedded engine eval: ${voices.length} presets x ${clips.length} clips (${total.toFixed(0)} s) from ${source}; claimed stream delay ${engine.delayMs} ms\n`);

  // Warm the JIT once so the first clip's timing is not the compiler's.
  if (clips[0]) await evalClip(engine, voices[0]?.id ?? 'neutral-male', clips[0]);

  const summary: string[][] = [];
  const all: Row[] = [];
  let failures = 0;
  for (const v of voices) {
    const rows: Row[] = [];
    for (const c of clips) rows.push(await evalClip(engine, v.id, c));
    all.push(...rows);
    if (verbose) {
      console.log(`${v.id}:`);
      printTable(
        ['clip', 'F0 in', 'target', 'F0 out', 'err', 'formant', 'err', 'xcorr', 'xc strm', 'delay', 'strm SNR', 'clip%'],
        rows.map((r) => [r.clip, r.f0In.toFixed(0), r.f0Target.toFixed(0), r.f0Out.toFixed(1), pct(r.f0Err), r.formant.toFixed(3), pct(r.formantErr), r.xcorr.toFixed(3), r.xcorrStream.toFixed(3), r.delayMs.toFixed(1), r.streamSnrDb.toFixed(1), r.clipPct.toFixed(3)]),
      );
      console.log('');
    }
    const worst = (f: (r: Row) => number) => rows.reduce((m, r) => (Math.abs(f(r)) > Math.abs(m) ? f(r) : m), 0);
    const max = (f: (r: Row) => number) => Math.max(...rows.map(f));
    const mean = (f: (r: Row) => number) => rows.reduce((s, r) => s + f(r), 0) / rows.length;
    const weighted = (f: (r: Row) => number) => rows.reduce((s, r, i) => s + f(r) * clips[i]!.ulaw.length, 0) / rows.reduce((s, _r, i) => s + clips[i]!.ulaw.length, 0);
    const checks = {
      f0: rows.filter((r) => Math.abs(r.f0Err) <= 0.05).length,
      formant: rows.filter((r) => Math.abs(r.formantErr) <= 0.1).length,
      dur: max((r) => r.durDiffMs) <= 20,
      xcorr: max((r) => Math.max(r.xcorr, r.xcorrStream)) < 0.3,
      delay: rows.every((r) => Math.abs(r.delayMs - engine.delayMs) <= 1),
      clip: max((r) => r.clipPct) < 0.1,
      nan: rows.every((r) => r.nonFinite === 0),
    };
    const ok = checks.f0 === rows.length && checks.formant === rows.length && checks.dur && checks.xcorr && checks.delay && checks.clip && checks.nan;
    if (!ok) failures++;
    summary.push([
      v.id,
      v.targetF0Hz ? `${v.targetF0Hz} Hz` : `${v.pitchSemitones! > 0 ? '+' : ''}${v.pitchSemitones} st`,
      `${pct(mean((r) => r.f0Err))} / ${pct(worst((r) => r.f0Err))}`,
      `${checks.f0}/${rows.length}`,
      v.formantRatio.toFixed(2),
      `${mean((r) => r.formant).toFixed(3)} / ${pct(worst((r) => r.formantErr))}`,
      `${checks.formant}/${rows.length}`,
      max((r) => r.durDiffMs).toFixed(1),
      max((r) => Math.max(r.xcorr, r.xcorrStream)).toFixed(3),
      `${Math.min(...rows.map((r) => r.delayMs)).toFixed(1)}-${max((r) => r.delayMs).toFixed(1)}`,
      Math.min(...rows.map((r) => r.streamSnrDb)).toFixed(1),
      weighted((r) => r.rtfPhrase).toFixed(4),
      weighted((r) => r.rtfStream).toFixed(4),
      max((r) => r.clipPct).toFixed(3),
      String(rows.reduce((s, r) => s + r.nonFinite, 0)),
      ok ? 'ok' : 'FAIL',
    ]);
  }
  printTable(
    ['preset', 'target', 'F0 err mean/worst', 'F0<=5%', 'formant', 'measured mean/worst err', '<=10%', 'dur diff ms', 'xcorr max', 'delay ms', 'strm/phrase SNR min dB', 'RTF phrase', 'RTF stream', 'clip% max', 'NaN', ''],
    summary,
  );
  const rtfP = all.reduce((s, r) => Math.max(s, r.rtfPhrase), 0);
  const rtfS = all.reduce((s, r) => Math.max(s, r.rtfStream), 0);
  console.log(`\nworst clip RTF: phrase ${rtfP.toFixed(4)}, stream ${rtfS.toFixed(4)} (goal <= 0.02)`);
  console.log(failures === 0 ? 'all presets meet the targets' : `${failures} preset(s) miss a target (see FAIL rows; --verbose for per-clip figures)`);
  return failures === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`eval:engine: ${(err as Error).message}`);
  process.exitCode = 2;
}
