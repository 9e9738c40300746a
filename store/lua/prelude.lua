-- Shared by every script (the store prepends it). Times are the Redis
-- server's, in milliseconds, so that every replica agrees on expiry.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n)
  return string.format('%d', n)
end
