import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ConversionError } from '../../../../src/voice/errors.js';
import { FairLimiter, type Release } from '../../../../src/voice/resilience/index.js';

const never = new AbortController().signal;

describe('FairLimiter', () => {
  it('hands freed slots round-robin between calls, least recently served first', async () => {
    const lim = new FairLimiter(1);
    const order: string[] = [];
    const held: Release[] = [];
    const first = await lim.acquire('A', never);
    const waits = [
      ['A', 1],
      ['A', 2],
      ['A', 3],
      ['B', 1],
      ['C', 1],
      ['B', 2],
    ].map(([k, n]) =>
      lim.acquire(String(k), never).then((r) => {
        order.push(`${k}${n}`);
        held.push(r);
      }),
    );
    expect(lim.queued).toBe(6);
    first();
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setImmediate(r));
      held.shift()?.();
    }
    await Promise.all(waits);
    expect(order).toEqual(['B1', 'C1', 'A1', 'B2', 'A2', 'A3']);
    expect(lim.inFlight).toBe(0);
  });

  it('removes waiters on abort and on their stale deadline, and a release is idempotent', async () => {
    const lim = new FairLimiter(1);
    const r = await lim.acquire('A', never);
    const ac = new AbortController();
    const aborted = lim.acquire('B', ac.signal).catch((e: unknown) => e);
    const stale = lim.acquire('C', never, performance.now() + 30, () => new ConversionError('old', 'stale')).catch((e: unknown) => e);
    ac.abort();
    expect(((await aborted) as ConversionError).kind).toBe('aborted');
    expect(((await stale) as ConversionError).kind).toBe('stale');
    expect(lim.queued).toBe(0);
    r();
    r();
    expect(lim.inFlight).toBe(0);
    const again = await lim.acquire('D', never);
    expect(lim.inFlight).toBe(1);
    again();
  });
});
