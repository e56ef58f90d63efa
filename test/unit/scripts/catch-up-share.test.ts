/**
 * The heard-share accounting of bench:delay --two-party: frames heard sample for sample, frames
 * played faster (WSOLA, new samples) counted by time and energy, and frames dropped.
 */
import { describe, expect, it } from 'vitest';
import { mulawDecode, mulawEncode } from '../../../src/audio/mulaw.js';
import { TimeStretcher } from '../../../src/audio/time-stretch.js';
import { CLIPS, loadClipMulaw } from '../../../tools/clips.js';
import { mouthToEar } from '../../../scripts/lib/mouth-to-ear.js';
import { shareHeard } from '../../../scripts/lib/catch-up-share.js';

const S = 8000;
const said = loadClipMulaw('bush').subarray(0, 10 * S);
const phrases = CLIPS['bush']!.phrases.filter(([s]) => s < 10).map(([s, e]) => [s, Math.min(e, 10)] as [number, number]);
// An echoing converter's requests: one-second chunks, each answered with itself.
const requests = Array.from({ length: 10 }, (_, i) => {
  const part = said.subarray(i * S, (i + 1) * S);
  return { pcm8k: mulawDecode(part), reply: part };
});
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const silence = (s: number) => new Uint8Array(Math.round(s * S)).fill(0xff);
const faster = (x: Uint8Array, speed: number) => {
  const t = new TimeStretcher(speed);
  const a = t.push(mulawDecode(x));
  const b = t.end();
  return mulawEncode(Int16Array.from([...a, ...b]));
};
const share = (heard: Uint8Array) => {
  const rep = mouthToEar(mulawDecode(said), phrases, requests, heard);
  return shareHeard(rep, said, phrases, heard, 1.3);
};
const part = (from: number, to: number) => said.subarray(from * S, to * S);

describe('shareHeard', () => {
  it('everything played as sent: all exact', () => {
    const r = share(concat(silence(1), said));
    expect(r.exactFrames).toBe(r.speechFrames);
    expect(r.lostFrames).toBe(0);
  });

  it('three seconds played 1.3 times faster: heard, counted as played faster', () => {
    const r = share(concat(silence(1), part(0, 4), faster(part(4, 7), 1.3), part(7, 10)));
    expect(r.lostFrames / r.speechFrames).toBeLessThan(0.02);
    expect(r.compressedFrames).toBeGreaterThan(0.2 * r.speechFrames);
    expect(r.exactFrames + r.compressedFrames).toBe(r.speechFrames - r.lostFrames);
  });

  it('three seconds dropped, or replaced by silence: lost', () => {
    for (const heard of [concat(silence(1), part(0, 4), part(7, 10)), concat(silence(1), part(0, 4), silence(3), part(7, 10))]) {
      const r = share(heard);
      expect(r.lostFrames / r.speechFrames).toBeGreaterThan(0.25);
      expect(r.compressedFrames).toBe(0);
    }
  });
});
