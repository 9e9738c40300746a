-- KEYS: request hash. ARGV: state, reason, closed (RFC 3339). Ends a
-- pending request: 1 closed, 0 it had ended, -1 no such request.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return -1
end
if state ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'reason', ARGV[2], 'closed', ARGV[3])
return 1
