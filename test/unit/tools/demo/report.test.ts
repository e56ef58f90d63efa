import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mulawEncode } from '../../../../src/audio/mulaw.js';
import { encodeWavPcm16, parseWav, wavToPcm16 } from '../../../../src/audio/wav.js';
import { formatProgressLine, ProgressTracker } from '../../../../tools/demo/progress.js';
import { REPORT_IDS, renderReportHtml, type ReportData } from '../../../../tools/demo/report-html.js';
import { envelope, envelopePath } from '../../../../tools/demo/waveform.js';
import { summarizeLatencies, type PhraseLatency } from '../../../../tools/sim/index.js';
import { decodePng } from '../../../helpers/png-decode.js';

const sine = (hz: number, n: number, amp = 0.5) => Int16Array.from({ length: n }, (_, i) => Math.round(amp * 32767 * Math.sin((2 * Math.PI * hz * i) / 8000)));

function reportData(): ReportData {
  const original = sine(300, 8000);
  const masked = new Int16Array(12000);
  masked.set(sine(700, 8000, 0.3), 1000);
  const phrases: PhraseLatency[] = [{ index: 0, startMs: 0, stoppedAtMs: 1000, firstHeardAtMs: 1125, latencyMs: 125 }];
  return {
    sampleName: 'caller <script>.wav',
    engine: 'local',
    engineLabel: 'Embedded (offline)',
    mode: 'streaming',
    voice: { id: 'deep-male', name: 'Deep male', description: 'Low & dark' },
    realtime: true,
    phrases,
    summary: summarizeLatencies(phrases),
    leakedFrames: 0,
    informativeFrames: 50,
    generatedAt: new Date('2026-01-02T03:04:05Z'),
    original: { samples: original, wav: encodeWavPcm16(original, 8000), fileName: 'demo-original.wav' },
    masked: { samples: masked, wav: encodeWavPcm16(masked, 8000), fileName: 'demo-masked.wav' },
  };
}

const cspOf = (html: string) => /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!;
const hashOf = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

describe('renderReportHtml', () => {
  const d = reportData();
  const html = renderReportHtml(d);

  it('embeds a player per track whose data: URI is the exact WAV', () => {
    for (const k of ['original', 'masked'] as const) {
      const m = new RegExp(`<audio controls[^>]*id="${REPORT_IDS.audio(k)}" src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"`).exec(html);
      expect(m, k).not.toBeNull();
      const pcm = wavToPcm16(parseWav(Buffer.from(m![1]!, 'base64'))).samples;
      expect(Buffer.from(pcm.buffer).equals(Buffer.from(d[k].samples.buffer))).toBe(true);
    }
    expect(html.match(/<audio /g)).toHaveLength(2);
  });

  it('draws a waveform and a spectrogram per track on one time axis', () => {
    for (const k of ['original', 'masked'] as const) {
      expect(html).toMatch(new RegExp(`<svg class="plot waveform" id="${REPORT_IDS.waveform(k)}"[^>]*>.*?<path class="wave" d="M`, 's'));
      const img = new RegExp(`<img class="plot spectrogram" id="${REPORT_IDS.spectrogram(k)}"[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).exec(html);
      expect(img, k).not.toBeNull();
      // Both images span the longer track (12000 samples / 80-sample hop = 150 columns).
      const png = decodePng(Buffer.from(img![1]!, 'base64'));
      expect([png.width, png.height]).toEqual([150, 129]);
    }
    // The latency marker sits on the masked waveform only.
    expect(html.match(/<g class="latency">/g)).toHaveLength(1);
    expect(html).toContain('125 ms');
  });

  it('is offline and CSP-locked: nothing to fetch, and the inline style and script match their hashes', () => {
    expect(html).not.toMatch(/\b(?:src|href)="(?!data:)/);
    expect(html).not.toMatch(/https?:\/\//);
    const csp = cspOf(html);
    expect(csp).toContain("default-src 'none'");
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(csp).toContain(`style-src ${hashOf(style)}`);
    expect(csp).toContain(`script-src ${hashOf(script)}`);
    // No inline style attributes (the CSP would block them).
    expect(html).not.toMatch(/\sstyle="/);
  });

  it('shows the summary and escapes what it did not write', () => {
    expect(html).toContain('caller &lt;script&gt;.wav');
    expect(html).not.toContain('caller <script>');
    expect(html).toContain('Deep male');
    expect(html).toContain('Low &amp; dark');
    expect(html).toContain('1 / 1');
  });
});

describe('waveform envelope', () => {
  it('tracks min/max per column and leaves the padding flat', () => {
    const s = new Int16Array(400);
    s.fill(16000, 0, 100);
    s.fill(-8000, 100, 200);
    const env = envelope(s, { columns: 8, totalSamples: 800, peak: 32000 });
    expect(env[0]).toEqual([0, 0.5]);
    expect(env[1]).toEqual([-0.25, 0]);
    expect(env[2]).toEqual([0, 0]);
    expect(env[6]).toEqual([0, 0]);
    const d = envelopePath(s, { columns: 8, totalSamples: 800, peak: 32000 });
    expect(d.startsWith('M0 25.0')).toBe(true);
    expect(d.endsWith('Z')).toBe(true);
  });
});

describe('progress', () => {
  it('counts phrases spoken and answered from masked audio heard after each phrase', () => {
    const t = new ProgressTracker(
      [
        { startMs: 0, endMs: 1000 },
        { startMs: 1500, endMs: 2500 },
      ],
      5500,
    );
    const loud = mulawEncode(sine(400, 160));
    const quiet = new Uint8Array(160).fill(0xff);
    t.media(500, loud); // during phrase 1: streaming output, not an answer yet
    expect(t.snapshot('calling', 900)).toMatchObject({ phrasesSpoken: 0, phrasesAnswered: 0 });
    t.media(1100, loud);
    t.media(1200, quiet);
    let p = t.snapshot('calling', 2600);
    expect(p).toMatchObject({ phrasesSpoken: 2, phrasesAnswered: 1, phrasesTotal: 2, maskedMs: 40 });
    expect(t.finished(2600, 800)).toBe(false); // caller not done
    t.audioEnd(2600);
    t.media(2700, loud);
    expect(t.finished(3000, 800)).toBe(false); // audio still coming
    expect(t.finished(3600, 800)).toBe(true);
    p = t.snapshot('calling', 3600);
    expect(formatProgressLine(p, { barWidth: 10 })).toBe('▶ calling  00:03.6 / 00:05.5 [███████░░░] phrases 2/2 spoken, 2 answered · masked 0.1 s');
    expect(formatProgressLine(t.snapshot('done', 3700), { barWidth: 4, unicode: false })).toBe('* done     00:03.7 / 00:03.7 [####] phrases 2/2 spoken, 2 answered · masked 0.1 s');
  });
});
