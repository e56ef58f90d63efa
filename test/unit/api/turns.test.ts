/** apiTurn: however many conversions run, one of their steps per event-loop turn, so timers keep their pace. */
import { describe, expect, it } from 'vitest';
import { apiTurn } from '../../../src/api/turns.js';

/** Runs `workers` loops of `steps` steps, yielding with `yieldFn`; returns the most steps run between two timer ticks. */
async function stepsBetweenTimers(yieldFn: () => Promise<unknown>, workers = 6, steps = 10): Promise<number> {
  let sinceTick = 0;
  let worst = 0;
  let running = true;
  const tick = () => {
    worst = Math.max(worst, sinceTick);
    sinceTick = 0;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < steps; i++) {
        await yieldFn();
        const until = performance.now() + 2; // a step of work, longer than the timer's 1 ms, so it is always due after one
        while (performance.now() < until);
        sinceTick++;
      }
    }),
  );
  running = false;
  return worst;
}

describe('apiTurn', () => {
  it('lets timers run after every step, where setImmediate lets every conversion take a step first', async () => {
    const plain = await stepsBetweenTimers(() => new Promise((r) => setImmediate(r)));
    const gated = await stepsBetweenTimers(apiTurn);
    expect(plain).toBeGreaterThanOrEqual(6);
    expect(gated).toBeLessThanOrEqual(2);
  });

  it('serves every waiter, in order', async () => {
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3].map(async (n) => {
      await apiTurn();
      order.push(n);
    }));
    expect(order).toEqual([0, 1, 2, 3]);
  });
});
