import { describe, expect, it } from 'vitest';
import { mulawDecode } from '../../../../src/audio/mulaw.js';
import { resample } from '../../../../src/audio/resampler.js';
import { denoiseReady } from '../../../../src/voice/local/denoise.js';
import { initLocalEngine, LocalEngine } from '../../../../src/voice/local/index.js';
import { loadClipMulaw } from '../../../../tools/clips.js';
import { rms } from '../../../helpers/engine-signals.js';

describe('RNNoise before masking', () => {
  it('loads on first use, not at start-up', async () => {
    await initLocalEngine();
    await initLocalEngine(); // idempotent
    expect(denoiseReady()).toBe(false);
    const e = new LocalEngine({ defaultVoiceId: 'neutral-male', seed: 1 });
    const x = resample(mulawDecode(loadClipMulaw('noisy')).subarray(0, 8000 * 2), 8000, 16000);
    // The synchronous call cannot wait for it: it says so (and starts loading).
    expect(() => e.maskPcm16k(x, { voiceId: 'neutral-male', denoise: true })).toThrow(/maskPcm16kAsync/);
    const y = await e.maskPcm16kAsync(x, { voiceId: 'neutral-male', denoise: true });
    expect(denoiseReady()).toBe(true);
    expect(y.length).toBe(x.length);
    const plain = e.maskPcm16k(x, { voiceId: 'neutral-male' });
    expect(Buffer.from(y.buffer).equals(Buffer.from(plain.buffer))).toBe(false);
    expect(rms(y)).toBeGreaterThan(0.2 * rms(plain));
    // Now loaded, the synchronous path denoises too, with the same result.
    expect(Buffer.from(e.maskPcm16k(x, { voiceId: 'neutral-male', denoise: true }).buffer).equals(Buffer.from(y.buffer))).toBe(true);
  });
});
