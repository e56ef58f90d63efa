/**
 * The attacker's features: telephone-band MFCCs at 8 kHz (25 ms Hamming frames, 10 ms hop,
 * pre-emphasis 0.97, 24 mel filters over 300-3400 Hz, c1..c19), deltas over +-2 frames, frames
 * below the segment's loudest minus 30 dB dropped, cepstral mean normalisation per segment.
 * Returns one Float64Array of frames x DIM values (row-major).
 */
import FFT from 'fft.js';

const RATE = 8000;
const FRAME = 200;
const HOP = 80;
const NFFT = 256;
const NFILT = 24;
const LO_HZ = 300;
const HI_HZ = 3400;
export const NCEP = 19;
export const DIM = 2 * NCEP;
const DELTA = 2;
const ENERGY_RANGE_DB = 30;

const mel = (f: number) => 2595 * Math.log10(1 + f / 700);
const imel = (m: number) => 700 * (10 ** (m / 2595) - 1);

const hamming = Float64Array.from({ length: FRAME }, (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (FRAME - 1)));
/** Triangular filters as [first bin, weights...]. */
const filters: Array<{ from: number; w: Float64Array }> = (() => {
  const edges = Array.from({ length: NFILT + 2 }, (_, i) => imel(mel(LO_HZ) + ((mel(HI_HZ) - mel(LO_HZ)) * i) / (NFILT + 1)));
  const bin = (f: number) => (f * NFFT) / RATE;
  const out: Array<{ from: number; w: Float64Array }> = [];
  for (let m = 1; m <= NFILT; m++) {
    const [l, c, r] = [bin(edges[m - 1]!), bin(edges[m]!), bin(edges[m + 1]!)];
    const from = Math.ceil(l);
    const to = Math.floor(r);
    const w = new Float64Array(Math.max(0, to - from + 1));
    for (let k = from; k <= to; k++) w[k - from] = k <= c ? (k - l) / (c - l) : (r - k) / (r - c);
    out.push({ from, w });
  }
  return out;
})();
const dct = Array.from({ length: NCEP }, (_, q) =>
  Float64Array.from({ length: NFILT }, (_, m) => Math.cos((Math.PI * (q + 1) * (m + 0.5)) / NFILT)),
);

/** Static cepstra and frame log energy of 8 kHz PCM (int16 scale). */
function cepstra(pcm: ArrayLike<number>): { ceps: Float64Array[]; energyDb: number[] } {
  const fft = new FFT(NFFT);
  const buf = new Float64Array(NFFT);
  const spec = fft.createComplexArray() as number[];
  const ceps: Float64Array[] = [];
  const energyDb: number[] = [];
  const logMel = new Float64Array(NFILT);
  for (let s = 0; s + FRAME <= pcm.length; s += HOP) {
    buf.fill(0);
    let e = 0;
    for (let i = 0; i < FRAME; i++) {
      const v = (pcm[s + i]! - 0.97 * (s + i > 0 ? pcm[s + i - 1]! : 0)) * hamming[i]!;
      buf[i] = v;
      e += v * v;
    }
    fft.realTransform(spec, buf);
    for (let m = 0; m < NFILT; m++) {
      const { from, w } = filters[m]!;
      let acc = 0;
      for (let k = 0; k < w.length; k++) {
        const re = spec[2 * (from + k)]!;
        const im = spec[2 * (from + k) + 1]!;
        acc += w[k]! * (re * re + im * im);
      }
      logMel[m] = Math.log(acc + 1e-3);
    }
    const c = new Float64Array(NCEP);
    for (let q = 0; q < NCEP; q++) {
      let acc = 0;
      for (let m = 0; m < NFILT; m++) acc += dct[q]![m]! * logMel[m]!;
      c[q] = acc;
    }
    ceps.push(c);
    energyDb.push(10 * Math.log10(e / FRAME + 1e-9));
  }
  return { ceps, energyDb };
}

/** Features (frames x DIM, row-major) of one segment; empty when it has no frames. */
export function mfccFeatures(pcm: ArrayLike<number>): { data: Float64Array; frames: number } {
  const { ceps, energyDb } = cepstra(pcm);
  const n = ceps.length;
  if (n === 0) return { data: new Float64Array(0), frames: 0 };
  const top = Math.max(...energyDb);
  const norm = DELTA * (DELTA + 1) * (2 * DELTA + 1) / 3;
  const keep: number[] = [];
  for (let t = 0; t < n; t++) if (energyDb[t]! > top - ENERGY_RANGE_DB) keep.push(t);
  const data = new Float64Array(keep.length * DIM);
  keep.forEach((t, row) => {
    const o = row * DIM;
    for (let q = 0; q < NCEP; q++) {
      data[o + q] = ceps[t]![q]!;
      let d = 0;
      for (let k = 1; k <= DELTA; k++) d += k * (ceps[Math.min(n - 1, t + k)]![q]! - ceps[Math.max(0, t - k)]![q]!);
      data[o + NCEP + q] = d / norm;
    }
  });
  // CMN over the kept frames (statics; deltas are mean-free already, normalised the same way).
  const frames = keep.length;
  for (let d = 0; d < DIM; d++) {
    let mean = 0;
    for (let r = 0; r < frames; r++) mean += data[r * DIM + d]!;
    mean /= frames;
    for (let r = 0; r < frames; r++) data[r * DIM + d]! -= mean;
  }
  return { data, frames };
}
