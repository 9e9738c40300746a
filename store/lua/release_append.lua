-- KEYS: record hash, journal list. ARGV: step, max steps kept. 0 when
-- there is no record.
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
