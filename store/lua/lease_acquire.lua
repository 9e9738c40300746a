-- KEYS: lease hash, fence counter. ARGV: token, release, ticket, by, ttl ms.
-- Returns {acquired (1/0), lease fields, written (1/0)}: the new lease, or
-- the holder's.
local cur = redis.call('HGETALL', KEYS[1])
if #cur > 0 then
  if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
    return {1, cur, 0}
  end
  return {0, cur, 0}
end
local fence = redis.call('INCR', KEYS[2])
local now = now_ms()
local ttl = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', fence, 'release', ARGV[2],
  'ticket', ARGV[3], 'by', ARGV[4], 'acquired', int(now), 'expires', int(now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, redis.call('HGETALL', KEYS[1]), 1}
