/** Gain with a soft limiter: never a hard clip. */

/** -3 dBFS: where the limiter's curve starts. */
const KNEE = 23197;
const ROOM = 32767 - KNEE;

/** Applies a gain in place with a soft limiter above -3 dBFS (no hard clipping). */
export function applyGain(x: Int16Array, gain: number): Int16Array {
  if (gain === 1) return x;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! * gain;
    const a = Math.abs(v);
    x[i] = a <= KNEE ? Math.round(v) : Math.sign(v) * Math.round(KNEE + ROOM * Math.tanh((a - KNEE) / ROOM));
  }
  return x;
}
