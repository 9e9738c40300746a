-- KEYS: request hash, votes hash. ARGV: data (JSON), ttl ms. Creates a
-- pending request unless it exists: 1 when created.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'state', 'pending', 'reason', '', 'closed', '')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
