/**
 * Voicing kept by the engine, streaming against phrase mode (as a call runs them): the share of
 * the input's voiced 10 ms frames (inside the reference phrases) that are voiced in the output,
 * and the output's median F0 there.
 *   npx tsx scripts/eval-privacy/voicing.ts [clip ...] [--voices a,b]
 */
import { mulawDecode } from '../../src/audio/mulaw.js';
import { initResampler } from '../../src/audio/resampler.js';
import { initLocalEngine, LocalEngine, LOCAL_VOICES } from '../../src/voice/local/index.js';
import { medianVoiced, trackF0 } from '../../src/voice/local/pitch-tracker.js';
import { CLIPS, loadClipMulaw } from '../../tools/clips.js';
import { maskPhrases, maskStreaming } from './masking.js';

const args = process.argv.slice(2);
const vi = args.indexOf('--voices');
const voices = vi >= 0 ? args[vi + 1]!.split(',') : LOCAL_VOICES.map((v) => v.id);
const clips = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--voices');
await initResampler();
await initLocalEngine();
const engine = new LocalEngine({ defaultVoiceId: 'neutral-male', seed: 1 });
for (const key of clips.length ? clips : ['jfk']) {
  const ulaw = loadClipMulaw(key);
  const inF0 = trackF0(mulawDecode(ulaw), 8000);
  const inVoiced = inF0.reduce((n, f) => n + (f > 0 ? 1 : 0), 0);
  console.log(`${key}: ${inVoiced} voiced frames in, median ${medianVoiced(inF0).toFixed(0)} Hz`);
  for (const v of voices) {
    const row = [v.padEnd(15)];
    for (const [mode, y] of [
      ['streaming', maskStreaming(engine, ulaw, v, 1)],
      ['phrase', await maskPhrases(engine, ulaw, CLIPS[key]!.phrases, v, 1)],
    ] as const) {
      const out = trackF0(mulawDecode(y), 8000).map((f, i) => (inF0[i]! > 0 ? f : 0));
      const kept = out.reduce((n, f) => n + (f > 0 ? 1 : 0), 0) / Math.max(1, inVoiced);
      row.push(`${mode} ${kept.toFixed(2)} x voiced, ${medianVoiced(out).toFixed(0).padStart(3)} Hz`);
    }
    console.log('  ' + row.join('   '));
  }
}
