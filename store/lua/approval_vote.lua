-- KEYS: request hash, votes hash. ARGV: user, vote (JSON). Records one
-- vote per user while the request is pending: 1 recorded, 0 not (ended,
-- or the user voted already), -1 no such request.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return -1
end
if state ~= 'pending' or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
