/**
 * Short-time Fourier transform (Hann window, fft.js) of PCM16 audio and its rendering as a
 * colour image (low frequencies at the bottom), for the demo report.
 */
import FFT from 'fft.js';
import { encodePngRgb } from './png.js';

export interface SpectrogramOptions {
  /** FFT size (power of two). Default 256 (31 Hz bins at 8 kHz). */
  fftSize?: number;
  /** Samples between frame starts. Default 80 (10 ms at 8 kHz). */
  hop?: number;
}

export interface Spectrogram {
  sampleRate: number;
  fftSize: number;
  hop: number;
  /** Number of time frames. */
  frames: number;
  /** Number of frequency bins (fftSize / 2 + 1, DC to Nyquist). */
  bins: number;
  binHz: number;
  /** dBFS per frame and bin, frame-major: db[frame * bins + bin]. A full-scale sine reads about 0 dB. */
  db: Float32Array;
}

const FLOOR_DB = -140;

export function computeSpectrogram(samples: Int16Array, sampleRate: number, o: SpectrogramOptions = {}): Spectrogram {
  const n = o.fftSize ?? 256;
  const hop = o.hop ?? 80;
  if (n < 4 || (n & (n - 1)) !== 0) throw new RangeError(`fftSize must be a power of two >= 4, got ${n}`);
  if (!Number.isInteger(hop) || hop <= 0) throw new RangeError(`hop must be a positive integer, got ${hop}`);
  const bins = n / 2 + 1;
  const frames = Math.max(1, Math.ceil(samples.length / hop));
  const fft = new FFT(n);
  const window = new Float64Array(n);
  let windowSum = 0;
  for (let i = 0; i < n; i++) {
    window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
    windowSum += window[i]!;
  }
  // A full-scale sine of amplitude 1 peaks at |X| = windowSum / 2.
  const scale = 2 / windowSum;
  const input = new Array<number>(n).fill(0);
  const out = fft.createComplexArray() as number[];
  const db = new Float32Array(frames * bins);
  for (let f = 0; f < frames; f++) {
    // Frames are centred on f * hop so the image lines up with the waveform's time axis.
    const start = f * hop - n / 2;
    for (let i = 0; i < n; i++) {
      const j = start + i;
      input[i] = j >= 0 && j < samples.length ? (samples[j]! / 32768) * window[i]! : 0;
    }
    fft.realTransform(out, input);
    for (let b = 0; b < bins; b++) {
      const re = out[2 * b]!;
      const im = out[2 * b + 1]!;
      const mag = Math.sqrt(re * re + im * im) * scale;
      db[f * bins + b] = mag > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(mag)) : FLOOR_DB;
    }
  }
  return { sampleRate, fftSize: n, hop, frames, bins, binHz: sampleRate / n, db };
}

/** The loudest bin (dB) in a spectrogram, for a colour scale shared between two of them. */
export function peakDb(s: Spectrogram): number {
  let max = FLOOR_DB;
  for (const v of s.db) if (v > max) max = v;
  return max;
}

/** Perceptually ordered dark-to-bright colour stops (after matplotlib's "magma"). */
const MAGMA: ReadonlyArray<readonly [number, number, number]> = [
  [0, 0, 4],
  [28, 16, 68],
  [79, 18, 123],
  [129, 37, 129],
  [181, 54, 122],
  [229, 80, 100],
  [251, 135, 97],
  [254, 194, 135],
  [252, 253, 191],
];

/** Colour for t in [0, 1] on the magma scale. */
export function magma(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (MAGMA.length - 1);
  const i = Math.min(MAGMA.length - 2, Math.floor(x));
  const f = x - i;
  const a = MAGMA[i]!;
  const b = MAGMA[i + 1]!;
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

export interface RenderOptions {
  /** Top of the colour scale (dB). Default: the spectrogram's own peak. */
  topDb?: number;
  /** Dynamic range shown (dB below topDb that maps to black). Default 80. */
  rangeDb?: number;
  /** Frames to draw (pads with the darkest colour past the end): lets two images share a time axis. */
  frames?: number;
}

/**
 * RGB image, one column per frame and one row per bin, highest frequency in the top row.
 * Returns the PNG file bytes with its size.
 */
export function renderSpectrogramPng(s: Spectrogram, o: RenderOptions = {}): { png: Buffer; width: number; height: number } {
  const top = o.topDb ?? peakDb(s);
  const range = o.rangeDb ?? 80;
  const width = Math.max(1, o.frames ?? s.frames);
  const height = s.bins;
  const rgb = new Uint8Array(width * height * 3);
  const lut: Array<[number, number, number]> = [];
  for (let i = 0; i < 256; i++) lut.push(magma(i / 255));
  for (let x = 0; x < width; x++) {
    for (let b = 0; b < s.bins; b++) {
      const v = x < s.frames ? s.db[x * s.bins + b]! : -Infinity;
      const t = (v - (top - range)) / range;
      const c = lut[Math.round(Math.min(1, Math.max(0, t)) * 255)]!;
      const p = ((height - 1 - b) * width + x) * 3;
      rgb[p] = c[0];
      rgb[p + 1] = c[1];
      rgb[p + 2] = c[2];
    }
  }
  return { png: encodePngRgb(width, height, rgb), width, height };
}
