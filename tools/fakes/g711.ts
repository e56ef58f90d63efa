/**
 * G.711 encoders for the test doubles, written from ITU-T G.711 (the segment tables of the
 * reference "g711.c"): 16-bit linear PCM in, 8-bit mu-law / A-law out. Independent of the
 * product's codec on purpose (tools/fakes import nothing from src/).
 */
const MU_BIAS = 0x84;
const MU_CLIP = 32635;

/** One 16-bit sample to mu-law (silence, 0, is 0xFF). */
export function linearToMulaw(sample: number): number {
  let s = sample | 0;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > MU_CLIP) s = MU_CLIP;
  s += MU_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const A_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/** One 16-bit sample to A-law (even bits inverted, as sent on the wire). */
export function linearToAlaw(sample: number): number {
  let p = (sample | 0) >> 3; // 13-bit magnitude
  let mask: number;
  if (p >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    p = -p - 1;
  }
  let seg = 0;
  while (seg < 8 && p > A_SEG_END[seg]!) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (p >> 1) & 0x0f : (p >> seg) & 0x0f);
  return aval ^ mask;
}

export function mulawEncode(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToMulaw(samples[i]!);
  return out;
}

export function alawEncode(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToAlaw(samples[i]!);
  return out;
}
