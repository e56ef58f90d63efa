/**
 * The demo report: one self-contained HTML file (no network, strict CSP) that shows the
 * original and the masked audio side by side: a player, a waveform and a spectrogram each, on a
 * shared time axis, with the call's phrases, latencies and engine.
 */
import { createHash } from 'node:crypto';
import type { LatencySummary, PhraseLatency } from '../sim/index.js';
import { pngDataUri } from './png.js';
import { computeSpectrogram, peakDb, renderSpectrogramPng } from './spectrogram.js';
import { envelopePath, peakAbs } from './waveform.js';

export interface ReportTrack {
  /** 8 kHz mono samples. */
  samples: Int16Array;
  /** The WAV file the player plays (embedded as a data: URI). */
  wav: Uint8Array;
  /** File name shown under the player. */
  fileName: string;
}

export interface ReportData {
  /** The input clip's name (file name or path). */
  sampleName: string;
  /** 'local' or 'elevenlabs', and how it is described to people. */
  engine: string;
  engineLabel: string;
  /** 'streaming' or 'phrase'. */
  mode: string;
  voice: { id: string; name?: string; description?: string };
  realtime: boolean;
  phrases: PhraseLatency[];
  summary: LatencySummary;
  /** Input frames whose exact bytes came back out (0 = no leak of the original voice). */
  leakedFrames: number;
  informativeFrames?: number;
  generatedAt: Date;
  original: ReportTrack;
  masked: ReportTrack;
  sampleRate?: number;
}

/** Ids and classes the report uses (tests and styles share them). */
export const REPORT_IDS = {
  audio: (k: TrackKey) => `audio-${k}`,
  waveform: (k: TrackKey) => `waveform-${k}`,
  spectrogram: (k: TrackKey) => `spectrogram-${k}`,
} as const;
export type TrackKey = 'original' | 'masked';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const sec = (ms: number | undefined, digits = 1): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(digits)} s`);
const msText = (ms: number | undefined): string => (ms === undefined ? '–' : `${Math.round(ms)} ms`);

const WAVE_COLUMNS = 1000;
const WAVE_HEIGHT = 100;
const AXIS_WIDTH = 640;

function tickStep(totalSec: number): number {
  for (const s of [0.5, 1, 2, 5, 10, 15, 30, 60]) if (totalSec / s <= 14) return s;
  return 120;
}

function timeAxisSvg(totalMs: number): string {
  const total = totalMs / 1000;
  const step = tickStep(total);
  const parts: string[] = [];
  for (let t = 0; t <= total + 1e-9; t += step) {
    const x = (t / total) * AXIS_WIDTH;
    const anchor = t === 0 ? 'start' : x > AXIS_WIDTH - 12 ? 'end' : 'middle';
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="0" y2="5"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="17" text-anchor="${anchor}">${Number.isInteger(t) ? t : t.toFixed(1)}s</text>`);
  }
  return `<svg class="time-axis" viewBox="0 0 ${AXIS_WIDTH} 20" aria-hidden="true">${parts.join('')}</svg>`;
}

function waveformSvg(key: TrackKey, track: ReportTrack, o: { totalSamples: number; peak: number; data: ReportData }): string {
  const msToX = (ms: number) => ((ms * 8) / o.totalSamples) * WAVE_COLUMNS;
  const spans: string[] = [];
  const marks: string[] = [];
  for (const p of o.data.phrases) {
    const x = msToX(p.startMs);
    const w = Math.max(1, msToX(p.stoppedAtMs) - x);
    spans.push(`<rect class="${key === 'original' ? 'phrase' : 'phrase ghost'}" x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${WAVE_HEIGHT}"><title>phrase ${p.index + 1}: ${sec(p.startMs, 2)} – ${sec(p.stoppedAtMs, 2)}</title></rect>`);
    if (key === 'masked' && p.firstHeardAtMs !== undefined) {
      const x1 = msToX(p.stoppedAtMs);
      const x2 = msToX(p.firstHeardAtMs);
      marks.push(
        `<g class="latency"><line x1="${x1.toFixed(1)}" x2="${x2.toFixed(1)}" y1="6" y2="6"/><line class="heard" x1="${x2.toFixed(1)}" x2="${x2.toFixed(1)}" y1="0" y2="${WAVE_HEIGHT}"/><title>phrase ${p.index + 1}: speaker stopped at ${sec(p.stoppedAtMs, 2)}, masked audio heard at ${sec(p.firstHeardAtMs, 2)} (${msText(p.latencyMs)})</title></g>`,
      );
    }
  }
  const path = envelopePath(track.samples, { columns: WAVE_COLUMNS, totalSamples: o.totalSamples, peak: o.peak, height: WAVE_HEIGHT });
  return (
    `<svg class="plot waveform" id="${REPORT_IDS.waveform(key)}" viewBox="0 0 ${WAVE_COLUMNS} ${WAVE_HEIGHT}" preserveAspectRatio="none" role="img" aria-label="${key} waveform">` +
    `<line class="midline" x1="0" x2="${WAVE_COLUMNS}" y1="${WAVE_HEIGHT / 2}" y2="${WAVE_HEIGHT / 2}"/>` +
    spans.join('') +
    `<path class="wave" d="${path}"/>` +
    marks.join('') +
    `</svg>`
  );
}

function trackPanel(key: TrackKey, title: string, subtitle: string, track: ReportTrack, spectrogramUri: string, o: { totalSamples: number; peak: number; data: ReportData; axisMs: number }): string {
  const durationMs = (track.samples.length / 8000) * 1000;
  return `
    <section class="track ${key}" data-axis-seconds="${(o.axisMs / 1000).toFixed(3)}">
      <header>
        <h2>${esc(title)}</h2>
        <p>${esc(subtitle)}</p>
      </header>
      <audio controls preload="auto" class="player" id="${REPORT_IDS.audio(key)}" src="data:audio/wav;base64,${Buffer.from(track.wav).toString('base64')}"></audio>
      <p class="file">${esc(track.fileName)} · ${sec(durationMs)} · 8 kHz</p>
      <h3>Waveform</h3>
      <div class="plot-row">
        <div class="y-axis"><span>+</span><span>0</span><span>−</span></div>
        <div class="plot-wrap">${waveformSvg(key, track, o)}<div class="playhead"></div></div>
      </div>
      <h3>Spectrogram <span class="hint">0–4 kHz, 256-point STFT, shared colour scale</span></h3>
      <div class="plot-row">
        <div class="y-axis"><span>4k</span><span>3k</span><span>2k</span><span>1k</span><span>0</span></div>
        <div class="plot-wrap"><img class="plot spectrogram" id="${REPORT_IDS.spectrogram(key)}" alt="${key} spectrogram" src="${spectrogramUri}"><div class="playhead"></div></div>
      </div>
      <div class="plot-row"><div class="y-axis"></div>${timeAxisSvg(o.axisMs)}</div>
    </section>`;
}

const STYLE = `
:root { color-scheme: dark; --bg:#0f1117; --panel:#171a23; --line:#262b38; --text:#e6e8ef; --muted:#8b93a7;
  --orig:#5ab0ff; --mask:#ff8a5c; --accent:#ffd166; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1360px; margin:0 auto; padding:22px 28px 28px; }
h1 { font-size:22px; margin:0; font-weight:650; letter-spacing:.2px; }
h1 small { color:var(--muted); font-weight:400; font-size:14px; margin-left:8px; }
.lede { color:var(--muted); margin:4px 0 16px; }
.cards { display:grid; grid-template-columns:minmax(0,1.35fr) minmax(0,1.6fr) minmax(0,.8fr) minmax(0,1fr) minmax(0,1fr) minmax(0,1.25fr); gap:10px; margin-bottom:16px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:10px 14px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.6px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.card .v { font-size:19px; font-weight:600; margin-top:2px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.card .s { color:var(--muted); font-size:12px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.card .ok { color:#7bd88f; }
.tracks { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
.track { background:var(--panel); border:1px solid var(--line); border-radius:12px; padding:14px 16px 10px; border-top:3px solid var(--c); }
.track.original { --c:var(--orig); } .track.masked { --c:var(--mask); }
.track header { display:flex; align-items:baseline; gap:10px; }
.track h2 { margin:0; font-size:17px; color:var(--c); }
.track header p { margin:0; color:var(--muted); }
.track h3 { margin:10px 0 4px; font-size:12px; font-weight:600; color:var(--muted); text-transform:uppercase; letter-spacing:.6px; }
.track h3 .hint { text-transform:none; letter-spacing:0; font-weight:400; opacity:.8; margin-left:6px; }
.player { width:100%; margin-top:10px; height:36px; }
.file { margin:2px 0 0; color:var(--muted); font-size:12px; }
.plot-row { display:flex; gap:6px; }
.y-axis { width:26px; flex:none; display:flex; flex-direction:column; justify-content:space-between; align-items:flex-end; color:var(--muted); font-size:10px; }
.plot-wrap { position:relative; flex:1; min-width:0; border-radius:6px; overflow:hidden; background:#0b0d12; cursor:crosshair; }
.plot { display:block; width:100%; }
svg.waveform { height:120px; }
img.spectrogram { height:170px; image-rendering:auto; }
.wave { fill:var(--c); fill-opacity:.9; }
.midline { stroke:var(--line); stroke-width:1; vector-effect:non-scaling-stroke; }
.phrase { fill:var(--orig); fill-opacity:.13; }
.phrase.ghost { fill:#ffffff; fill-opacity:.06; }
.latency line { stroke:var(--accent); stroke-width:2; vector-effect:non-scaling-stroke; }
.latency line.heard { stroke-dasharray:3 3; stroke-width:1; }
.time-axis { flex:1; min-width:0; display:block; width:100%; height:auto; margin-top:2px; }
.time-axis line { stroke:var(--muted); } .time-axis text { fill:var(--muted); font-size:11px; font-family:inherit; }
.playhead { position:absolute; top:0; bottom:0; left:0; width:2px; background:#fff; box-shadow:0 0 6px #fff; opacity:0; pointer-events:none; }
.playhead.on { opacity:.85; }
table { width:100%; border-collapse:collapse; margin-top:16px; background:var(--panel); border:1px solid var(--line); border-radius:10px; overflow:hidden; }
th, td { text-align:right; padding:6px 12px; border-bottom:1px solid var(--line); font-variant-numeric:tabular-nums; }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:500; font-size:12px; text-transform:uppercase; letter-spacing:.5px; }
tr:last-child td { border-bottom:none; }
.missed { color:#ff6b6b; }
.legend { display:flex; gap:18px; color:var(--muted); font-size:12px; margin-top:10px; }
.legend i { display:inline-block; width:14px; height:10px; vertical-align:middle; margin-right:6px; border-radius:2px; }
.legend .lp { background:rgba(90,176,255,.35); } .legend .ll { background:var(--accent); height:3px; }
footer { color:var(--muted); font-size:12px; margin-top:14px; }
@media (max-width:900px) { .tracks { grid-template-columns:1fr; } .cards { grid-template-columns:repeat(2,1fr); } }
`;

const SCRIPT = `
document.querySelectorAll('.track').forEach(function (t) {
  var a = t.querySelector('audio');
  var axis = Number(t.getAttribute('data-axis-seconds')) || 1;
  var heads = t.querySelectorAll('.playhead');
  function draw() {
    var f = Math.min(1, a.currentTime / axis);
    heads.forEach(function (h) { h.style.left = (f * 100) + '%'; h.classList.toggle('on', a.currentTime > 0); });
    if (!a.paused) requestAnimationFrame(draw);
  }
  ['play', 'seeked', 'timeupdate', 'ended'].forEach(function (e) { a.addEventListener(e, draw); });
  t.querySelectorAll('.plot-wrap').forEach(function (p) {
    p.addEventListener('click', function (e) {
      var r = p.getBoundingClientRect();
      var s = ((e.clientX - r.left) / r.width) * axis;
      if (isFinite(a.duration) && s < a.duration) { a.currentTime = s; a.play(); }
    });
  });
});
`;

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

export function renderReportHtml(d: ReportData): string {
  const rate = d.sampleRate ?? 8000;
  const totalSamples = Math.max(d.original.samples.length, d.masked.samples.length, 1);
  const axisMs = (totalSamples / rate) * 1000;
  const peak = Math.max(peakAbs(d.original.samples), peakAbs(d.masked.samples));

  const specO = computeSpectrogram(d.original.samples, rate);
  const specM = computeSpectrogram(d.masked.samples, rate);
  const topDb = Math.max(peakDb(specO), peakDb(specM));
  const frames = Math.ceil(totalSamples / specO.hop);
  const pngO = pngDataUri(renderSpectrogramPng(specO, { topDb, rangeDb: 80, frames }).png);
  const pngM = pngDataUri(renderSpectrogramPng(specM, { topDb, rangeDb: 80, frames }).png);

  const s = d.summary;
  const voiceName = d.voice.name ? `${d.voice.name}` : d.voice.id;
  const leak =
    d.leakedFrames === 0
      ? `<div class="v ok">none</div><div class="s">0${d.informativeFrames !== undefined ? ` of ${d.informativeFrames}` : ''} input frames echoed</div>`
      : `<div class="v missed">${d.leakedFrames} frames</div><div class="s">input frames found verbatim in the output</div>`;
  const cards = `
    <div class="cards">
      <div class="card"><div class="k">Engine</div><div class="v">${esc(d.engineLabel)}</div><div class="s">${esc(d.engine)} · ${esc(d.mode)} mode</div></div>
      <div class="card"><div class="k">Voice</div><div class="v">${esc(voiceName)}</div><div class="s" title="${esc(d.voice.description ?? '')}">${esc(d.voice.id)}${d.voice.description ? ` · ${esc(d.voice.description)}` : ''}</div></div>
      <div class="card"><div class="k">Phrases</div><div class="v">${s.answered} / ${s.phrases}</div><div class="s">answered${s.missed ? ` · <span class="missed">${s.missed} missed</span>` : ''}</div></div>
      <div class="card"><div class="k">Latency p50</div><div class="v">${msText(s.p50Ms)}</div><div class="s">speaker stops → heard</div></div>
      <div class="card"><div class="k">Latency p95</div><div class="v">${msText(s.p95Ms)}</div><div class="s">max ${msText(s.maxMs)}</div></div>
      <div class="card"><div class="k">Original voice leaked</div>${leak}</div>
    </div>`;

  const rows = d.phrases
    .map(
      (p) =>
        `<tr><td>${p.index + 1}</td><td>${sec(p.startMs, 2)}</td><td>${sec(p.stoppedAtMs, 2)}</td><td>${p.firstHeardAtMs === undefined ? '<span class="missed">not heard</span>' : sec(p.firstHeardAtMs, 2)}</td><td>${p.latencyMs === undefined ? '–' : msText(p.latencyMs)}</td></tr>`,
    )
    .join('');
  const ctx = { totalSamples, peak, data: d, axisMs };
  const originalMs = (d.original.samples.length / rate) * 1000;
  const maskedMs = (d.masked.samples.length / rate) * 1000;
  const csp = `default-src 'none'; img-src data:; media-src data:; style-src ${sha256(STYLE)}; script-src ${sha256(SCRIPT)}; base-uri 'none'; form-action 'none'`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>voice-mask demo: ${esc(d.sampleName)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
  <h1>voice-mask demo <small>${esc(d.sampleName)}</small></h1>
  <p class="lede">The same phone call before and after masking: the caller's own voice (left) and what the other party heard through the bridge (right), on one time axis. Play either track; click a plot to jump.</p>
  ${cards}
  <div class="tracks">
    ${trackPanel('original', 'Original', 'what the caller said', d.original, pngO, ctx)}
    ${trackPanel('masked', 'Masked', 'what the other party heard', d.masked, pngM, ctx)}
  </div>
  <div class="legend"><span><i class="lp"></i>phrase spoken</span><span><i class="ll"></i>latency: speaker stopped → masked audio heard</span></div>
  <table>
    <thead><tr><th>Phrase</th><th>Speech from</th><th>Speaker stopped</th><th>Masked audio heard</th><th>Latency</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="5">no phrases detected</td></tr>'}</tbody>
  </table>
  <footer>Original ${sec(originalMs)} · call ${sec(maskedMs)} (${d.realtime ? 'played in real time' : 'fast mode: caller audio sent faster than real time, so latencies are not representative'}) · generated ${esc(d.generatedAt.toISOString())} by <code>npm run demo</code>. Everything is embedded in this file; it loads nothing from the network.</footer>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
