-- Removes and returns the head entry, nil when empty.
purge(now_ms())
local ids = redis.call('ZRANGE', KEYS[1], 0, 0)
if #ids == 0 then
  return false
end
local v = redis.call('HGET', KEYS[3], ids[1])
redis.call('ZREM', KEYS[1], ids[1])
redis.call('ZREM', KEYS[2], ids[1])
redis.call('HDEL', KEYS[3], ids[1])
return v
