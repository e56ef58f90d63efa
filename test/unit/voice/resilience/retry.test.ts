/**
 * The one retry loop and the limiter below it, with a scripted primary: the limiter makes one
 * attempt per call and only limits; the retry loop spends two budgets, faults (maxAttempts)
 * and concurrency 429s (maxRequeues), and never retries after audio was delivered.
 */
import { describe, expect, it } from 'vitest';
import type { PhraseConverter, PhraseRequest } from '../../../../src/voice/converter.js';
import { ConversionError, TOO_MANY_CONCURRENT } from '../../../../src/voice/errors.js';
import { AccountLimit, FairLimiter, LimitedConverter, ResilienceStats, RetryingConverter, type ResilienceEvent } from '../../../../src/voice/resilience/index.js';
import { collect, phrase } from '../../../helpers/phrases.js';

const refused = () => ConversionError.fromStatus(429, 'every slot taken', { code: TOO_MANY_CONCURRENT });
const down = () => ConversionError.fromStatus(503, 'down');

/** Answers each request with the next step: an error to throw, or audio. */
function scripted(steps: Array<ConversionError | 'audio' | 'audio-then-reset'>): PhraseConverter & { calls: number } {
  const conv = {
    name: 'scripted',
    calls: 0,
    async *convert() {
      const step = steps[conv.calls++] ?? 'audio';
      if (step instanceof ConversionError) throw step;
      yield new Uint8Array(160).fill(0x7f) as never;
      if (step === 'audio-then-reset') throw new ConversionError('reset', 'network', { afterFirstByte: true });
    },
    close: async () => {},
  };
  return conv;
}

function stack(steps: Parameters<typeof scripted>[0], retry: { maxAttempts?: number; maxRequeues?: number } = {}) {
  const primary = scripted(steps);
  const stats = new ResilienceStats();
  const events: ResilienceEvent[] = [];
  stats.on('event', (e: ResilienceEvent) => events.push(e));
  const limiter = new FairLimiter(new AccountLimit({ configured: 4 }));
  const limited = new LimitedConverter(primary, limiter, { maxLagMs: 10_000, stats });
  const conv = new RetryingConverter(limited, { maxLagMs: 10_000, baseDelayMs: 1, maxDelayMs: 2, requeueDelayMs: 1, stats, ...retry });
  return { primary, limiter, limited, conv, stats, events };
}

const req = (): PhraseRequest => phrase(100) as unknown as PhraseRequest;

describe('the limiter layer', () => {
  it('makes one attempt and rethrows: it never waits to try again', async () => {
    const { primary, limited, limiter } = stack([refused()]);
    const out = await collect(limited, req());
    expect((out.error as ConversionError).policy.label).toBe('concurrency');
    expect(primary.calls).toBe(1);
    expect(limiter.inFlight).toBe(0);
  });

  it('tells the limiter of a concurrency 429 while the slot is held: the limit drops below what was in flight', async () => {
    const { limited, limiter, events } = stack([refused()]);
    const other = await limiter.acquire('other', new AbortController().signal);
    await collect(limited, req());
    expect(limiter.limit).toBe(1); // two were in flight when the 429 came
    expect(events.find((e) => e.type === 'concurrency-refused')).toMatchObject({ limit: 1 });
    other();
  });

  it('does not touch the limit on other failures', async () => {
    const { limited, limiter } = stack([down()]);
    await collect(limited, req());
    expect(limiter.limit).toBe(4);
  });
});

describe('the retry loop', () => {
  it('spends concurrency 429s from their own budget, not the attempts', async () => {
    const { conv, primary, stats } = stack([refused(), refused(), down(), refused(), refused(), down(), 'audio'], { maxAttempts: 3, maxRequeues: 8 });
    const out = await collect(conv, req());
    expect(out.error).toBeUndefined();
    expect(primary.calls).toBe(7);
    expect(stats.counters).toMatchObject({ attempts: 7, retries: 6, concurrencyRefusals: 4 });
  });

  it('gives up when a budget is spent, rethrowing the last error', async () => {
    const faults = stack([down(), down(), down(), 'audio'], { maxAttempts: 3 });
    const f = await collect(faults.conv, req());
    expect((f.error as ConversionError).status).toBe(503);
    expect(faults.primary.calls).toBe(3);

    const requeues = stack(Array.from({ length: 5 }, refused), { maxRequeues: 4 });
    const r = await collect(requeues.conv, req());
    expect((r.error as ConversionError).policy.label).toBe('concurrency');
    expect(requeues.primary.calls).toBe(4);
  });

  it('does not retry a permanent error, nor anything after the first byte', async () => {
    const permanent = stack([ConversionError.fromStatus(422, 'invalid'), 'audio']);
    expect(((await collect(permanent.conv, req())).error as ConversionError).status).toBe(422);
    expect(permanent.primary.calls).toBe(1);

    const midway = stack(['audio-then-reset', 'audio']);
    const out = await collect(midway.conv, req());
    expect(out.bytes.length).toBe(160);
    expect((out.error as ConversionError).afterFirstByte).toBe(true);
    expect(midway.primary.calls).toBe(1);
  });

  it('records each retry with the error label, status and code', async () => {
    const { conv, events } = stack([refused(), 'audio']);
    await collect(conv, req());
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ attempt: 1, label: 'concurrency', status: 429, code: TOO_MANY_CONCURRENT });
  });
});
