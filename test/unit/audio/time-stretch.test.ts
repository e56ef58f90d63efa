import { describe, expect, it } from 'vitest';
import { TimeStretcher } from '../../../src/audio/time-stretch.js';
import { concatChunks } from '../../../src/voice/local/processor.js';

const RATE = 16000;
const tone = (hz: number, seconds: number) => Int16Array.from({ length: RATE * seconds }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / RATE)));

/** The shortest lag (2.5..20 ms) whose autocorrelation is within 5% of the best: the period. */
function period(x: Int16Array): number {
  const r: number[] = [];
  for (let lag = 40; lag <= 320; lag++) {
    let acc = 0;
    for (let i = 0; i + lag < x.length; i++) acc += x[i]! * x[i + lag]!;
    r.push(acc / (x.length - lag));
  }
  const max = Math.max(...r);
  for (let k = 1; k < r.length - 1; k++) if (r[k]! >= 0.95 * max && r[k]! >= r[k - 1]! && r[k]! >= r[k + 1]!) return k + 40;
  return 0;
}

function stretch(x: Int16Array, speed: number, piece: number): Int16Array {
  const s = new TimeStretcher(speed);
  const parts: Int16Array[] = [];
  for (let o = 0; o < x.length; o += piece) parts.push(s.push(x.subarray(o, o + piece)));
  parts.push(s.end());
  return concatChunks(parts);
}

describe('TimeStretcher (WSOLA)', () => {
  it('changes the length by 1/speed, exactly, and keeps the pitch', () => {
    const x = tone(160, 2); // a 100-sample period
    for (const speed of [0.7, 0.85, 1.1, 1.2]) {
      const y = stretch(x, speed, 640);
      expect(y.length, `speed ${speed}`).toBe(Math.round(x.length / speed));
      expect(period(y.subarray(1600, y.length - 1600)), `speed ${speed}`).toBe(100);
      // no dropouts: the level holds through the middle
      let min = Infinity;
      for (let o = 1600; o + 320 < y.length - 1600; o += 320) {
        let e = 0;
        for (let i = o; i < o + 320; i++) e += y[i]! * y[i]!;
        min = Math.min(min, Math.sqrt(e / 320));
      }
      expect(min / (8000 / Math.SQRT2), `speed ${speed}`).toBeGreaterThan(0.8);
    }
  });

  it('gives the same output however the input is cut', () => {
    const x = tone(230, 1);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + ((i * 7919) % 2000) - 1000; // and some noise
    const whole = stretch(x, 1.2, x.length);
    expect(Buffer.from(stretch(x, 1.2, 333).buffer)).toEqual(Buffer.from(whole.buffer));
    expect(Buffer.from(stretch(x, 1.2, 160).buffer)).toEqual(Buffer.from(whole.buffer));
  });

  it('speed 1 passes the input through untouched', () => {
    const x = tone(200, 1);
    expect(Buffer.from(stretch(x, 1, 500).buffer)).toEqual(Buffer.from(x.buffer));
  });

  it('refuses a speed that is not a positive number', () => {
    expect(() => new TimeStretcher(0)).toThrow(/positive/);
    expect(() => new TimeStretcher(Number.NaN)).toThrow(/positive/);
  });
});

describe('TimeStretcher at the end of the input', () => {
  it('slowing down does not end in silence', () => {
    for (const n of [16000, 16123, 33333]) {
      const x = tone(160, 3).subarray(0, n);
      for (const speed of [0.7, 0.85]) {
        const y = stretch(x, speed, 500);
        let quiet = 0; // samples at the very end below -32 dBFS
        for (let i = y.length - 1; i >= 0 && Math.abs(y[i]!) < 800; i--) quiet++;
        expect(quiet, `${n} samples at speed ${speed}`).toBeLessThan(10);
      }
    }
  });
});
