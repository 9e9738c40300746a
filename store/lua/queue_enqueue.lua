-- ARGV: id, entry json, ttl ms, max length. Returns the position, or -1
-- when the queue is full.
local now = now_ms()
purge(now)
local ttl = tonumber(ARGV[3])
local pos = position(ARGV[1])
if pos > 0 then
  redis.call('ZADD', KEYS[2], int(now + ttl), ARGV[1])
  return pos
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return -1
end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('ZADD', KEYS[2], int(now + ttl), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], int(now) .. ' ' .. ARGV[2])
return position(ARGV[1])
