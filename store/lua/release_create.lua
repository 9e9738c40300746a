-- KEYS: record hash, journal list. ARGV: ttl ms, number of field/value
-- arguments n, n field/value arguments, then the journal's steps. 0 when
-- the record exists already.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if #ARGV > 2 + n then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 3 + n))
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return 1
