-- KEYS: lease hash, target. ARGV: token, fence, value. Sets target only
-- while (token, fence) is the live lease: 1 when set.
local l = redis.call('HMGET', KEYS[1], 'token', 'fence')
if l[1] ~= ARGV[1] or l[2] ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[3])
return 1
