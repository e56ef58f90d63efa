/**
 * The account's concurrency limit, in one process: the headers ElevenLabs sends, the limit
 * they and a 429 too_many_concurrent_requests set, and a concurrency 429 that requeues the
 * phrase instead of counting against the service (no circuit opening, no fallback).
 */
import { elevenLabsOptions } from '../../../../src/compose/elevenlabs-options.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConversionError } from '../../../../src/voice/errors.js';
import { createElevenLabsConverter, readConcurrencyHeaders, type AccountConcurrency } from '../../../../src/voice/elevenlabs/index.js';
import { AccountLimit, classifyOutcome, createResilientConverter, FairLimiter, type ResilientConverter } from '../../../../src/voice/resilience/index.js';
import { expectedUlaw, startFakeElevenLabs, type FakeElevenLabs } from '../../../../tools/fakes/fake-elevenlabs.js';
import { collect, phrase, silentLog } from '../../../helpers/phrases.js';
import { testConfig } from '../../../helpers/config.js';

let fake: FakeElevenLabs;
const open: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  fake = await startFakeElevenLabs();
});
afterAll(() => fake.close());
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  fake.reset();
  fake.setFaults([]);
});

describe('concurrency headers', () => {
  it('reads maximum- and current-concurrent-requests, ignoring what is not a count', () => {
    expect(readConcurrencyHeaders({ 'maximum-concurrent-requests': '10', 'current-concurrent-requests': '3' })).toEqual({ max: 10, current: 3 });
    expect(readConcurrencyHeaders({ 'maximum-concurrent-requests': ['5', '6'] })).toEqual({ max: 5 });
    expect(readConcurrencyHeaders({ 'maximum-concurrent-requests': 'many', 'current-concurrent-requests': '-1' })).toBeUndefined();
    expect(readConcurrencyHeaders({ 'maximum-concurrent-requests': '0', 'current-concurrent-requests': '2' })).toEqual({ current: 2 });
    expect(readConcurrencyHeaders({})).toBeUndefined();
  });

  it('the client reports them from every answer that has them', async () => {
    const seen: AccountConcurrency[] = [];
    const c = createElevenLabsConverter(elevenLabsOptions(testConfig(fake.baseUrl)), silentLog, { onConcurrency: (h) => seen.push(h) });
    open.push(c);
    expect((await collect(c, phrase(100))).error).toBeUndefined();
    expect(seen).toEqual([{ max: 15, current: 1 }]); // what the fake sends
  });
});

describe('the account limit', () => {
  it('is the configured one, capped by the account and, for a while, by a 429', () => {
    let now = 0;
    const a = new AccountLimit({ configured: 8, lowerForMs: 1000, now: () => now });
    expect(a.value).toBe(8);
    expect(a.learn(15)).toBe(false); // the configured limit is a cap: leave room for other users
    expect(a.learn(5)).toBe(true);
    expect(a.value).toBe(5);
    expect(a.lower(4)).toBe(3); // 4 in flight, the 4th refused: someone else holds a slot
    now = 999;
    expect(a.value).toBe(3);
    now = 1000;
    expect(a.value).toBe(5);
    expect(a.lower(1)).toBe(1); // never below 1
  });

  it('FairLimiter follows it: a learned lower limit holds back the queue', async () => {
    const lim = new FairLimiter(new AccountLimit({ configured: 3 }));
    const never = new AbortController().signal;
    const r1 = await lim.acquire('A', never);
    lim.learnLimit(1);
    let second = false;
    const p = lim.acquire('B', never).then((r) => ((second = true), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(false);
    expect(lim.limit).toBe(1);
    r1();
    (await p)();
    expect(second).toBe(true);
  });
});

describe('a 429 too_many_concurrent_requests', () => {
  it('is neutral for the circuit breaker; system_busy is a failure', () => {
    const concurrency = ConversionError.fromStatus(429, 'x', { code: 'too_many_concurrent_requests' });
    const busy = ConversionError.fromStatus(429, 'x', { code: 'system_busy' });
    expect(classifyOutcome(concurrency)).toEqual({ kind: 'neutral' });
    expect(classifyOutcome(busy).kind).toBe('failure');
  });

  it('requeues the phrase: five in a row, still converted by ElevenLabs, circuit closed, no fallback', async () => {
    const config = testConfig(fake.baseUrl, { FALLBACK: 'local', ELEVENLABS_MAX_LAG_MS: '10000' });
    const fallback = await startFakeElevenLabs({ toneHz: 500 });
    open.push(fallback);
    const conv: ResilientConverter = createResilientConverter({
      primary: createElevenLabsConverter(elevenLabsOptions(config), silentLog),
      fallback: createElevenLabsConverter(elevenLabsOptions(testConfig(fallback.baseUrl)), silentLog),
      maxLagMs: 10_000,
      maxConcurrency: 2,
      fallbackMode: 'local',
      log: silentLog,
      metrics: false,
      retry: { maxAttempts: 3 },
      circuit: { failureThreshold: 2 },
    });
    open.push(conv);
    const refused = { type: 'rate-limit', code: 'too_many_concurrent_requests' } as const;
    fake.setFaults([refused, refused, refused, refused, refused]);
    const out = await collect(conv, phrase(200));
    expect(out.error).toBeUndefined();
    expect(Buffer.from(out.bytes).equals(Buffer.from(expectedUlaw(200)))).toBe(true);
    expect(fake.requests).toHaveLength(6);
    expect(fallback.requests).toHaveLength(0);
    expect(conv.stats()).toMatchObject({ concurrencyRefusals: 5, circuit: 'closed', fallbacks: 0, circuitChanges: 0 });
  });
});
