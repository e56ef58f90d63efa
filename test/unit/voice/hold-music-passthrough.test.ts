import { describe, expect, it } from 'vitest';
import { mulawDbfs } from '../../../tools/sim/index.js';
import { embeddedHoldMusic } from '../../../src/voice/hold-music.js';
import { openPassthroughFrames } from '../../../src/voice/passthrough.js';
import { frameConverter } from '../../../src/pipeline/frame-adapter.js';
import { mulawDecode } from '../../../src/audio/mulaw.js';
import { createLogger } from '../../../src/observability/logger.js';

const silentLog = createLogger('silent');

describe('embedded hold music', () => {
  it('is a 12 s loop at a moderate, steady level: audible most of the time, never clipping', () => {
    const m = embeddedHoldMusic();
    expect(m.length).toBe(12 * 8000);
    const frames = Array.from({ length: m.length / 160 }, (_, i) => m.subarray(i * 160, i * 160 + 160));
    const levels = frames.map((f) => mulawDbfs(f));
    expect(Math.max(...levels)).toBeLessThan(-6);
    expect(levels.filter((l) => l > -45).length / frames.length).toBeGreaterThan(0.8);
    expect(embeddedHoldMusic()).toBe(m); // computed once
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
