"""Lua scripts run atomically in Redis: token buckets and budget reservations.

Times come from Redis (`TIME`), so replicas' clocks do not matter. Numbers written back are
formatted with %d: Lua would otherwise print large doubles as `1e+15`, which INCRBY rejects.
Amounts in nanodollars stay exact below 2^53 (about $9M per account and period).
"""

from __future__ import annotations

_NOW_US = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
"""

# localRateLimit, all of a request's entries in one call, with TokenBucket's semantics (discrete
# fills anchored to the bucket's start; see gateway/fastpath_py.py). KEYS: one bucket per entry,
# `requests` entries first. ARGV: 5 per entry: maxTokens, tokensPerFill, fillInterval (us),
# mode (1: take one token, 2: admit while >= 1 is left, take nothing), TTL (ms, 0 = none).
# Returns {refused entry (1-based) or 0, then remaining and us-to-next-fill per entry checked}.
TAKE = _NOW_US + """
local out = {0}
for i, key in ipairs(KEYS) do
  local b = (i - 1) * 5
  local max, fill, interval = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local ttl = tonumber(ARGV[b + 5])
  local s = redis.call('HMGET', key, 't', 'r')
  local tokens, refill = tonumber(s[1]), tonumber(s[2])
  if tokens == nil or refill == nil then
    tokens, refill = max, now + interval
  end
  if now >= refill then
    local n = math.floor((now - refill) / interval) + 1
    refill = refill + n * interval
    if tokens < max then
      if n * fill >= max - tokens then tokens = max else tokens = tokens + n * fill end
    end
  end
  local ok = tokens >= 1
  if ok and ARGV[b + 4] == '1' then tokens = tokens - 1 end
  redis.call('HSET', key, 't', string.format('%d', tokens), 'r', string.format('%d', refill))
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  out[#out + 1] = tokens
  out[#out + 1] = refill - now
  if not ok then
    out[1] = i
    return out
  end
end
return out
"""

# `tokens` entries after the response: remove the tokens used, saturating at 0, without applying
# fills first (TokenBucket.debit). A bucket that expired meanwhile starts full, like a fresh one.
# KEYS: buckets. ARGV[1]: tokens used; then 3 per bucket: maxTokens, fillInterval (us), TTL (ms).
DEBIT = _NOW_US + """
local used = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local b = 1 + (i - 1) * 3
  local s = redis.call('HMGET', key, 't', 'r')
  local tokens, refill = tonumber(s[1]), tonumber(s[2])
  if tokens == nil or refill == nil then
    tokens, refill = tonumber(ARGV[b + 1]), now + tonumber(ARGV[b + 2])
  end
  if tokens > used then tokens = tokens - used else tokens = 0 end
  redis.call('HSET', key, 't', string.format('%d', tokens), 'r', string.format('%d', refill))
  local ttl = tonumber(ARGV[b + 3])
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
return 0
"""

# Budget accounts. Per account, 3 KEYS: the period's hash (field `spent`, and `a:<threshold>` once
# that alert fired), the account's reserved total (a counter) and its reservations (a sorted set of
# `<id>:<amount>` scored by the deadline in ms of Redis time). Reservations past their deadline
# belong to a process that stopped renewing them (it crashed): they are released before each check.
_PURGE = """
local function purge(counter, live, now_ms)
  local dead = redis.call('ZRANGEBYSCORE', live, '-inf', now_ms)
  if #dead == 0 then return end
  local sum = 0
  for _, member in ipairs(dead) do
    sum = sum + tonumber(string.match(member, ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', live, '-inf', now_ms)
  if redis.call('DECRBY', counter, string.format('%d', sum)) < 0 then redis.call('SET', counter, '0') end
end

local function spent_of(hash, seed)
  redis.call('HSETNX', hash, 'spent', seed)
  return tonumber(redis.call('HGET', hash, 'spent'))
end

local function expire_period(hash, at)
  if at ~= '0' then redis.call('EXPIREAT', hash, at) end
end

-- Alerts: ARGV from `first`: count, then (label, nanos) pairs. Marks and returns the labels of
-- thresholds at or below `level` that no process has fired yet in this period.
local function crossed(hash, level, first)
  local fired = {}
  local n = tonumber(ARGV[first])
  for j = 0, n - 1 do
    local label, nanos = ARGV[first + 1 + 2 * j], tonumber(ARGV[first + 2 + 2 * j])
    if level >= nanos and redis.call('HSETNX', hash, 'a:' .. label, 1) == 1 then
      fired[#fired + 1] = label
    end
  end
  return fired, first + 1 + 2 * n
end
"""

# Reserve `amount` on every account at once, or on none. ARGV: amount, member, reservation TTL (ms);
# then per account: limit, seed (ledger spend for this period, used only when Redis has none),
# period end (epoch s, 0 = never), alert thresholds (count, label/nanos pairs).
# Returns {0, {spent, reserved} per account} or {refused account, spent, reserved, {alert labels}}.
RESERVE = _NOW_US + _PURGE + """
local amount, member, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local now_ms = math.floor(now / 1000)
local state = {}
local arg = 4
for i = 1, #KEYS / 3 do
  local hash, counter, live = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local limit, seed, ends = tonumber(ARGV[arg]), ARGV[arg + 1], ARGV[arg + 2]
  purge(counter, live, now_ms)
  local spent = spent_of(hash, seed)
  expire_period(hash, ends)
  local reserved = tonumber(redis.call('GET', counter) or '0')
  if spent + reserved + amount > limit then
    local level = spent
    if limit > level then level = limit end
    local fired = crossed(hash, level, arg + 3)
    return {i, spent, reserved, fired}
  end
  state[i] = {spent, reserved}
  arg = arg + 4 + 2 * tonumber(ARGV[arg + 3])
end
for i = 1, #KEYS / 3 do
  local counter, live = KEYS[3 * i - 1], KEYS[3 * i]
  state[i][2] = redis.call('INCRBY', counter, ARGV[1])
  redis.call('ZADD', live, now_ms + ttl, member)
  redis.call('PEXPIRE', counter, 2 * ttl)
  redis.call('PEXPIRE', live, 2 * ttl)
end
return {0, state}
"""

# Replace a reservation by the actual cost. KEYS as RESERVE (the hash of the period the request
# ends in). ARGV: reserved amount, member (empty when nothing was reserved: failOpen), actual cost;
# then per account: seed, period end, alert thresholds. Returns per account {spent, reserved, {labels}}.
SETTLE = _PURGE + """
local amount, member, actual = ARGV[1], ARGV[2], ARGV[3]
local out = {}
local arg = 4
for i = 1, #KEYS / 3 do
  local hash, counter, live = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if member ~= '' and redis.call('ZREM', live, member) == 1 then
    if redis.call('DECRBY', counter, amount) < 0 then redis.call('SET', counter, '0') end
  end
  spent_of(hash, ARGV[arg])
  local spent = redis.call('HINCRBY', hash, 'spent', actual)
  expire_period(hash, ARGV[arg + 1])
  local fired
  fired, arg = crossed(hash, spent, arg + 2)
  out[i] = {spent, tonumber(redis.call('GET', counter) or '0'), fired}
end
return out
"""

# A live process renews its reservations' deadlines. KEYS: (counter, reservations) pairs;
# ARGV[1]: TTL (ms), then one member per pair.
RENEW = _NOW_US + """
local ttl = tonumber(ARGV[1])
local deadline = math.floor(now / 1000) + ttl
for i = 1, #KEYS / 2 do
  local counter, live = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZADD', live, 'XX', deadline, ARGV[i + 1])
  redis.call('PEXPIRE', counter, 2 * ttl)
  redis.call('PEXPIRE', live, 2 * ttl)
end
return 0
"""
