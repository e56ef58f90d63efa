/**
 * The outbound call rate shared by every instance on one Redis: Twilio paces calls per account
 * (one a second by default), so a fleet ringing agents must share one pace, not one each. One
 * key holds the time the next call may start (Redis's clock); each call takes the next slot
 * atomically and waits until it. When Redis does not answer in time, this instance paces on its
 * own (at the same rate) rather than not dialling: the account queues the excess, nothing is lost.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { Pacer, type CallPacer } from '../session/line/pacer.js';

/** Takes the next slot: returns how many ms to wait for it. */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nextAt)
redis.call('SET', KEYS[1], at + tonumber(ARGV[1]), 'PX', 60000)
return at - now
`;

export interface RedisPacerOptions {
  url: string;
  perSecond: number;
  log: Logger;
  /** Keys' namespace (default 'voicemask:dial-pace'), and the pool sharing one account. */
  key?: string;
  /** Longest wait for Redis before pacing locally (default 500 ms). */
  timeoutMs?: number;
}

export class RedisPacer implements CallPacer {
  private readonly redis: Redis;
  private readonly local: Pacer;
  private readonly key: string;
  private readonly timers = new Set<NodeJS.Timeout>();
  private warned = false;

  constructor(private readonly o: RedisPacerOptions) {
    this.redis = new Redis(o.url, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.redis.on('error', () => {});
    this.local = new Pacer(o.perSecond);
    this.key = o.key ?? 'voicemask:dial-pace';
  }

  async next(): Promise<void> {
    let waitMs: number;
    try {
      const timeout = new Promise<never>((_, reject) => {
        const t = setTimeout(() => reject(new Error('timeout')), this.o.timeoutMs ?? 500);
        t.unref();
      });
      waitMs = Number(await Promise.race([this.redis.eval(TAKE, 1, this.key, Math.round(1000 / this.o.perSecond)), timeout]));
      this.warned = false;
    } catch (err) {
      if (!this.warned) this.o.log.warn({ err: (err as Error).message }, 'dial pacing: Redis unavailable, pacing this instance alone');
      this.warned = true;
      return this.local.next();
    }
    if (waitMs <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, waitMs);
      this.timers.add(t);
    });
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.local.close();
    this.redis.disconnect();
  }
}
