-- KEYS: the env's tenures hash (ticket → "release|extensions").
-- ARGV: ticket, release, from, max. Extends when the count is from and
-- below max. Returns {extended (1/0), release, extensions}.
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local rel, n = ARGV[2], 0
if cur then
  local sep = string.find(cur, '|', 1, true)
  if sep and string.sub(cur, 1, sep - 1) == ARGV[2] then
    n = tonumber(string.sub(cur, sep + 1)) or 0
  end
end
if n ~= tonumber(ARGV[3]) or n >= tonumber(ARGV[4]) then
  return {0, rel, n}
end
n = n + 1
redis.call('HSET', KEYS[1], ARGV[1], rel .. '|' .. int(n))
return {1, rel, n}
