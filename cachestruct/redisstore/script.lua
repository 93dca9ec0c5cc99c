-- twine's cachestruct store: one atomic operation on KEYS[1] per call, with
-- memcached 1.6.18's semantics. See redisstore.go for the arguments of each
-- operation (ARGV[1] is 'g', 's', 'd', 'i' or 'r').
--
-- An item is a string: "\199\1", a state byte (1 = won, 2 = stale), the
-- client flags (4 bytes), the CAS as two 4-byte halves, all big-endian,
-- then the value. The key's TTL is the item's.
--
-- A CAS is below 2^53 (a microsecond clock, then + 1 per version), so a
-- double holds it exactly, and a CAS argument of 2^53 or more, which
-- tonumber rounds, cannot equal it.
--
-- Results: a table or string on success; integers below 0 are outcomes the
-- client maps to errors: -1 not ours (corrupt), -2 not found,
-- -3 not stored, -4 CAS conflict, -5 not a number.
--
-- Every call runs this whole chunk, so it defines as few functions as it
-- can (each is a closure made per call: 0.2 us of the server's time): one,
-- store, made after the branches that do not need it.
local key = KEYS[1]
local op = ARGV[1]
local B = 4294967296

-- An add (Set with ModeAdd) needs no read: SET NX stores only if the key
-- is missing. ARGV as for 's' below.
if op == 's' and ARGV[4] == '1' then
  local t = redis.call('TIME')
  local c = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tm = ARGV[7]
  if tm == '3' then
    -- Stored and expired at once: nothing to write, but an existing item
    -- still makes the add fail.
    if redis.call('EXISTS', key) == 1 then
      return -3
    end
    return c
  end
  local item = '\199\1' .. struct.pack('>BI4I4I4', 0, tonumber(ARGV[3]), math.floor(c / B), c % B) .. ARGV[2]
  local ok
  if tm == '1' then
    ok = redis.call('SET', key, item, 'NX', 'EX', ARGV[8])
  elseif tm == '2' then
    ok = redis.call('SET', key, item, 'NX', 'EXAT', ARGV[8])
  else
    ok = redis.call('SET', key, item, 'NX')
  end
  if not ok then
    return -3
  end
  return c
end

-- The current item: v is its bytes, state its state byte; foreign
-- is true for a key of another type, or a string this script did not
-- write.
local v = redis.pcall('GET', key)
local foreign = type(v) == 'table'
local state, flags, cas
if foreign then
  v = false
elseif v then
  local m1, m2, st = string.byte(v, 1, 3)
  if #v >= 15 and m1 == 199 and m2 == 1 then
    state = st
  else
    foreign = true
  end
end

if op == 'g' then
  -- ARGV: lease seconds, recache seconds.
  if foreign then
    return -1
  end
  if not v then
    local lease = tonumber(ARGV[2])
    if lease == 0 then
      return false
    end
    local t = redis.call('TIME')
    local c = tonumber(t[1]) * 1000000 + tonumber(t[2])
    v = '\199\1' .. struct.pack('>BI4I4I4', 1, 0, math.floor(c / B), c % B)
    redis.call('SET', key, v, 'EX', lease)
    return {v, lease * 1000, 1}
  end
  local pttl = redis.call('PTTL', key)
  local win = 0
  if state % 2 == 0 then
    if state >= 2 then
      win = 1
    else
      local recache = tonumber(ARGV[3])
      if recache > 0 and pttl > 0 and math.ceil(pttl / 1000) < recache then
        win = 1
      end
    end
    if win == 1 then
      redis.call('SETRANGE', key, 2, string.char(state + 1))
    end
  end
  return {v, pttl, win}
end

if op == 'r' then
  -- A rate limiter's decision (cachestruct.RateStore). ARGV: now, inc and
  -- burst, Unix nanoseconds each sent as whole seconds and nanoseconds:
  -- a double holds neither an int64 nor a Unix time in nanoseconds
  -- exactly, so every number here is such a pair (h, l), 0 <= l < 1e9,
  -- added with a carry. The stored TAT is read as Go's strconv.ParseInt
  -- reads it (a sign, decimal digits, nothing else, within an int64) and
  -- returned as read; the new one is written as Go's strconv.FormatInt
  -- writes it, as store would write it (flags 0, the CAS one more). Returns
  -- {tat as read ('' if missing), 1 if written}.
  if foreign then
    return -1
  end
  local G = 1000000000
  local nh, nl = tonumber(ARGV[2]), tonumber(ARGV[3])
  local tat, th, tl = '', 0, 0
  if v then
    tat = string.sub(v, 16)
    if not string.find(tat, '^[+-]?%d+$') then
      return -1
    end
    local d, neg = tat, false
    local c1 = string.byte(d, 1)
    if c1 == 43 or c1 == 45 then
      d, neg = string.sub(d, 2), c1 == 45
    end
    local n = #d
    if n > 19 then
      d = string.match(d, '^0*(%d*)$')
      n = #d
      if n > 19 then
        return -1
      end
    end
    if n > 9 then
      th, tl = tonumber(string.sub(d, 1, n - 9)), tonumber(string.sub(d, n - 8))
    elseif n > 0 then
      tl = tonumber(d)
    end
    local maxl = 854775807
    if neg then
      maxl = 854775808
    end
    if th > 9223372036 or (th == 9223372036 and tl > maxl) then
      return -1
    end
    if neg and (th > 0 or tl > 0) then
      th, tl = -1, 0 -- before now, which is never negative
    end
  end
  -- start = max(tat, now); next = start + inc; the limit is now + burst.
  local xh, xl = nh, nl
  if th > nh or (th == nh and tl > nl) then
    xh, xl = th, tl
  end
  xh, xl = xh + tonumber(ARGV[4]), xl + tonumber(ARGV[5])
  if xl >= G then
    xh, xl = xh + 1, xl - G
  end
  local lh, ll = nh + tonumber(ARGV[6]), nl + tonumber(ARGV[7])
  if ll >= G then
    lh, ll = lh + 1, ll - G
  end
  if xh > lh or (xh == lh and xl > ll) then
    return {tat, 0}
  end
  -- The TTL is next - now plus a second, rounded up to whole seconds.
  local ttl = xh - nh + 1
  if xl > nl then
    ttl = ttl + 1
  end
  local body
  if xh > 0 then
    body = string.format('%.0f%09.0f', xh, xl)
  else
    body = string.format('%.0f', xl)
  end
  local c
  if state then
    local _, hi, lo = struct.unpack('>I4I4I4', v, 4)
    c = hi * B + lo + 1
  else
    local t = redis.call('TIME')
    c = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  redis.call('SET', key, '\199\1' .. struct.pack('>BI4I4I4', 0, 0, math.floor(c / B), c % B) .. body,
    'EX', string.format('%.0f', ttl))
  return {tat, 1}
end

-- The other operations need the flags and the CAS too.
if state then
  local hi, lo
  flags, hi, lo = struct.unpack('>I4I4I4', v, 4)
  cas = hi * B + lo
end

if op == 'd' then
  -- ARGV: CAS ('0' for none), invalidate, tm, tv.
  local want = ARGV[2]
  if not v and not foreign then
    return -2
  end
  if foreign then
    if want == '0' and ARGV[3] ~= '1' then
      redis.call('DEL', key)
      return 0
    end
    return -1
  end
  if want ~= '0' and tonumber(want) ~= cas then
    return -4
  end
  if ARGV[3] ~= '1' or ARGV[4] == '3' then
    redis.call('DEL', key)
    return 0
  end
  if ARGV[4] == '1' then
    redis.call('EXPIRE', key, ARGV[5])
  elseif ARGV[4] == '2' then
    redis.call('EXPIREAT', key, ARGV[5])
  end
  local c = cas + 1
  redis.call('SETRANGE', key, 2, struct.pack('>BI4I4I4', 2, flags, math.floor(c / B), c % B))
  return 0
end

-- store writes a whole item with expiry mode tm (0 never, 1 in tv seconds,
-- 2 at Unix time tv, 3 expired at once, k keep) and returns its CAS: one
-- more than the current item's, or, for a new item, the server's clock in
-- microseconds (so that a re-created item does not take a predecessor's
-- CAS).
local function store(body, f, st, tm, tv)
  local c
  if cas then
    c = cas + 1
  else
    local t = redis.call('TIME')
    c = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  if tm == '3' then
    redis.call('DEL', key)
    return c
  end
  local item = '\199\1' .. struct.pack('>BI4I4I4', st, f, math.floor(c / B), c % B) .. body
  if tm == '1' then
    redis.call('SET', key, item, 'EX', tv)
  elseif tm == '2' then
    redis.call('SET', key, item, 'EXAT', tv)
  elseif tm == 'k' then
    redis.call('SET', key, item, 'KEEPTTL')
  else
    redis.call('SET', key, item)
  end
  return c
end

if op == 's' then
  -- ARGV: value, flags, mode (0 set, 1 add, 2 replace, 3 append,
  -- 4 prepend), CAS ('0' for none), vivify, tm, tv, room (the largest
  -- value with zero flags).
  local body, mode, want, tm, tv = ARGV[2], ARGV[4], ARGV[5], ARGV[7], ARGV[8]
  local exists = v or foreign
  if foreign then
    if mode == '0' and want == '0' then
      return store(body, tonumber(ARGV[3]), 0, tm, tv)
    end
    return -1
  end
  if mode == '3' or mode == '4' then
    if not v then
      if ARGV[6] ~= '1' or want ~= '0' then
        return -3
      end
      return store(body, tonumber(ARGV[3]), 0, tm, tv)
    end
    if want ~= '0' and tonumber(want) ~= cas then
      return -4
    end
    local n = #v - 15 + #body
    if flags ~= 0 then
      n = n + 4
    end
    if n > tonumber(ARGV[9]) then
      return -3
    end
    local c = cas + 1
    local h = struct.pack('>BI4I4I4', 0, flags, math.floor(c / B), c % B)
    if mode == '3' then
      redis.call('APPEND', key, body)
      redis.call('SETRANGE', key, 2, h)
    else
      redis.call('SET', key, '\199\1' .. h .. body .. string.sub(v, 16), 'KEEPTTL')
    end
    return c
  end
  if mode == '1' then
    if exists then
      return -3
    end
  elseif want ~= '0' then
    if not v then
      return -2
    end
    if tonumber(want) ~= cas then
      return -4
    end
  elseif mode == '2' and not v then
    return -3
  end
  return store(body, tonumber(ARGV[3]), 0, tm, tv)
end

if op == 'i' then
  -- ARGV: negative, |delta| high half, low half, vivify, initial, tm, tv,
  -- room. Counters are unsigned 64-bit numbers held as two 32-bit halves,
  -- which Lua's doubles represent exactly.
  if foreign then
    return -1
  end
  if not v then
    if ARGV[5] ~= '1' then
      return -2
    end
    local init = ARGV[6]
    if #init <= tonumber(ARGV[9]) then
      store(init, 0, 0, ARGV[7], ARGV[8])
    end
    return init
  end
  -- Read the value as memcached's safe_strtoull does (see Memory.Incr):
  -- white space, a sign, digits, then the end, white space or a NUL.
  local s = string.sub(v, 16)
  local i, n = 1, #s
  local c = string.byte(s, i)
  while c and (c == 32 or (c >= 9 and c <= 13)) do
    i = i + 1
    c = string.byte(s, i)
  end
  local neg = c == 45
  if c == 43 or c == 45 then
    i = i + 1
  end
  local start = i
  local hi, lo = 0, 0
  while i <= n do
    c = string.byte(s, i)
    if c < 48 or c > 57 then
      break
    end
    lo = lo * 10 + (c - 48)
    hi = hi * 10 + math.floor(lo / B)
    lo = lo % B
    if hi >= B then
      return -5
    end
    i = i + 1
  end
  if i == start then
    return -5
  end
  if i <= n then
    c = string.byte(s, i)
    if not (c == 32 or (c >= 9 and c <= 13) or c == 0) then
      return -5
    end
  end
  if neg and (hi ~= 0 or lo ~= 0) then
    if lo == 0 then
      hi = B - hi
    else
      lo = B - lo
      hi = B - 1 - hi
    end
  end
  if hi >= B / 2 then
    -- memcached refuses a number of 2^63 or more if the value holds a
    -- '-' before its first NUL.
    local nul = string.find(s, '\0', 1, true)
    local t = s
    if nul then
      t = string.sub(s, 1, nul - 1)
    end
    if string.find(t, '-', 1, true) then
      return -5
    end
  end
  local dhi, dlo = tonumber(ARGV[3]), tonumber(ARGV[4])
  if ARGV[2] == '1' then
    if hi < dhi or (hi == dhi and lo < dlo) then
      hi, lo = 0, 0
    else
      lo = lo - dlo
      hi = hi - dhi
      if lo < 0 then
        lo = lo + B
        hi = hi - 1
      end
    end
  else
    lo = lo + dlo
    hi = (hi + dhi + math.floor(lo / B)) % B
    lo = lo % B
  end
  local d
  if hi < 2097152 then
    d = string.format('%.0f', hi * B + lo)
  else
    local digits = {}
    while hi > 0 or lo > 0 do
      local x = (hi % 10) * B + lo
      hi = math.floor(hi / 10)
      lo = math.floor(x / 10)
      table.insert(digits, 1, string.char(48 + x % 10))
    end
    d = table.concat(digits)
  end
  local out = d
  if #d <= #s then
    -- In place, as memcached does: space padded, the states kept.
    d = d .. string.rep(' ', #s - #d)
  else
    state = 0
  end
  store(d, flags, state, 'k', 0)
  return out
end

return redis.error_reply('twine: unknown operation')
