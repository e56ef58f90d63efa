/**
 * The resilience wrappers around the real ElevenLabs client, against the fake on loopback.
 * The fallback is a second fake answering a 500 Hz tone (the primary answers 300 Hz), reached
 * by a second client: what the listener hears tells which converter masked the phrase.
 */
import { elevenLabsOptions } from '../../../../src/compose/elevenlabs-options.js';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PhraseConverter } from '../../../../src/voice/converter.js';
import { ConversionError } from '../../../../src/voice/errors.js';
import { createElevenLabsConverter } from '../../../../src/voice/elevenlabs/index.js';
import { CircuitBreakerConverter, createResilientConverter, ResilienceStats, type ResilienceEvent, type ResilientConverter } from '../../../../src/voice/resilience/index.js';
import { metrics } from '../../../../src/observability/metrics.js';
import { initLocalEngine, LocalEngine } from '../../../../src/voice/local/index.js';
import { expectedUlaw, startFakeElevenLabs, type FakeElevenLabs } from '../../../../tools/fakes/fake-elevenlabs.js';
import { collect, phrase, silentLog } from '../../../helpers/phrases.js';
import { testConfig } from '../../../helpers/config.js';

let primaryFake: FakeElevenLabs;
let fallbackFake: FakeElevenLabs;
const open: PhraseConverter[] = [];

beforeAll(async () => {
  primaryFake = await startFakeElevenLabs({ chunkMs: 100, chunkDelayMs: 5 });
  fallbackFake = await startFakeElevenLabs({ toneHz: 500 });
});
afterAll(async () => {
  await primaryFake.close();
  await fallbackFake.close();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  for (const f of [primaryFake, fallbackFake]) {
    f.reset();
    f.setFaults([]);
  }
});

const resolved = (config: ReturnType<typeof testConfig>) => ({
  maxLagMs: config.ELEVENLABS_MAX_LAG_MS,
  maxConcurrency: config.ELEVENLABS_MAX_CONCURRENCY,
  fallbackMode: config.FALLBACK,
});

const PRIMARY_TONE = 300;
const FALLBACK_TONE = 500;

function make(env: Record<string, string> = {}, tuning: { failureThreshold?: number; cooldownMs?: number; authCooldownsMs?: number[]; maxAttempts?: number } = {}) {
  const config = testConfig(primaryFake.baseUrl, { FALLBACK: 'local', ...env });
  const events: ResilienceEvent[] = [];
  const conv: ResilientConverter = createResilientConverter({
    primary: createElevenLabsConverter(elevenLabsOptions(config), silentLog),
    fallback: createElevenLabsConverter(elevenLabsOptions(testConfig(fallbackFake.baseUrl)), silentLog),
    fallbackVoiceId: 'neutral-male',
    ...resolved(config),
    log: silentLog,
    retry: { baseDelayMs: 20, maxDelayMs: 80, ...(tuning.maxAttempts !== undefined && { maxAttempts: tuning.maxAttempts }) },
    circuit: { failureThreshold: tuning.failureThreshold ?? 2, cooldownMs: tuning.cooldownMs ?? 300, authCooldownsMs: tuning.authCooldownsMs ?? [300] },
  });
  conv.events.on('event', (e: ResilienceEvent) => events.push(e));
  open.push(conv);
  return { conv, events };
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const err = (e: unknown) => {
  expect(e).toBeInstanceOf(ConversionError);
  return e as ConversionError;
};

describe('retries', () => {
  it('retries a 500 and a reset before the first byte, then delivers the primary voice', async () => {
    const { conv } = make();
    primaryFake.setFaults([{ type: 'status', status: 500 }, { type: 'reset-before-first-byte' }]);
    const out = await collect(conv, phrase(200));
    expect(out.error).toBeUndefined();
    expect(same(out.bytes, expectedUlaw(200, PRIMARY_TONE))).toBe(true);
    expect(primaryFake.requests).toHaveLength(3);
    expect(fallbackFake.requests).toHaveLength(0);
    expect(conv.stats()).toMatchObject({ attempts: 3, retries: 2, fallbacks: 0, successes: 1 });
  });

  it('honours Retry-After on a 429 too_many_concurrent_requests', async () => {
    const { conv, events } = make();
    primaryFake.setFaults([{ type: 'rate-limit', code: 'too_many_concurrent_requests', retryAfterS: 1 }]);
    const out = await collect(conv, phrase(100));
    expect(out.error).toBeUndefined();
    const [first, second] = primaryFake.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(990);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ waitMs: 1000, status: 429, code: 'too_many_concurrent_requests' });
  });

  it('drops a phrase as stale when the wait would exceed the lag budget (FALLBACK=silence)', async () => {
    const { conv } = make({ FALLBACK: 'silence' });
    primaryFake.setFaults([{ type: 'rate-limit', code: 'system_busy', retryAfterS: 5 }]);
    const t0 = performance.now();
    const out = await collect(conv, phrase(100));
    expect(err(out.error).kind).toBe('stale');
    expect(performance.now() - t0).toBeLessThan(500); // did not sit out the 5 s
    expect(primaryFake.requests).toHaveLength(1);
    expect(conv.stats()).toMatchObject({ stale: 1, dropped: 1, retries: 0 });
  });

  it('sends a phrase that cannot be retried in time to the fallback while it is still fresh', async () => {
    const { conv } = make();
    primaryFake.setFaults([{ type: 'rate-limit', code: 'system_busy', retryAfterS: 5 }]);
    const out = await collect(conv, phrase(150));
    expect(out.error).toBeUndefined();
    expect(same(out.bytes, expectedUlaw(150, FALLBACK_TONE))).toBe(true);
    expect(fallbackFake.requests[0]!.voiceId).toBe('neutral-male');
    expect(conv.stats()).toMatchObject({ stale: 1, fallbacks: 1, dropped: 0 });
  });

  it('sends a phrase to the fallback once its retries are used up (the circuit stays closed)', async () => {
    const { conv } = make({}, { failureThreshold: 5, maxAttempts: 3 });
    primaryFake.setFaults(() => ({ type: 'status', status: 502 }));
    const out = await collect(conv, phrase(120));
    expect(out.error).toBeUndefined();
    expect(same(out.bytes, expectedUlaw(120, FALLBACK_TONE))).toBe(true);
    expect(primaryFake.requests).toHaveLength(3);
    expect(conv.stats()).toMatchObject({ attempts: 3, retries: 2, fallbacks: 1, circuit: 'closed' });
  });

  it('drops instead of falling back when the phrase is already too old', async () => {
    const { conv } = make({ ELEVENLABS_MAX_LAG_MS: '300' });
    primaryFake.setFaults([{ type: 'slow-first-byte', delayMs: 2000 }]); // first-byte timeout at 400 ms
    const out = await collect(conv, phrase(100));
    expect(out.error).toBeInstanceOf(ConversionError);
    expect(fallbackFake.requests).toHaveLength(0);
    expect(conv.stats().dropped).toBe(1);
  });

  it.each([
    [401, { type: 'unauthorized' as const }],
    [403, { type: 'status' as const, status: 403 }],
    [422, { type: 'validation' as const }],
  ])('does not retry a %i', async (status, fault) => {
    const { conv } = make({ FALLBACK: 'silence' });
    primaryFake.setFaults([fault]);
    const out = await collect(conv, phrase(100));
    expect(err(out.error).status).toBe(status);
    expect(primaryFake.requests).toHaveLength(1);
    expect(conv.stats().retries).toBe(0);
  });

  it('never retries nor falls back after the first byte: the phrase ends where the audio stopped', async () => {
    const { conv } = make();
    primaryFake.setFaults([{ type: 'reset-mid-stream', afterBytes: 800 }]);
    const out = await collect(conv, phrase(500));
    expect(err(out.error)).toMatchObject({ kind: 'network', retryable: false, afterFirstByte: true });
    expect(same(out.bytes, expectedUlaw(500, PRIMARY_TONE).subarray(0, 800))).toBe(true);
    expect(primaryFake.requests).toHaveLength(1);
    expect(fallbackFake.requests).toHaveLength(0);
    expect(conv.stats()).toMatchObject({ truncated: 1, retries: 0, fallbacks: 0 });
  });

  it('stops waiting to retry when the call ends', async () => {
    const { conv } = make();
    primaryFake.setFaults([{ type: 'rate-limit', code: 'system_busy', retryAfterS: 1 }]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    const out = await collect(conv, phrase(100, { signal: ac.signal }));
    expect(err(out.error).kind).toBe('aborted');
    expect(performance.now() - t0).toBeLessThan(400);
    expect(primaryFake.requests).toHaveLength(1);
    expect(fallbackFake.requests).toHaveLength(0);
  });
});

describe('concurrency cap and fair queue', () => {
  it('never has more than ELEVENLABS_MAX_CONCURRENCY requests in flight', async () => {
    const { conv } = make({ ELEVENLABS_MAX_CONCURRENCY: '2', ELEVENLABS_MAX_LAG_MS: '10000' });
    const outs = await Promise.all(Array.from({ length: 6 }, (_, i) => collect(conv, phrase(300, { callKey: `call-${i}` }))));
    for (const o of outs) {
      expect(o.error).toBeUndefined();
      expect(same(o.bytes, expectedUlaw(300, PRIMARY_TONE))).toBe(true);
    }
    expect(primaryFake.requests).toHaveLength(6);
    expect(primaryFake.maxInFlight).toBe(2);
    expect(conv.stats()).toMatchObject({ attempts: 6, queued: 0, inFlight: 0 });
  });

  it("serves a quiet call's phrase within one slot while another call floods the queue", async () => {
    const { conv } = make({ ELEVENLABS_MAX_CONCURRENCY: '1', ELEVENLABS_MAX_LAG_MS: '10000' });
    primaryFake.setFaults(() => ({ type: 'slow-first-byte', delayMs: 60 })); // each phrase holds the slot ≥ 60 ms
    const flood = Array.from({ length: 5 }, () => collect(conv, phrase(300, { callKey: 'A', voiceId: 'voiceA' })));
    await primaryFake.whenReceived(1);
    expect(conv.stats()).toMatchObject({ inFlight: 1, queued: 4 });
    const quiet = collect(conv, phrase(300, { callKey: 'B', voiceId: 'voiceB' }));
    await Promise.all([...flood, quiet]);
    expect(primaryFake.requests.map((r) => r.voiceId)).toEqual(['voiceA', 'voiceB', 'voiceA', 'voiceA', 'voiceA', 'voiceA']);
    expect(primaryFake.maxInFlight).toBe(1);
  });

  it('lets a queued phrase leave the queue when it is cancelled or goes stale', async () => {
    const { conv } = make({ ELEVENLABS_MAX_CONCURRENCY: '1', FALLBACK: 'silence' });
    primaryFake.setFaults([{ type: 'slow-first-byte', delayMs: 300 }]);
    const busy = collect(conv, phrase(100, { callKey: 'A' }));
    await primaryFake.whenReceived(1);
    const ac = new AbortController();
    const cancelled = collect(conv, phrase(100, { callKey: 'B', signal: ac.signal }));
    // ended 1.9 s ago: 100 ms left of the 2 s budget
    const stale = collect(conv, phrase(100, { callKey: 'C', endedAt: performance.now() - 1900 }));
    setTimeout(() => ac.abort(), 50);
    const [c, s] = await Promise.all([cancelled, stale]);
    expect(err(c.error).kind).toBe('aborted');
    expect(err(s.error).kind).toBe('stale');
    expect(primaryFake.requests[0]!.endedAt).toBeUndefined(); // both left before the slot freed
    expect((await busy).error).toBeUndefined();
    expect(primaryFake.requests).toHaveLength(1);
    expect(conv.stats()).toMatchObject({ queued: 0, stale: 1 });
  });
});

describe('circuit breaker and fallback', () => {
  it('opens after failed phrases, serves from the fallback, the next live phrase probes, cool-downs grow, closes on success', async () => {
    const { conv, events } = make({}, { failureThreshold: 1, cooldownMs: 1500 });
    // (cool-downs count from when the failed phrase was sent: long enough for a loaded machine)
    const untilHalfOpen = async () => {
      while (conv.stats().circuit === 'open') await new Promise((r) => setTimeout(r, 20));
    };
    let failing = true;
    primaryFake.setFaults(() => (failing ? { type: 'status', status: 503 } : undefined));

    // 1: the phrase fails after its three attempts: one failed phrase opens the circuit; the fallback masks it
    const p1 = await collect(conv, phrase(200));
    expect(p1.error).toBeUndefined();
    expect(same(p1.bytes, expectedUlaw(200, FALLBACK_TONE))).toBe(true);
    expect(primaryFake.requests).toHaveLength(3);
    expect(fallbackFake.requests.map((r) => r.voiceId)).toEqual(['neutral-male']);
    expect(conv.stats().circuit).toBe('open');

    // 2: while open, straight to the fallback without touching ElevenLabs
    const p2 = await collect(conv, phrase(100));
    expect(same(p2.bytes, expectedUlaw(100, FALLBACK_TONE))).toBe(true);
    expect(primaryFake.requests).toHaveLength(3);

    // 3: after the cool-down the next phrase probes (with its retries); it fails, the circuit re-opens for longer
    await untilHalfOpen();
    expect(conv.stats().circuit).toBe('half-open');
    const p3 = await collect(conv, phrase(100));
    expect(same(p3.bytes, expectedUlaw(100, FALLBACK_TONE))).toBe(true);
    expect(primaryFake.requests).toHaveLength(6);
    expect(conv.stats().circuit).toBe('open'); // for 2.4 s this time

    // 4: ElevenLabs is back: the next probe is converted by it and closes the circuit
    failing = false;
    await untilHalfOpen();
    const p4 = await collect(conv, phrase(100));
    expect(same(p4.bytes, expectedUlaw(100, PRIMARY_TONE))).toBe(true);
    expect(conv.stats().circuit).toBe('closed');

    const circuit = events.flatMap((e) => (e.type === 'circuit' ? [e] : []));
    expect(circuit.map((e) => `${e.from}>${e.to}`)).toEqual(['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed']);
    expect(circuit.filter((e) => e.to === 'open').map((e) => e.cooldownMs)).toEqual([1500, 2400]);
    expect(conv.stats()).toMatchObject({ fallbacks: 3, circuitChanges: 5, dropped: 0 });
  });

  it('grows the cool-down up to 30 s and starts again from the first after a success', async () => {
    let fail = true;
    const inner: PhraseConverter = {
      name: 'stub-primary',
      async *convert() {
        if (fail) throw new ConversionError('down', 'http', { status: 500 });
        yield new Uint8Array(160) as never;
      },
      close: async () => {},
    };
    const events: ResilienceEvent[] = [];
    const stats = new ResilienceStats();
    stats.on('event', (e: ResilienceEvent) => events.push(e));
    const breaker = new CircuitBreakerConverter(inner, { failureThreshold: 1, cooldownMs: 5, cooldownGrowth: 4, maxCooldownMs: 200, stats });
    const run = async () => {
      // wait out the current cool-down, then send the probe
      while (breaker.circuit === 'open') await new Promise((r) => setTimeout(r, 2));
      return collect(breaker, phrase(20));
    };
    for (let i = 0; i < 5; i++) await run();
    fail = false;
    expect((await run()).error).toBeUndefined();
    fail = true;
    await run();
    const cooldowns = events.flatMap((e) => (e.type === 'circuit' && e.to === 'open' ? [e.cooldownMs] : []));
    expect(cooldowns).toEqual([5, 20, 80, 200, 200, 5]);
  });

  it('opens at once on a 401 and sends that phrase and the next to the fallback (and counts it in Prometheus)', async () => {
    const fallbacksMetric = async () =>
      (await metrics.fallbacks.get()).values.filter((v) => v.labels.reason === 'auth').reduce((n, v) => n + v.value, 0);
    const before = await fallbacksMetric();
    const { conv } = make({}, { authCooldownsMs: [5000] });
    primaryFake.setFaults([{ type: 'unauthorized' }]);
    const p1 = await collect(conv, phrase(100));
    expect(same(p1.bytes, expectedUlaw(100, FALLBACK_TONE))).toBe(true);
    expect(conv.stats().circuit).toBe('open');
    const p2 = await collect(conv, phrase(100));
    expect(same(p2.bytes, expectedUlaw(100, FALLBACK_TONE))).toBe(true);
    expect(primaryFake.requests).toHaveLength(1);
    expect(fallbackFake.requests).toHaveLength(2);
    expect((await fallbacksMetric()) - before).toBe(1); // the second went by circuit-open
  });

  it.each([
    ['quota_exceeded', 'This request exceeds your quota of 10000. You have 0 credits remaining, while 50 credits are required for this request.'],
    ['invalid_api_key', 'Invalid API key'],
    ['needs_authorization', 'Neither authorization header nor xi-api-key received, please provide one.'],
  ])('a 401 %s is told apart, counted, and probed again with a live phrase on the auth schedule', async (code, message) => {
    const authMetric = async () => (await metrics.authFailures.get()).values.find((v) => v.labels.cause === code)?.value ?? 0;
    const before = await authMetric();
    const { conv, events } = make({}, { authCooldownsMs: [250, 20_000] });
    primaryFake.setFaults((i) => (i < 2 ? { type: 'status', status: 401, body: { detail: { status: code, message } } } : undefined));
    const p1 = await collect(conv, phrase(100));
    expect(same(p1.bytes, expectedUlaw(100, FALLBACK_TONE))).toBe(true);
    const opened = events.find((e) => e.type === 'circuit' && e.to === 'open');
    expect(opened).toMatchObject({ cause: code, cooldownMs: 250 });
    // the probe after the auth cool-down fails too (still 401): the next wait is the schedule's next step
    await new Promise((r) => setTimeout(r, 270));
    await collect(conv, phrase(100));
    expect(primaryFake.requests).toHaveLength(2);
    const reopened = events.filter((e) => e.type === 'circuit' && e.to === 'open');
    expect(reopened[1]).toMatchObject({ cause: code, cooldownMs: 20_000 });
    expect((await authMetric()) - before).toBe(2);
  });

  it('a topped-up quota is noticed by the next live phrase after the auth cool-down', async () => {
    const { conv, events } = make({}, { authCooldownsMs: [250] });
    primaryFake.setFaults([{ type: 'status', status: 401, body: { detail: { status: 'quota_exceeded', message: 'You have 0 credits remaining' } } }]);
    await collect(conv, phrase(100));
    expect(events.find((e) => e.type === 'circuit' && e.to === 'open')).toMatchObject({ cause: 'quota_exceeded' });
    while (conv.stats().circuit === 'open') await new Promise((r) => setTimeout(r, 20));
    const p2 = await collect(conv, phrase(100));
    expect(same(p2.bytes, expectedUlaw(100, PRIMARY_TONE))).toBe(true);
    expect(conv.stats().circuit).toBe('closed');
    expect(primaryFake.requests).toHaveLength(2);
  });

  it('with FALLBACK=silence, drops phrases: the error, then circuit-open without calling ElevenLabs', async () => {
    const { conv } = make({ FALLBACK: 'silence' }, { failureThreshold: 2, maxAttempts: 1 });
    primaryFake.setFaults(() => ({ type: 'status', status: 500 }));
    const e1 = err((await collect(conv, phrase(100))).error);
    expect(e1.status).toBe(500);
    const e2 = err((await collect(conv, phrase(100))).error);
    expect(e2.status).toBe(500);
    const p3 = await collect(conv, phrase(100));
    expect(err(p3.error).kind).toBe('circuit-open');
    expect(p3.bytes.length).toBe(0);
    expect(primaryFake.requests).toHaveLength(2);
    expect(fallbackFake.requests).toHaveLength(0);
    expect(conv.stats()).toMatchObject({ dropped: 3, fallbacks: 0, circuit: 'open' });
  });

  it('falls back to the embedded engine, mapping the ElevenLabs voice to its default preset', async () => {
    await initLocalEngine();
    const config = testConfig(primaryFake.baseUrl, { FALLBACK: 'local', LOCAL_VOICE_ID: 'neutral-male' });
    const conv = createResilientConverter({
      primary: createElevenLabsConverter(elevenLabsOptions(config), silentLog),
      fallback: new LocalEngine({ defaultVoiceId: config.LOCAL_VOICE_ID }),
      fallbackVoiceId: config.LOCAL_VOICE_ID,
      ...resolved(config),
      log: silentLog,
      metrics: false,
      circuit: { authCooldownsMs: [60_000] }, // still open when checked, however slow the engine is here
    });
    open.push(conv);
    primaryFake.setFaults([{ type: 'unauthorized' }]);
    // an ElevenLabs voice id, which the engine does not know: only the mapping makes this work
    const out = await collect(conv, phrase(400, { voiceId: 'JBFqnCBsd6RMkjVDRZzb' }));
    expect(out.error).toBeUndefined();
    expect(out.bytes.length).toBe(3200);
    expect(same(out.bytes, expectedUlaw(400, PRIMARY_TONE))).toBe(false);
    expect(conv.stats()).toMatchObject({ fallbacks: 1, circuit: 'open' });
  });
  it("the fallback's voice is chosen per phrase from the phrase's own voice (two voices, two presets)", async () => {
    const config = testConfig(primaryFake.baseUrl, { FALLBACK: 'local' });
    const asked: string[] = [];
    const conv = createResilientConverter({
      primary: createElevenLabsConverter(elevenLabsOptions(config), silentLog),
      fallback: createElevenLabsConverter(elevenLabsOptions(testConfig(fallbackFake.baseUrl)), silentLog),
      fallbackVoice: (id) => (asked.push(id), id === 'herVoice' ? 'bright-female' : 'deep-male'),
      fallbackVoiceId: 'neutral-male',
      ...resolved(config),
      log: silentLog,
      metrics: false,
      circuit: { authCooldownsMs: [60_000] },
    });
    open.push(conv);
    primaryFake.setFaults(() => ({ type: 'unauthorized' }));
    expect((await collect(conv, phrase(100, { voiceId: 'herVoice' }))).error).toBeUndefined();
    expect((await collect(conv, phrase(100, { voiceId: 'hisVoice' }))).error).toBeUndefined();
    expect(asked).toEqual(['herVoice', 'hisVoice']);
    expect(fallbackFake.requests.map((r) => r.voiceId)).toEqual(['bright-female', 'deep-male']);
  });
});
