-- ARGV: id. Its position or 0.
purge(now_ms())
return position(ARGV[1])
