/**
 * Answers that stop mid-phrase, through the fault proxy in front of the fake ElevenLabs:
 * a stall (headers and part of the body, then nothing) ends after the idle timeout with what
 * arrived kept; a truncated body (the connection closes short of Content-Length) ends at once.
 * Neither is retried (the audio already delivered would repeat).
 */
import { elevenLabsOptions } from '../../../../src/compose/elevenlabs-options.js';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversionError, STALLED } from '../../../../src/voice/errors.js';
import { createElevenLabsConverter } from '../../../../src/voice/elevenlabs/index.js';
import { createResilientConverter } from '../../../../src/voice/resilience/index.js';
import type { PhraseConverter } from '../../../../src/voice/converter.js';
import { expectedUlaw, startFakeElevenLabs, type FakeElevenLabs } from '../../../../tools/fakes/fake-elevenlabs.js';
import { startFaultProxy, type FaultProxy } from '../../../../tools/fakes/fault-proxy.js';
import { collect, phrase, silentLog } from '../../../helpers/phrases.js';
import { testConfig } from '../../../helpers/config.js';

let fake: FakeElevenLabs;
let proxy: FaultProxy;
let conv: PhraseConverter;

beforeAll(async () => {
  fake = await startFakeElevenLabs();
  proxy = await startFaultProxy(fake.baseUrl);
  conv = createElevenLabsConverter(elevenLabsOptions(testConfig(proxy.baseUrl, { ELEVENLABS_IDLE_TIMEOUT_MS: '600' })), silentLog);
});
afterAll(async () => {
  await conv.close();
  await proxy.close();
  await fake.close();
});

describe('ElevenLabs client: stalls and truncated bodies', () => {
  it('aborts a stalled answer after the idle timeout, keeping the audio that arrived', async () => {
    proxy.setPlan(() => ({ type: 'stall', afterBytes: 3000 }));
    const out = await collect(conv, phrase(1000));
    const gap = performance.now() - out.at.at(-1)!;
    expect(out.error).toBeInstanceOf(ConversionError);
    expect(out.error).toMatchObject({ kind: 'timeout', retryable: false, code: STALLED, afterFirstByte: true });
    expect(out.bytes.length).toBe(3000);
    expect(Buffer.from(out.bytes).equals(Buffer.from(expectedUlaw(1000).subarray(0, 3000)))).toBe(true);
    // ended by the idle timeout (600 ms after the last byte), not the 5 s total deadline
    expect(gap).toBeGreaterThanOrEqual(550);
    expect(gap).toBeLessThan(2000);
  });

  it('does not count the time the consumer holds a chunk as a stall', async () => {
    proxy.setPlan(() => undefined);
    const chunks: number[] = [];
    for await (const c of conv.convert(phrase(1000))) {
      chunks.push(c.length);
      await new Promise((r) => setTimeout(r, 700)); // slower than the idle timeout, per chunk
    }
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(8000);
  });

  it('ends a truncated body at once as a failure after the first byte', async () => {
    proxy.setPlan(() => ({ type: 'truncate', afterBytes: 2400 }));
    const out = await collect(conv, phrase(1000));
    expect(out.bytes.length).toBe(2400);
    expect(out.error).toMatchObject({ kind: 'network', retryable: false, afterFirstByte: true });
  });

  it('counts a stall in the resilience stats, without a retry or a fallback', async () => {
    proxy.setPlan(() => ({ type: 'stall', afterBytes: 1600 }));
    const config = testConfig(proxy.baseUrl, { ELEVENLABS_IDLE_TIMEOUT_MS: '400', FALLBACK: 'silence' });
    const resilient = createResilientConverter({
      primary: createElevenLabsConverter(elevenLabsOptions(config), silentLog),
      maxLagMs: config.ELEVENLABS_MAX_LAG_MS,
      maxConcurrency: 2,
      fallbackMode: 'silence',
      log: silentLog,
      metrics: false,
    });
    try {
      const before = proxy.requests.length;
      const out = await collect(resilient, phrase(1000));
      expect(out.bytes.length).toBe(1600);
      expect(proxy.requests.length - before).toBe(1);
      expect(resilient.stats()).toMatchObject({ stalled: 1, truncated: 1, retries: 0, fallbacks: 0 });
    } finally {
      await resilient.close();
    }
  });
});
