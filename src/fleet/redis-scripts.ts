/**
 * The fleet semaphore's Lua scripts: each runs atomically in Redis, on Redis' own clock (TIME),
 * so instances never compare their clocks. Keys of one pool (one ElevenLabs key) share a hash
 * tag, so the pool also lives on one Redis Cluster slot.
 *
 *   leases    ZSET  lease id → expiry (ms): the slots in use; a lease not renewed expires
 *   wexp      ZSET  waiter id → expiry: waiters of a dead instance drop out of the queue
 *   winfo     HASH  waiter id → "seq|callKey": arrival order and call of each waiter
 *   served    ZSET  callKey → tick of its last grant: round-robin across every instance's calls
 *   seq       STRING counter for arrivals and grants
 *   acctmax   STRING the account's limit from maximum-concurrent-requests (expires)
 *   lowered   STRING the limit after a 429 too_many_concurrent_requests (expires)
 *   instances ZSET  instance id → expiry: the live instances (the share when Redis is away)
 */

export const POOL_KEYS = ['leases', 'wexp', 'winfo', 'served', 'seq', 'acctmax', 'lowered', 'instances'] as const;

/** The prelude every script shares: now, purge of expired leases and waiters, the limit. ARGV[1] = configured limit. */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, w in ipairs(gone) do redis.call('HDEL', KEYS[3], w) end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now)
local limit = tonumber(ARGV[1])
local acct = redis.call('GET', KEYS[6])
if acct and tonumber(acct) and tonumber(acct) < limit then limit = tonumber(acct) end
local low = redis.call('GET', KEYS[7])
if low and tonumber(low) and tonumber(low) < limit then limit = tonumber(low) end
if limit < 1 then limit = 1 end
`;

/**
 * ARGV: limit, id, callKey, leaseMs, waiterTtlMs.
 * Grants a lease when a slot is free and this waiter is among the first `free` of the queue in
 * fair order (its call's last grant, oldest first; then arrival); otherwise queues or refreshes it.
 * Returns {granted 0/1, leases held, waiters, limit, leases expired by this call}.
 */
export const ACQUIRE = `${PRELUDE}
local id, call = ARGV[2], ARGV[3]
local held = redis.call('ZCARD', KEYS[1])
local free = limit - held
local waiting = redis.call('HLEN', KEYS[3])
local mine = redis.call('HGET', KEYS[3], id)
local grant = false
if free > 0 then
  if waiting == 0 or (waiting == 1 and mine) then
    grant = true
  else
    if not mine then
      mine = redis.call('INCR', KEYS[5]) .. '|' .. call
      redis.call('HSET', KEYS[3], id, mine)
      waiting = waiting + 1
    end
    local served = {}
    local function key(v)
      local bar = string.find(v, '|', 1, true)
      local c = string.sub(v, bar + 1)
      if served[c] == nil then served[c] = tonumber(redis.call('ZSCORE', KEYS[4], c) or '0') or 0 end
      return served[c], tonumber(string.sub(v, 1, bar - 1))
    end
    local ms, mq = key(mine)
    local ahead = 0
    local all = redis.call('HVALS', KEYS[3])
    for _, v in ipairs(all) do
      local s, q = key(v)
      if s < ms or (s == ms and q < mq) then ahead = ahead + 1 end
    end
    grant = ahead < free
  end
end
if grant then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), id)
  if mine then
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZREM', KEYS[2], id)
    waiting = waiting - 1
  end
  redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[5]), call)
  if redis.call('ZCARD', KEYS[4]) > 10000 then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -10001) end
  return {1, held + 1, waiting, limit, expired}
end
if not mine then
  redis.call('HSET', KEYS[3], id, redis.call('INCR', KEYS[5]) .. '|' .. call)
  waiting = waiting + 1
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), id)
return {0, held, waiting, limit, expired}
`;

/**
 * ARGV: limit, instanceId, leaseMs, instanceTtlMs, lease ids...
 * Renews (or re-creates, after a Redis restart) this instance's leases and marks it alive.
 * Returns {live instances, leases held, waiters, limit, leases expired by this call}.
 */
export const RENEW = `${PRELUDE}
local exp = now + tonumber(ARGV[3])
for i = 5, #ARGV do redis.call('ZADD', KEYS[1], exp, ARGV[i]) end
redis.call('ZADD', KEYS[8], now + tonumber(ARGV[4]), ARGV[2])
return {redis.call('ZCARD', KEYS[8]), redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[3]), limit, expired}
`;

/** KEYS: leases, wexp, winfo. ARGV: id, channel. Gives back a lease (or a queue place) and tells the waiters. */
export const RELEASE = `
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if n > 0 and redis.call('HLEN', KEYS[3]) > 0 then redis.call('PUBLISH', ARGV[2], '1') end
return n
`;

/**
 * ARGV: limit, lowerForMs. A 429 too_many_concurrent_requests: the pool's limit becomes one
 * fewer than the leases held now, for lowerForMs (a lower value already set stays). Returns it.
 */
export const LOWER = `${PRELUDE}
local v = redis.call('ZCARD', KEYS[1]) - 1
if v > limit then v = limit end
if v < 1 then v = 1 end
redis.call('SET', KEYS[7], v, 'PX', tonumber(ARGV[2]))
return v
`;
