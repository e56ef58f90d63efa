/** The demo's console report. */
import type { DemoResult } from './run-demo.js';
import { displayPath } from './run-demo.js';

const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ms = (v: number | undefined) => (v === undefined ? '–' : `${Math.round(v)} ms`);

export function formatDemoReport(r: DemoResult, cwd = process.cwd()): string {
  const sum = r.summary;
  const lines = [
    'voice-mask demo',
    `  sample    ${displayPath(r.sample, cwd)} (${(r.originalMs / 1000).toFixed(1)} s, ${r.realtime ? 'played in real time' : 'fast mode'})`,
    `  engine    ${r.engineLabel} [${r.engine}], ${r.mode} mode`,
    `  voice     ${r.voice.id}: ${r.voice.description}`,
    `  phrases   ${sum.phrases} spoken, ${sum.answered} answered${sum.missed ? `, ${sum.missed} MISSED` : ''}`,
  ];
  for (const p of r.phrases) {
    const heard = p.firstHeardAtMs === undefined ? 'no masked audio heard' : `heard at ${s2(p.firstHeardAtMs)}, latency ${ms(p.latencyMs)}`;
    lines.push(`    #${p.index + 1}  ${s2(p.startMs)} – ${s2(p.stoppedAtMs)}  ${heard}`);
  }
  lines.push(`  latency   p50 ${ms(sum.p50Ms)} · p95 ${ms(sum.p95Ms)} · max ${ms(sum.maxMs)} (speaker stops → masked audio heard)`);
  lines.push(
    `  leak      ${r.leakedFrames === 0 ? 'none' : `${r.leakedFrames} FRAMES`}: ${r.leakedFrames} of ${r.informativeFrames} input frames found verbatim in the output`,
  );
  const errors = r.call.protocolErrors;
  if (errors.length) lines.push(`  protocol  ${errors.length} ERRORS (messages Twilio would reject), first: ${errors[0]}`);
  lines.push(`  wrote     ${displayPath(r.files.original, cwd)}  (the caller's voice)`);
  lines.push(`            ${displayPath(r.files.masked, cwd)}  (what the other party heard, ${(r.callMs / 1000).toFixed(1)} s)`);
  lines.push(`            ${displayPath(r.files.report, cwd)}  (open it in a browser: players, waveforms, spectrograms)`);
  return lines.join('\n');
}
