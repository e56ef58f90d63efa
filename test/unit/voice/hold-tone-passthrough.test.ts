import { describe, expect, it } from 'vitest';
import { mulawDbfs } from '../../../tools/sim/index.js';
import { holdToneCycle, HOLD_TONE_CYCLE_MS, HOLD_TONE_ON_MS } from '../../../src/voice/hold-tone.js';
import { openPassthroughFrames } from '../../../src/voice/passthrough.js';
import { frameConverter } from '../../../src/pipeline/frame-adapter.js';
import { mulawDecode } from '../../../src/audio/mulaw.js';
import { createLogger } from '../../../src/observability/logger.js';

const silentLog = createLogger('silent');

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
  it('writes each frame unchanged into one live slot, with no delay, and stops when its signal aborts', () => {
    const writes: Uint8Array[] = [];
    const ended: string[] = [];
    const ctl = new AbortController();
    const output = {
      openSlot: (prefix = 'phrase') => ({
        name: prefix,
        signal: ctl.signal,
        write: (a: Uint8Array) => writes.push(a.slice()),
        end: () => ended.push('end'),
        fail: () => ended.push('fail'),
      }),
    };
    const stop = new AbortController();
    const s = frameConverter('passthrough', openPassthroughFrames).open({ voiceId: 'ignored', callKey: 'c', output, signal: stop.signal, log: silentLog });
    // Every mu-law byte but 0x7f (negative zero, re-encoded as 0xff: both silence) survives.
    const frame = Uint8Array.from({ length: 160 }, (_, i) => (i === 127 ? 0 : i));
    s.push({ pcm: mulawDecode(frame) });
    expect(writes).toHaveLength(1);
    expect([...writes[0]!]).toEqual([...frame]);
    stop.abort();
    s.push({ pcm: mulawDecode(frame) });
    expect(writes).toHaveLength(1);
    expect(ended).toEqual(['fail']);
  });
});
