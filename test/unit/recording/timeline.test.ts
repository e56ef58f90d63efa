import { describe, expect, it } from 'vitest';
import { Timeline } from '../../../src/recording/timeline.js';

const chunk = (v: number, n = 160) => new Uint8Array(n).fill(v);
const channel = (frames: Uint8Array, k: number, c: number) => frames.filter((_, i) => i % k === c);

describe('Timeline', () => {
  it('interleaves channels on one clock, silence where nothing played, and stays the margin behind now', () => {
    const t = new Timeline(2, 1000, 40);
    t.tap(0).played(chunk(1), 1000);
    t.tap(1).played(chunk(2), 1020);
    const out = t.take(1100); // 60 ms taken: 100 - 40 margin
    expect(out.length).toBe(480 * 2);
    const left = channel(out, 2, 0);
    const right = channel(out, 2, 1);
    expect(left.subarray(0, 160).every((x) => x === 1)).toBe(true);
    expect(left.subarray(160).every((x) => x === 0xff)).toBe(true);
    expect(right.subarray(0, 160).every((x) => x === 0xff)).toBe(true);
    expect(right.subarray(160, 320).every((x) => x === 2)).toBe(true);
    expect(t.take(1100).length).toBe(0);
    expect(t.frames).toBe(480);
  });

  it('a clear removes what was scheduled from its time on, never what already played', () => {
    const t = new Timeline(1, 0, 40);
    for (let i = 0; i < 15; i++) t.tap(0).played(chunk(10 + i), i * 20); // 300 ms sent ahead
    expect(t.take(140).length).toBe(800); // 0..100 ms taken
    t.tap(0).cleared(150);
    t.tap(0).played(chunk(99), 150); // what plays after the clear
    const rest = t.finish(400);
    const all = rest;
    // 100..150 ms: the audio before the clear; 150..170: the new audio; then silence.
    expect(all.subarray(0, 400).every((x, i) => x === 10 + Math.floor((800 + i) / 160))).toBe(true);
    expect(all.subarray(400, 560).every((x) => x === 99)).toBe(true);
    expect(all.subarray(560).every((x) => x === 0xff)).toBe(true);
    expect(t.frames).toBe(3200);
  });

  it('rounding of the clock times never overwrites the chunk before', () => {
    const t = new Timeline(1, 0.3, 0);
    for (let i = 0; i < 50; i++) {
      const jitter = (i % 2 ? 1 : -1) * 0.0624; // floating-point error: under half a sample
      t.tap(0).played(chunk(i), 1000.0001 + 20 * i + jitter);
    }
    const out = t.finish(3000);
    for (let i = 0; i < 50; i++) expect(Buffer.from(out).includes(Buffer.from(chunk(i)))).toBe(true);
  });

  it('audio for time already taken is dropped and counted; finish keeps what was sent ahead; nothing after finish', () => {
    const t = new Timeline(1, 0, 0);
    t.take(100);
    t.tap(0).played(chunk(5), 90); // 10 ms late: its first 80 samples are gone
    expect(t.lateSamples).toBe(80);
    t.tap(0).played(chunk(6), 500); // sent ahead of the hang-up at 200
    const tail = t.finish(200);
    expect(tail.length).toBe(4000 + 160 - 800);
    expect(tail.subarray(0, 80).every((x) => x === 5)).toBe(true);
    expect(tail.subarray(tail.length - 160).every((x) => x === 6)).toBe(true);
    t.tap(0).played(chunk(7), 700);
    expect(t.finish(800).length).toBe(0);
    expect(t.take(900).length).toBe(0);
  });
});
