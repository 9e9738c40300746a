-- Queue keys: KEYS[1] order (zset id -> sequence), KEYS[2] deadlines (zset
-- id -> ms), KEYS[3] entries (hash id -> "enqueued-ms json"), KEYS[4] the
-- sequence counter. purge drops the entries whose deadline passed.
local function purge(now)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for _, id in ipairs(dead) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
local function position(id)
  local r = redis.call('ZRANK', KEYS[1], id)
  if r then
    return r + 1
  end
  return 0
end
