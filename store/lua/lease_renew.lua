-- KEYS: lease hash. ARGV: token, ttl ms. Compare and renew: the lease
-- fields, or nil when token does not hold the lease.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return false
end
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'expires', int(now_ms() + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
return redis.call('HGETALL', KEYS[1])
