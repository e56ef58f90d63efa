/** The ElevenLabs concurrency limiter a deployment uses: this process's, or with REDIS_URL the fleet's. */
import type { Logger } from '../observability/logger.js';
import { AccountLimit, FairLimiter, type ConcurrencyLimiter } from '../voice/resilience/index.js';
import { RedisFairLimiter } from './redis-limiter.js';

export { RedisFairLimiter, poolName, type RedisLimiterOptions } from './redis-limiter.js';

export interface LimiterOptions {
  /** ELEVENLABS_MAX_CONCURRENCY */
  maxConcurrency: number;
  /** REDIS_URL: share the limit with every instance on this Redis and key (unset: this process only). */
  redisUrl?: string;
  /** Names the shared pool (poolName(key, baseUrl)). */
  pool?: string;
  redisTimeoutMs?: number;
  leaseMs?: number;
  log: Logger;
}

/** The in-process fair limiter, or with a Redis URL the fleet's. */
export function createLimiter(o: LimiterOptions): ConcurrencyLimiter {
  if (!o.redisUrl) return new FairLimiter(new AccountLimit({ configured: o.maxConcurrency }));
  return new RedisFairLimiter({
    url: o.redisUrl,
    limit: o.maxConcurrency,
    pool: o.pool ?? 'default',
    log: o.log.child({ component: 'fleet-limiter' }),
    ...(o.redisTimeoutMs !== undefined && { timeoutMs: o.redisTimeoutMs }),
    ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }),
  });
}
