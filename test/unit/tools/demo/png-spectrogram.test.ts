import { describe, expect, it } from 'vitest';
import { encodePngRgb, pngDataUri } from '../../../../tools/demo/png.js';
import { computeSpectrogram, magma, peakDb, renderSpectrogramPng } from '../../../../tools/demo/spectrogram.js';
import { decodePng } from '../../../helpers/png-decode.js';

const sine = (hz: number, seconds: number, amp = 0.5, rate = 8000) =>
  Int16Array.from({ length: Math.round(seconds * rate) }, (_, i) => Math.round(amp * 32767 * Math.sin((2 * Math.PI * hz * i) / rate)));

/** Sum of R+G+B in one image row. */
const rowBrightness = (img: { width: number; rgb: Uint8Array }, y: number) => {
  let s = 0;
  for (let x = 0; x < img.width; x++) s += img.rgb[(y * img.width + x) * 3]! + img.rgb[(y * img.width + x) * 3 + 1]! + img.rgb[(y * img.width + x) * 3 + 2]!;
  return s;
};

describe('PNG encoder', () => {
  it('round-trips pixels through a strict decoder (signature, CRCs, deflate, rows)', () => {
    const w = 7;
    const h = 5;
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const png = encodePngRgb(w, h, rgb);
    const d = decodePng(png);
    expect(d.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(d.filters.every((f) => f === 0)).toBe(true);
    expect([d.width, d.height]).toEqual([w, h]);
    expect(Buffer.from(d.rgb).equals(Buffer.from(rgb))).toBe(true);
    expect(pngDataUri(png)).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  });

  it('rejects a pixel buffer of the wrong size', () => {
    expect(() => encodePngRgb(2, 2, new Uint8Array(11))).toThrow(/12 RGB bytes/);
    expect(() => encodePngRgb(0, 2, new Uint8Array(0))).toThrow(RangeError);
  });
});

describe('spectrogram', () => {
  it('puts a 1 kHz tone in bin 32 of a 256-point STFT at about its level', () => {
    const s = computeSpectrogram(sine(1000, 1, 0.5), 8000);
    expect(s.bins).toBe(129);
    expect(s.binHz).toBe(31.25);
    expect(s.frames).toBe(100); // 10 ms hop
    const mid = 50;
    let best = 0;
    for (let b = 0; b < s.bins; b++) if (s.db[mid * s.bins + b]! > s.db[mid * s.bins + best]!) best = b;
    expect(best).toBe(32);
    expect(s.db[mid * s.bins + best]!).toBeCloseTo(20 * Math.log10(0.5), 0); // -6 dBFS
    // Far from the tone, the Hann window keeps leakage way down.
    expect(s.db[mid * s.bins + 96]!).toBeLessThan(-80);
  });

  it('renders the tone as the brightest image row, at the right height (high frequencies on top)', () => {
    for (const hz of [500, 2500]) {
      const s = computeSpectrogram(sine(hz, 0.5), 8000);
      const { png, width, height } = renderSpectrogramPng(s);
      const img = decodePng(png);
      expect([img.width, img.height]).toEqual([width, height]);
      expect(height).toBe(129);
      let brightest = 0;
      for (let y = 0; y < height; y++) if (rowBrightness(img, y) > rowBrightness(img, brightest)) brightest = y;
      const bin = height - 1 - brightest;
      expect(bin * s.binHz).toBeCloseTo(hz, -1.5); // within ~16 Hz: the tone's own bin
    }
  });

  it('pads to a requested width with the darkest colour and shares a colour scale', () => {
    const loud = computeSpectrogram(sine(1000, 0.2, 0.8), 8000);
    const quiet = computeSpectrogram(sine(1000, 0.2, 0.008), 8000);
    const top = Math.max(peakDb(loud), peakDb(quiet));
    expect(top).toBeCloseTo(peakDb(loud), 6);
    const l = decodePng(renderSpectrogramPng(loud, { topDb: top, frames: 40 }).png);
    const q = decodePng(renderSpectrogramPng(quiet, { topDb: top, frames: 40 }).png);
    expect(l.width).toBe(40);
    // Column 35 is past the 20 frames of audio: magma's darkest colour.
    const px = (img: typeof l, x: number, y: number) => Array.from(img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
    expect(px(l, 35, 96)).toEqual(magma(0));
    // 40 dB quieter on the same scale is visibly darker on the tone's row.
    expect(rowBrightness(q, 96)).toBeLessThan(rowBrightness(l, 96) * 0.8);
  });

  it('rejects a non-power-of-two FFT size', () => {
    expect(() => computeSpectrogram(new Int16Array(100), 8000, { fftSize: 200 })).toThrow(/power of two/);
  });
});
