/**
 * Prints the phrases the VAD finds in a WAV (any rate/format the WAV reader takes; non-8 kHz
 * input is resampled to 8 kHz and mu-law encoded, as Twilio would send it), or in a fixture clip
 * by key, next to the clip's reference timings. The segmenter is set up as the bridge sets it up
 * (the VAD_* variables and their defaults, micro-pause chunks included); flags override one value:
 *   tsx scripts/segment.ts <file.wav | clip-key | all> [--mode 3] [--start 60] [--preroll 200]
 *       [--hangover 500] [--min 250] [--max 2200] [--chunk 1200 (0: no chunks)] [--chunk-pause 160]
 */
import { readFileSync } from 'node:fs';
import { parseWav, wavToPcm16 } from '../src/audio/wav.js';
import { mulawDecode, mulawEncode, FRAME_BYTES_8K } from '../src/audio/mulaw.js';
import { initResampler, resample } from '../src/audio/resampler.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { segmenterOptions } from '../src/compose/masking-profile.js';
import { initVad, PhraseSegmenter, type SegmenterOptions } from '../src/pipeline/vad/index.js';
import { CLIPS, loadClipMulaw } from '../tools/clips.js';

const args = process.argv.slice(2);
let bridge: SegmenterOptions;
try {
  bridge = segmenterOptions(loadConfig(process.env));
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(2);
}
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`--${name} needs a non-negative number, got "${args[i + 1] ?? ''}"`);
    process.exit(2);
  }
  return v;
};
const opts: SegmenterOptions = {
  mode: opt('mode', bridge.mode),
  startMs: opt('start', bridge.startMs),
  prerollMs: opt('preroll', bridge.prerollMs),
  hangoverMs: opt('hangover', bridge.hangoverMs),
  minPhraseMs: opt('min', bridge.minPhraseMs),
  maxPhraseMs: opt('max', bridge.maxPhraseMs),
  chunkMinMs: opt('chunk', bridge.chunkMinMs ?? 0),
  chunkPauseMs: opt('chunk-pause', bridge.chunkPauseMs ?? 160),
};
const target = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--')));
if (!target) {
  console.error('usage: tsx scripts/segment.ts <file.wav | clip-key | all> [--mode N] [--hangover MS] ...');
  process.exit(2);
}

await initVad();

async function load(t: string): Promise<Uint8Array> {
  if (CLIPS[t]) return loadClipMulaw(t);
  const w = parseWav(readFileSync(t));
  if (w.formatTag === 7 && w.sampleRate === 8000 && w.channels === 1) return w.data;
  const { samples, sampleRate } = wavToPcm16(w);
  await initResampler();
  return mulawEncode(resample(samples, sampleRate, 8000));
}

const fmt = (ms: number) => (ms / 1000).toFixed(2);
for (const key of target === 'all' ? Object.keys(CLIPS) : [target]) {
  const mulaw = await load(key);
  const seg = new PhraseSegmenter(opts);
  const lines: string[] = [];
  let phrases = 0;
  const spans: Array<[number, number]> = [];
  const show = (evs: ReturnType<PhraseSegmenter['push']>) => {
    for (const e of evs) {
      if (e.type === 'phrase') {
        phrases++;
        spans.push([e.startMs / 1000, e.endMs / 1000]);
        lines.push(`  phrase    ${fmt(e.startMs)}-${fmt(e.endMs)}  (${e.reason})`);
      } else if (e.type === 'discarded') lines.push(`  discarded ${fmt(e.startMs)}-${fmt(e.endMs)}`);
    }
  };
  const pcm8 = mulawDecode(mulaw);
  for (let o = 0; o + FRAME_BYTES_8K <= mulaw.length; o += FRAME_BYTES_8K) show(seg.push(pcm8.subarray(o, o + FRAME_BYTES_8K)));
  show(seg.flush());
  seg.close();
  const ref = CLIPS[key]?.phrases;
  let cov = '';
  if (ref) {
    // Reference speech covered by phrases, and phrase time farther than 0.3 s from any reference speech.
    const inter = (a: [number, number], b: [number, number]) => Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]));
    const refTotal = ref.reduce((t, r) => t + r[1] - r[0], 0);
    const covered = ref.reduce((t, r) => t + spans.reduce((u, sp) => u + inter(r, sp), 0), 0);
    const padded: Array<[number, number]> = [];
    for (const [a, b] of ref) {
      const last = padded[padded.length - 1];
      if (last && a - 0.3 <= last[1]) last[1] = b + 0.3;
      else padded.push([a - 0.3, b + 0.3]);
    }
    const sent = spans.reduce((t, sp) => t + sp[1] - sp[0], 0);
    const nearSpeech = spans.reduce((t, sp) => t + padded.reduce((u, r) => u + inter(r, sp), 0), 0);
    cov = ` coverage ${((100 * covered) / refTotal).toFixed(1)}% excess ${(sent - nearSpeech).toFixed(2)}s`;
  }
  console.log(`${key}: ${phrases} phrases${cov}${ref ? ` (reference ${ref.length}: ${ref.map(([a, b]) => `${a}-${b}`).join('; ')})` : ''}`);
  console.log(lines.join('\n'));
}
