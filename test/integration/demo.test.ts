/**
 * `npm run demo` end to end: the real bridge with the embedded engine, one simulated call with a
 * real 5 s speech clip (in real time, as the demo plays it), the files it writes, and the report
 * as a browser renders it (headless Chromium, when installed).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { parseWav, wavToPcm16 } from '../../src/audio/wav.js';
import type { DemoProgress } from '../../tools/demo/progress.js';
import { REPORT_IDS } from '../../tools/demo/report-html.js';
import { runDemo, type DemoResult } from '../../tools/demo/run-demo.js';
import { formatDemoReport } from '../../tools/demo/text-report.js';
import { findLeakedFrames, mulawDbfs, toFrames } from '../../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';
import { decodePng } from '../helpers/png-decode.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const clip = CLIPS['libri8230']!;

describe('demo', () => {
  let dir: string;
  let r: DemoResult;
  const progress: DemoProgress[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voice-mask-demo-'));
    r = await runDemo({ sample: clip.file, voice: 'deep-male', outDir: dir, onProgress: (p) => progress.push(p) });
  }, 30_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('masks every phrase of the call, on the embedded engine, without leaking the original', () => {
    expect(r.engine).toBe('local');
    expect(r.voice.id).toBe('deep-male');
    expect(r.realtime).toBe(true);
    expect(r.input).toEqual(loadClipMulaw('libri8230'));
    expect(r.summary.phrases).toBe(clip.phrases.length);
    expect(r.summary.answered).toBe(r.summary.phrases);
    expect(r.summary.p95Ms).toBeLessThan(1500);
    expect(r.leakedFrames).toBe(0);
    expect(findLeakedFrames(toFrames(r.input), r.heard)).toBe(0);
    expect(r.informativeFrames).toBeGreaterThan(150);
    // Masked speech is there and about as loud as speech (not silence, not a click).
    const speechFrames = toFrames(r.heard).filter((f) => mulawDbfs(f) > -40).length;
    expect(speechFrames * 20).toBeGreaterThan(2500);
    // The call hung up soon after the masked audio ended, not after a long idle tail.
    expect(r.callMs).toBeLessThan(r.originalMs + 3000);
    expect(r.bridgeWarnings.filter((l) => /"level":(50|60)/.test(l))).toEqual([]); // no errors (warnings such as an underrun under load are tolerated)
  });

  it('reports progress through the call', () => {
    const stages = progress.map((p) => p.stage);
    expect(stages[0]).toBe('starting');
    expect(stages).toContain('calling');
    expect(stages.at(-1)).toBe('done');
    const calling = progress.filter((p) => p.stage === 'calling');
    expect(calling.length).toBeGreaterThan(20); // ten a second
    for (let i = 1; i < calling.length; i++) expect(calling[i]!.elapsedMs).toBeGreaterThanOrEqual(calling[i - 1]!.elapsedMs);
    expect(progress.at(-1)).toMatchObject({ phrasesSpoken: 2, phrasesAnswered: 2, phrasesTotal: 2 });
  });

  it('writes the original and what the caller heard as WAV files', async () => {
    const original = wavToPcm16(parseWav(await readFile(r.files.original)));
    const masked = wavToPcm16(parseWav(await readFile(r.files.masked)));
    expect(original.sampleRate).toBe(8000);
    expect(masked.sampleRate).toBe(8000);
    expect(original.samples).toEqual(mulawDecode(r.input));
    expect(masked.samples).toEqual(mulawDecode(r.heard));
    expect(masked.samples.length).toBeGreaterThanOrEqual(original.samples.length);
  });

  it('writes a self-contained report with both players, waveforms and spectrograms', async () => {
    const html = await readFile(r.files.report, 'utf8');
    const audio = [...html.matchAll(/<audio controls[^>]*id="(audio-\w+)" src="data:audio\/wav;base64,([A-Za-z0-9+/=]+)"/g)];
    expect(audio.map((m) => m[1])).toEqual([REPORT_IDS.audio('original'), REPORT_IDS.audio('masked')]);
    // The players play exactly the files on disk.
    expect(Buffer.from(audio[0]![2]!, 'base64').equals(await readFile(r.files.original))).toBe(true);
    expect(Buffer.from(audio[1]![2]!, 'base64').equals(await readFile(r.files.masked))).toBe(true);
    for (const k of ['original', 'masked'] as const) {
      expect(html).toContain(`<svg class="plot waveform" id="${REPORT_IDS.waveform(k)}"`);
      expect(html).toMatch(new RegExp(`<img class="plot spectrogram" id="${REPORT_IDS.spectrogram(k)}"[^>]*src="data:image/png;base64,`));
    }
    expect(html.match(/<g class="latency">/g)).toHaveLength(2);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\b(?:src|href)="(?!data:)/);
  });

  it('prints a console report with phrases, latency, engine, voice and paths', () => {
    const text = formatDemoReport(r, dir);
    expect(text).toMatch(/engine +Embedded \(offline\) \[local\], streaming mode/);
    expect(text).toMatch(/voice +deep-male: /);
    expect(text).toMatch(/phrases +2 spoken, 2 answered/);
    expect(text).toMatch(/#1 .* latency \d+ ms/);
    expect(text).toMatch(/latency +p50 \d+ ms · p95 \d+ ms/);
    expect(text).toMatch(/leak +none/);
    expect(text).toContain('demo-original.wav');
    expect(text).toContain('demo-masked.wav');
    expect(text).toContain('demo-report.html');
  });

  it.skipIf(!existsSync(CHROMIUM))('renders in headless Chromium: plots drawn, no CSP violations', async () => {
    const shot = join(dir, 'report.png');
    const profile = await mkdtemp(join(tmpdir(), 'voice-mask-chromium-'));
    try {
      const { stderr } = await run(
        CHROMIUM,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          `--user-data-dir=${profile}`,
          '--enable-logging=stderr',
          '--v=0',
          `--screenshot=${shot}`,
          '--window-size=1400,900',
          `file://${r.files.report}`,
        ],
        { timeout: 30_000 },
      );
      // Console messages come through as INFO:CONSOLE lines; a blocked style or script would show here.
      const console = stderr.split('\n').filter((l) => l.includes(':CONSOLE'));
      expect(console.filter((l) => /Content Security Policy|Refused|Uncaught/.test(l))).toEqual([]);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
    expect((await stat(shot)).size).toBeGreaterThan(50_000);
    const img = decodePng(await readFile(shot));
    expect([img.width, img.height]).toEqual([1400, 900]);
    let blue = 0;
    let orange = 0;
    let magma = 0;
    for (let i = 0; i < img.rgb.length; i += 3) {
      const [R, G, B] = [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
      if (R < 110 && G > 140 && G < 200 && B > 200) blue++; // original waveform fill
      if (R > 210 && G > 100 && G < 160 && B < 110) orange++; // masked waveform fill
      if (R > 60 && R < 220 && G < 60 && B > 70 && B < 150) magma++; // spectrogram purples
    }
    expect(blue).toBeGreaterThan(6000);
    expect(orange).toBeGreaterThan(6000);
    expect(magma).toBeGreaterThan(10_000);
  }, 40_000);

  it('CLI: rejects an unknown voice before placing a call, naming the presets', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--voice', 'nope', '--out', dir], { timeout: 30_000 }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/unknown voice "nope".*neutral-male/);
  });
});
