/**
 * The hold tone a customer hears while the agents are being dialled: a North American
 * ringback (440 Hz + 480 Hz, 2 s on, 4 s off) at a moderate level, as 8 kHz mu-law.
 *
 * Branded MaskedAudio here, inside src/voice/, because it is safe to play: it is synthesized
 * from two sine waves and carries nothing of anyone's voice. It is computed once.
 */
import { mulawEncode } from '../audio/mulaw.js';
import { asMasked, type MaskedAudio } from './masked.js';

const RATE = 8000;
export const HOLD_TONE_ON_MS = 2000;
export const HOLD_TONE_CYCLE_MS = 6000;
/** Peak amplitude of the sum of the two tones: about -13 dBFS each, -7 dBFS at the peak. */
const AMPLITUDE = 0.22 * 32767;
const RAMP_MS = 10;

let cycle: MaskedAudio | undefined;

/** One 6 s cycle of ringback (2 s tone, 4 s silence), starting with the tone. */
export function holdToneCycle(): MaskedAudio {
  if (cycle) return cycle;
  const n = (RATE * HOLD_TONE_CYCLE_MS) / 1000;
  const on = (RATE * HOLD_TONE_ON_MS) / 1000;
  const ramp = (RATE * RAMP_MS) / 1000;
  const pcm = new Int16Array(n);
  for (let i = 0; i < on; i++) {
    // Short raised-cosine ramps: no click at either edge.
    const edge = Math.min(i, on - 1 - i);
    const g = edge < ramp ? 0.5 - 0.5 * Math.cos((Math.PI * edge) / ramp) : 1;
    const t = i / RATE;
    pcm[i] = Math.round(((Math.sin(2 * Math.PI * 440 * t) + Math.sin(2 * Math.PI * 480 * t)) / 2) * AMPLITUDE * g);
  }
  cycle = asMasked(mulawEncode(pcm));
  return cycle;
}
