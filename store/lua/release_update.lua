-- KEYS: record hash. ARGV: field/value pairs to set. 0 when there is no
-- record.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if #ARGV > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
end
return 1
