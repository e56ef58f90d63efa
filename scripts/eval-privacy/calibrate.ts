/**
 * Prints each clip's F1..F3 candidate means as the engine's formant normaliser estimates them
 * (8 kHz mu-law upsampled to 16 kHz, as a call feeds it) and their mean over the speakers in log
 * frequency: the population prior PRIOR_HZ in src/voice/local/speaker-norm.ts; and each clip's
 * pitch spread, whose mean is TYPICAL_SPREAD in src/voice/local/pitch-target.ts.
 *   npx tsx scripts/eval-privacy/calibrate.ts
 */
import { mulawDecode } from '../../src/audio/mulaw.js';
import { initResampler, resample } from '../../src/audio/resampler.js';
import { MaskProcessor } from '../../src/voice/local/processor.js';
import { getPreset } from '../../src/voice/local/presets.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';

await initResampler();
const logs: number[][] = [];
const spreads: number[] = [];
for (const key of Object.keys(CLIPS).filter((k) => k !== 'noisy')) {
  const x = resample(mulawDecode(loadClipMulaw(key)), 8000, 16000);
  const p = new MaskProcessor(getPreset('neutral-male'), 0, { normalise: 0 });
  p.process(x, new Int16Array(x.length + 200));
  const f = p.speakerFormantsHz();
  logs.push(f.map(Math.log));
  spreads.push(p.speakerPitchSpread());
  console.log(key.padEnd(10), f.map((v) => v.toFixed(0).padStart(5)).join(' '), '  pitch spread', p.speakerPitchSpread().toFixed(3));
}
const mean = logs[0]!.map((_, k) => Math.exp(logs.reduce((s, l) => s + l[k]!, 0) / logs.length));
console.log('mean'.padEnd(10), mean.map((v) => v.toFixed(0).padStart(5)).join(' '), '  pitch spread', (spreads.reduce((a, b) => a + b, 0) / spreads.length).toFixed(3));
