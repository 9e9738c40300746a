-- The live entries, head first.
purge(now_ms())
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
if #ids == 0 then
  return {}
end
return redis.call('HMGET', KEYS[3], unpack(ids))
