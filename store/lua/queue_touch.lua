-- ARGV: id, ttl ms. Extends a queued entry's deadline; its position or 0.
local now = now_ms()
purge(now)
local pos = position(ARGV[1])
if pos > 0 then
  redis.call('ZADD', KEYS[2], 'XX', int(now + tonumber(ARGV[2])), ARGV[1])
end
return pos
