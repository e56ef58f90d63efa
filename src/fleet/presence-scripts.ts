/**
 * The fleet presence store's Lua scripts (presence-redis.ts): each runs atomically in Redis, on
 * Redis' own clock (TIME), so instances never compare clocks and two claims never interleave.
 * The rules are those of src/session/line/presence-memory.ts. Keys of one pool share a hash tag
 * (one Redis Cluster slot); every script is given all of them:
 *
 *   agents  HASH   agent id → JSON {s state, since, last, calls, call, inst, exp, wrap, p paused 0/1}
 *   claimed HASH   agent id → the callSid it rings for or talks to (who is being dialled)
 *   waiters HASH   "line\ncallSid" → JSON {at, inst, exp, excl}
 *   queue   ZSET   "line\n<enqueuedAt, 15 digits>\ncallSid", all scored 0: each line's queue in
 *                  order is one lexicographic range, read from its head only as far as needed
 *   timers  ZSET   "a\n<agent>" → lease expiry or wrap-up end; "w\n<line>\n<callSid>" → lease expiry
 *   rr      HASH   line → the agent it last rang (rrmemory)
 *   lastat  STRING the last enqueuedAt issued (each is unique: the queue's order)
 *
 * Sizes: agents and claimed by the roster, waiters and queue by the callers waiting now, rr by
 * the lines; nothing grows with the number of calls. A claim reads its candidates and the
 * callers ahead of its own, no more. Every script starts with the same prelude: what `timers`
 * says is due happens (wrap-up ends, leases of a silent instance expire); and ends the same way:
 * it returns {ms until the next timer (-1: none), leases expired, changes, ...its own results},
 * and publishes the first on the pool's channel when anything changed, so every instance
 * notifies its listeners and knows when to look again.
 *
 * ARGV of every script: channel, instance id, lease ms, then its own.
 */

export const PRESENCE_KEYS = ['agents', 'claimed', 'waiters', 'queue', 'timers', 'rr', 'lastat'] as const;

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inst, lease = ARGV[2], tonumber(ARGV[3])
local changed, expired = 0, 0
local NL = string.char(10)
local function getA(id)
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function putA(id, a)
  redis.call('HSET', KEYS[1], id, cjson.encode(a))
  if a.call then redis.call('HSET', KEYS[2], id, a.call) else redis.call('HDEL', KEYS[2], id) end
end
local function free(a) return a.s == 'available' and a.p ~= 1 end
local function member(line, call, at) return line .. NL .. string.format('%015.0f', at) .. NL .. call end
local function dropWaiter(f)
  local raw = redis.call('HGET', KEYS[3], f)
  if not raw then return 0 end
  local w = cjson.decode(raw)
  local nl = string.find(f, NL, 1, true)
  redis.call('ZREM', KEYS[4], member(string.sub(f, 1, nl - 1), string.sub(f, nl + 1), w.at))
  redis.call('ZREM', KEYS[5], 'w' .. NL .. f)
  return redis.call('HDEL', KEYS[3], f)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
for _, m in ipairs(due) do
  local rest = string.sub(m, 3)
  if string.sub(m, 1, 1) == 'w' then
    if dropWaiter(rest) == 1 then
      changed = changed + 1
      expired = expired + 1
    end
  else
    local a = getA(rest)
    if a and a.s == 'wrap-up' then
      a.s = 'available'
      if a.p ~= 1 then a.since = a.wrap end
      a.wrap = nil
      putA(rest, a)
      changed = changed + 1
    elseif a and a.call then
      a.s, a.call, a.inst, a.exp, a.since = 'available', nil, nil, nil, now
      putA(rest, a)
      changed = changed + 1
      expired = expired + 1
    end
  end
end
if #due > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now) end
local function finish(res)
  local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  local nxt = -1
  if first[2] then nxt = tonumber(first[2]) - now end
  if changed > 0 then redis.call('PUBLISH', ARGV[1], tostring(nxt)) end
  local out = {nxt, expired, changed}
  for _, v in ipairs(res) do out[#out + 1] = v end
  return out
end
-- the line's queue from its head (up to the member 'last' if given), read 32 at a time:
-- an iterator of callSid, enqueuedAt
local function queueOf(line, last)
  local from, to = '[' .. line .. NL, '(' .. line .. string.char(11)
  if last then to = '[' .. last end
  local page, i, offset, skip = {}, 0, 0, #line + 17
  return function()
    i = i + 1
    if i > #page then
      if #page < 32 and offset > 0 then return nil end
      page = redis.call('ZRANGEBYLEX', KEYS[4], from, to, 'LIMIT', offset, 32)
      offset, i = offset + 32, 1
    end
    local m = page[i]
    if not m then return nil end
    return string.sub(m, skip + 1), tonumber(string.sub(m, #line + 2, skip - 1))
  end
end
local function holdWaiter(line, call, w)
  w.inst, w.exp = inst, now + lease
  local f = line .. NL .. call
  redis.call('HSET', KEYS[3], f, cjson.encode(w))
  redis.call('ZADD', KEYS[4], 0, member(line, call, w.at))
  redis.call('ZADD', KEYS[5], w.exp, 'w' .. NL .. f)
end
local function newAt()
  local at = math.max(now, tonumber(redis.call('GET', KEYS[7]) or '0') + 1)
  redis.call('SET', KEYS[7], string.format('%.0f', at))
  return at
end
`;

/** ARGV: ..., agent ids. Adds the agents not known yet, available. */
export const SET_ROSTER = `${PRELUDE}
for i = 4, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    putA(ARGV[i], {s = 'available', since = now, calls = 0, p = 0})
    changed = changed + 1
  end
end
return finish({})
`;

/** ARGV: ..., line, callSid, enqueuedAt ('' for a new place). Returns {.., enqueuedAt}. */
export const ENQUEUE = `${PRELUDE}
local line, call = ARGV[4], ARGV[5]
local at = tonumber(ARGV[6])
local f = line .. NL .. call
local raw = redis.call('HGET', KEYS[3], f)
local w = {excl = {}}
if raw then
  w = cjson.decode(raw)
  if at and at ~= w.at then
    redis.call('ZREM', KEYS[4], member(line, call, w.at))
    w.at = math.floor(at)
  end
else
  w.at = at and math.floor(at) or newAt()
end
holdWaiter(line, call, w)
changed = changed + 1
return finish({string.format('%.0f', w.at)})
`;

/** ARGV: ..., line, callSid. */
export const LEAVE = `${PRELUDE}
if dropWaiter(ARGV[4] .. NL .. ARGV[5]) == 1 then changed = changed + 1 end
return finish({})
`;

/** ARGV: ..., line. Returns {.., callSid, enqueuedAt, instance, ...} longest waiting first. */
export const QUEUE = `${PRELUDE}
local out = {}
for call, at in queueOf(ARGV[4]) do
  local w = cjson.decode(redis.call('HGET', KEYS[3], ARGV[4] .. NL .. call))
  out[#out + 1] = call
  out[#out + 1] = string.format('%.0f', at)
  out[#out + 1] = w.inst
end
return finish(out)
`;

/**
 * ARGV: ..., line, callSid, strategy, n, n candidates, m, m excluded.
 * Claims for the head of the line (rules in presence-memory.ts). Returns {.., agent ids}.
 */
export const CLAIM = `${PRELUDE}
local line, call, strategy = ARGV[4], ARGV[5], ARGV[6]
local nc = tonumber(ARGV[7])
local cands = {}
for i = 1, nc do cands[i] = ARGV[7 + i] end
local exclList, excl = {}, {}
for i = 1, tonumber(ARGV[8 + nc]) do
  local v = ARGV[8 + nc + i]
  exclList[i] = v
  excl[v] = true
end
local f = line .. NL .. call
local raw = redis.call('HGET', KEYS[3], f)
if not raw or nc == 0 then return finish({}) end
local me = cjson.decode(raw)
me.excl = exclList
redis.call('HSET', KEYS[3], f, cjson.encode(me))
local dialled = {}
for _, c in ipairs(redis.call('HVALS', KEYS[2])) do dialled[c] = true end
if dialled[call] then return finish({}) end
local agents, avail = {}, {}
local raws = redis.call('HMGET', KEYS[1], unpack(cands))
for i, id in ipairs(cands) do
  if raws[i] then
    agents[id] = cjson.decode(raws[i])
    if free(agents[id]) then avail[#avail + 1] = id end
  end
end
if #avail == 0 then return finish({}) end
for c in queueOf(line, member(line, call, me.at)) do
  if c == call then break end
  if not dialled[c] then
    local ex = {}
    for _, v in ipairs(cjson.decode(redis.call('HGET', KEYS[3], line .. NL .. c)).excl or {}) do ex[v] = true end
    for _, id in ipairs(avail) do
      if not ex[id] then return finish({}) end
    end
  end
end
local mine = {}
for _, id in ipairs(avail) do if not excl[id] then mine[#mine + 1] = id end end
if #mine == 0 then return finish({}) end
local ids = {}
if strategy == 'ringall' then
  ids = mine
elseif strategy == 'linear' then
  ids = {mine[1]}
elseif strategy == 'rrmemory' then
  local last = redis.call('HGET', KEYS[6], line)
  local start = 0
  for i, id in ipairs(cands) do if id == last then start = i end end
  local ok = {}
  for _, id in ipairs(mine) do ok[id] = true end
  for i = 1, nc do
    local id = cands[((start - 1 + i) % nc) + 1]
    if ok[id] then
      ids = {id}
      break
    end
  end
else
  local best, bestKey
  for _, id in ipairs(mine) do
    local k
    if strategy == 'fewestcalls' then k = agents[id].calls else k = agents[id].last or -1 end
    if best == nil or k < bestKey then best, bestKey = id, k end
  end
  ids = {best}
end
for _, id in ipairs(ids) do
  local a = agents[id]
  a.s, a.call, a.inst, a.exp, a.since = 'ringing', call, inst, now + lease, now
  putA(id, a)
  redis.call('ZADD', KEYS[5], a.exp, 'a' .. NL .. id)
end
redis.call('HSET', KEYS[6], line, ids[#ids])
changed = changed + 1
return finish(ids)
`;

/** ARGV: ..., agent, callSid. Ringing for callSid → on a call. */
export const CONNECTED = `${PRELUDE}
local a = getA(ARGV[4])
if a and a.call == ARGV[5] and a.s == 'ringing' then
  a.s, a.since, a.exp = 'on-call', now, now + lease
  putA(ARGV[4], a)
  redis.call('ZADD', KEYS[5], a.exp, 'a' .. NL .. ARGV[4])
end
return finish({})
`;

/** ARGV: ..., agent, callSid, wrapUpMs, answered 0/1. Returns {.., 1 released / 0 ignored}. */
export const RELEASE = `${PRELUDE}
local id = ARGV[4]
local a = getA(id)
if not a or a.call ~= ARGV[5] then return finish({0}) end
local wrap = tonumber(ARGV[6])
a.call, a.inst, a.exp, a.since = nil, nil, nil, now
if ARGV[7] == '1' then
  a.calls = a.calls + 1
  a.last = now
end
if wrap > 0 then
  a.s, a.wrap = 'wrap-up', now + wrap
  redis.call('ZADD', KEYS[5], a.wrap, 'a' .. NL .. id)
else
  a.s = 'available'
  redis.call('ZREM', KEYS[5], 'a' .. NL .. id)
end
putA(id, a)
changed = changed + 1
return finish({1})
`;

/** ARGV: ..., agent, paused 0/1. */
export const PAUSE = `${PRELUDE}
local a = getA(ARGV[4])
local p = tonumber(ARGV[5])
if a and a.p ~= p then
  a.p = p
  if not a.call then a.since = now end
  putA(ARGV[4], a)
  changed = changed + 1
end
return finish({})
`;

/** Returns {.., agent id, JSON, ...}. */
export const SNAPSHOT = `${PRELUDE}
return finish(redis.call('HGETALL', KEYS[1]))
`;

/**
 * ARGV: ..., n, n roster ids, m, m × (line, callSid, enqueuedAt), k, k × (agent, callSid, state).
 * The heartbeat: renews this instance's waiters and claims, and re-creates what Redis lost
 * (a restart without persistence): the roster, the waiters at their places, the claims whose
 * agent is free. Returns {.., agents whose claim another caller holds now (lost)}.
 */
export const RENEW = `${PRELUDE}
local i = 4
for j = 1, tonumber(ARGV[i]) do
  local id = ARGV[i + j]
  if redis.call('HEXISTS', KEYS[1], id) == 0 then
    putA(id, {s = 'available', since = now, calls = 0, p = 0})
    changed = changed + 1
  end
end
i = i + tonumber(ARGV[i]) + 1
for j = 0, tonumber(ARGV[i]) - 1 do
  local line, call, at = ARGV[i + 1 + 3 * j], ARGV[i + 2 + 3 * j], tonumber(ARGV[i + 3 + 3 * j])
  local raw = redis.call('HGET', KEYS[3], line .. NL .. call)
  if raw then
    local w = cjson.decode(raw)
    if w.inst == inst then holdWaiter(line, call, w) end
  else
    holdWaiter(line, call, {at = at, excl = {}})
    changed = changed + 1
  end
end
i = i + 3 * tonumber(ARGV[i]) + 1
local lost = {}
for j = 0, tonumber(ARGV[i]) - 1 do
  local id, call, state = ARGV[i + 1 + 3 * j], ARGV[i + 2 + 3 * j], ARGV[i + 3 + 3 * j]
  local a = getA(id)
  if a and a.call == call then
    a.inst, a.exp = inst, now + lease
  elseif a and a.call == nil and a.s == 'available' then
    a.s, a.call, a.inst, a.exp, a.since = state, call, inst, now + lease, now
  else
    a = nil
    lost[#lost + 1] = id
  end
  if a then
    putA(id, a)
    redis.call('ZADD', KEYS[5], a.exp, 'a' .. NL .. id)
  end
end
return finish(lost)
`;
