import { describe, expect, it } from 'vitest';
import { PlayoutBuffer } from '../../../../tools/sim/index.js';

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('PlayoutBuffer (Twilio playback emulation)', () => {
  it('plays queued media in order at 8000 bytes/s, silence while idle', () => {
    const p = new PlayoutBuffer();
    p.media(bytes(800, 1), 100); // 100 ms of audio arriving at 100 ms
    p.media(bytes(400, 2), 120); // queued behind it
    p.advanceTo(300);
    const h = p.heard();
    expect(h.length).toBe(2400);
    expect(h.subarray(0, 800).every((b) => b === 0xff)).toBe(true);
    expect(h.subarray(800, 1600).every((b) => b === 1)).toBe(true);
    expect(h.subarray(1600, 2000).every((b) => b === 2)).toBe(true);
    expect(h.subarray(2000).every((b) => b === 0xff)).toBe(true);
    expect(p.segments).toEqual([
      { start: 800, end: 1600, arrivedAtMs: 100 },
      { start: 1600, end: 2000, arrivedAtMs: 120 },
    ]);
    expect(p.idle).toBe(true);
  });

  it('echoes a mark when playback reaches it, not when it arrives', () => {
    const echoed: string[] = [];
    const p = new PlayoutBuffer((m) => echoed.push(`${m.name}@${m.echoedAtMs}`));
    p.media(bytes(1600, 1), 0); // 200 ms
    p.mark('a', 10);
    p.media(bytes(800, 2), 20); // 100 ms more
    p.mark('b', 30);
    p.advanceTo(199);
    expect(echoed).toEqual([]);
    p.advanceTo(200);
    expect(echoed).toEqual(['a@200']);
    expect(p.pendingBytes).toBe(800);
    p.advanceTo(1000);
    expect(echoed).toEqual(['a@200', 'b@300']);
    expect(p.marks.map((m) => [m.name, m.sentAtMs, m.echoedAtMs, m.cleared])).toEqual([
      ['a', 10, 200, false],
      ['b', 30, 300, false],
    ]);
  });

  it('echoes a mark at once when nothing is queued before it', () => {
    const p = new PlayoutBuffer();
    p.mark('now', 500);
    expect(p.marks).toEqual([{ name: 'now', sentAtMs: 500, echoedAtMs: 500, cleared: false }]);
  });

  it('clear drops unplayed audio and echoes pending marks immediately', () => {
    const p = new PlayoutBuffer();
    p.media(bytes(8000, 1), 0); // 1 s
    p.mark('end', 0);
    p.clear(250);
    expect(p.marks).toEqual([{ name: 'end', sentAtMs: 0, echoedAtMs: 250, cleared: true }]);
    expect(p.pendingBytes).toBe(0);
    p.media(bytes(80, 3), 400);
    p.advanceTo(600);
    const h = p.heard();
    expect(h.subarray(0, 2000).every((b) => b === 1)).toBe(true);
    expect(h.subarray(2000, 3200).every((b) => b === 0xff)).toBe(true);
    expect(h.subarray(3200, 3280).every((b) => b === 3)).toBe(true);
  });
});
