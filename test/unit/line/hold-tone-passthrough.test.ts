import { describe, expect, it } from 'vitest';
import { mulawDbfs } from '../../../tools/sim/index.js';
import { holdToneCycle, HOLD_TONE_CYCLE_MS, HOLD_TONE_ON_MS } from '../../../src/voice/hold-tone.js';
import { passthroughConverter } from '../../../src/voice/passthrough.js';

describe('hold tone', () => {
  it('is a 6 s ringback cycle: 2 s of tone at a moderate level, then mu-law silence', () => {
    const c = holdToneCycle();
    expect(c.length).toBe(HOLD_TONE_CYCLE_MS * 8);
    const on = c.subarray(0, HOLD_TONE_ON_MS * 8);
    const off = c.subarray(HOLD_TONE_ON_MS * 8 + 8);
    expect(mulawDbfs(on)).toBeGreaterThan(-20);
    expect(mulawDbfs(on)).toBeLessThan(-6);
    expect(off.every((b) => b === 0xff || b === 0x7f)).toBe(true);
    expect(holdToneCycle()).toBe(c); // computed once
  });
});

describe('passthrough converter', () => {
  it('returns each frame unchanged, with no delay, and pads a short one with silence', () => {
    expect(passthroughConverter.delayMs).toBe(0);
    const s = passthroughConverter.openStream({ voiceId: 'ignored' });
    const frame = Uint8Array.from({ length: 160 }, (_, i) => i);
    expect([...s.push(frame)]).toEqual([...frame]);
    const short = s.push(Uint8Array.of(1, 2, 3));
    expect(short.length).toBe(160);
    expect([...short.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(short.subarray(3).every((b) => b === 0xff)).toBe(true);
    expect(s.flush().length).toBe(0);
    s.close();
    expect(s.push(frame).length).toBe(0);
  });
});
