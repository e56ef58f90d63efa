/**
 * What a caller hears while waiting in a line's queue: the embedded hold music (synthesized
 * here: soft sine chords, no recording, no licence beyond this repository's) or the operator's
 * WAV/MP3 file, and the operator's periodic message. All as 8 kHz mu-law.
 *
 * Branded MaskedAudio here, inside src/voice/, because it is safe to play: it carries nothing
 * of anyone on the call (synthesized, or the operator's own recording, decoded at start-up).
 */
import { readFile } from 'node:fs/promises';
import { AudioDecodeError, decodeToMono16k } from '../audio/codecs/decode.js';
import { mulawEncode } from '../audio/mulaw.js';
import { resample } from '../audio/resampler.js';
import { asMasked, type MaskedAudio } from './masked.js';

const RATE = 8000;
/** Longest hold file or message accepted (a loop; longer ones are cut). */
export const MAX_HOLD_FILE_S = 600;

let music: MaskedAudio | undefined;

/** The embedded hold music: a 12 s loop of four soft chords (about -20 dBFS), computed once. */
export function embeddedHoldMusic(): MaskedAudio {
  if (music) return music;
  const chordS = 3;
  // C major, A minor, F major, G major: root, third, fifth (Hz).
  const chords = [
    [261.63, 329.63, 392.0],
    [220.0, 261.63, 329.63],
    [174.61, 220.0, 261.63],
    [196.0, 246.94, 293.66],
  ];
  const per = RATE * chordS;
  const pcm = new Int16Array(per * chords.length);
  const amp = 0.07 * 32767;
  for (const [c, freqs] of chords.entries()) {
    for (let i = 0; i < per; i++) {
      const t = i / RATE;
      // A gentle attack and release per chord, and a slow arpeggio within it.
      const env = Math.min(1, t / 0.08) * Math.min(1, (chordS - t) / 0.4);
      let v = 0;
      for (const [k, f] of freqs!.entries()) {
        const start = k * 0.25;
        const g = t < start ? 0 : Math.min(1, (t - start) / 0.05) * Math.exp(-(t - start) * 0.35);
        v += g * (Math.sin(2 * Math.PI * f * t) + 0.25 * Math.sin(4 * Math.PI * f * t));
      }
      pcm[c * per + i] = Math.round(Math.max(-1, Math.min(1, (v / freqs!.length) * env)) * amp * 2);
    }
  }
  music = asMasked(mulawEncode(pcm));
  return music;
}

/** An operator's WAV or MP3 file as 8 kHz mu-law. Throws Error with a readable reason. */
export async function loadHoldFile(file: string): Promise<MaskedAudio> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const d = await decodeToMono16k(bytes, { maxSeconds: MAX_HOLD_FILE_S });
    const pcm8k = resample(d.pcm16k, 16000, RATE);
    if (pcm8k.length < RATE / 2) throw new Error('holds less than half a second of audio');
    return asMasked(mulawEncode(pcm8k));
  } catch (err) {
    if (err instanceof AudioDecodeError) throw new Error(`does not decode: ${err.message}`);
    throw err;
  }
}
