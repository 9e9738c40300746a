-- KEYS: lease hash. ARGV: token. Compare and delete: 1 when deleted.
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
