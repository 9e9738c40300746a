-- KEYS: record hash. ARGV: n, n allowed states (none: any state), then
-- field/value pairs to set. 0 when there is no record, 1 when updated,
-- {current state} when the record's state is not one of the allowed.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local n = tonumber(ARGV[1])
if n > 0 then
  local cur = redis.call('HGET', KEYS[1], 'state') or ''
  local ok = false
  for i = 2, n + 1 do
    if ARGV[i] == cur then
      ok = true
    end
  end
  if not ok then
    return {cur}
  end
end
if #ARGV > n + 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, n + 2))
end
return 1
