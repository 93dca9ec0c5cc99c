-- twine's cachestruct store: one atomic operation on KEYS[1] per call, with
-- memcached 1.6.18's semantics. See store.go for the item layout and the
-- arguments of each operation (ARGV[1] is 'g', 's', 'd' or 'i').
--
-- An item is a string: "\199\1", a state byte (1 = won, 2 = stale), the
-- client flags (4 bytes), the CAS as two 4-byte halves, all big-endian,
-- then the value. The key's TTL is the item's.
--
-- Results: a table or string on success; integers below 0 are outcomes the
-- client maps to errors: -1 not ours (corrupt), -2 not found,
-- -3 not stored, -4 CAS conflict, -5 not a number.
local key = KEYS[1]
local op = ARGV[1]
local H = 15
local B = 4294967296

local function parse(v)
  if #v < H or string.sub(v, 1, 2) ~= '\199\1' then
    return nil
  end
  local state, flags, hi, lo = struct.unpack('>BI4I4I4', v, 3)
  return state, flags, hi * B + lo
end

-- get reads the key; foreign is true when it holds another type than a
-- string (a hash, a list, ...).
local function get()
  local v = redis.pcall('GET', key)
  if type(v) == 'table' then
    return nil, true
  end
  return v, false
end

local function header(state, flags, cas)
  return '\199\1' .. struct.pack('>BI4I4I4', state, flags, math.floor(cas / B), cas % B)
end

-- newcas returns a CAS above old: the server's clock in microseconds, so
-- that a re-created item does not take its predecessor's CAS.
local function newcas(old)
  local t = redis.call('TIME')
  local c = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if old and c <= old then
    c = old + 1
  end
  return c
end

local function fmtcas(c)
  return string.format('%.0f', c)
end

-- store writes a whole item with expiry mode tm (0 never, 1 in tv seconds,
-- 2 at unix time tv, 3 expired at once) and returns its CAS.
local function store(body, flags, old, tm, tv)
  local cas = newcas(old)
  local v = header(0, flags, cas) .. body
  if tm == '3' then
    redis.call('DEL', key)
  elseif tm == '1' then
    redis.call('SET', key, v, 'EX', tv)
  elseif tm == '2' then
    redis.call('SET', key, v, 'EXAT', tv)
  else
    redis.call('SET', key, v)
  end
  return cas
end

local function expire(tm, tv)
  if tm == '1' then
    redis.call('EXPIRE', key, tv)
  elseif tm == '2' then
    redis.call('EXPIREAT', key, tv)
  end
end

if op == 'g' then
  -- ARGV: lease seconds, recache seconds.
  local v, foreign = get()
  if foreign then
    return -1
  end
  if not v then
    local lease = tonumber(ARGV[2])
    if lease == 0 then
      return false
    end
    v = header(1, 0, newcas(nil))
    redis.call('SET', key, v, 'EX', lease)
    return {v, lease * 1000, 1}
  end
  local state = parse(v)
  if not state then
    return -1
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

if op == 's' then
  -- ARGV: value, flags, mode (0 set, 1 add, 2 replace, 3 append,
  -- 4 prepend), CAS ('0' for none), vivify, tm, tv, room (the largest
  -- value with zero flags).
  local body, flags, mode, want = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
  local tm, tv = ARGV[7], ARGV[8]
  local v, foreign = get()
  local state, oflags, cas
  if foreign or v then
    if v then
      state, oflags, cas = parse(v)
    end
    if not state then
      if mode == '0' and want == '0' then
        return store(body, flags, nil, tm, tv)
      end
      return -1
    end
  end
  if mode == '3' or mode == '4' then
    if not v then
      if ARGV[6] ~= '1' or want ~= '0' then
        return -3
      end
      return store(body, flags, nil, tm, tv)
    end
    if want ~= '0' and fmtcas(cas) ~= want then
      return -4
    end
    local n = #v - H + #body
    if oflags ~= 0 then
      n = n + 4
    end
    if n > tonumber(ARGV[9]) then
      return -3
    end
    local c = newcas(cas)
    local h = struct.pack('>BI4I4I4', 0, oflags, math.floor(c / B), c % B)
    if mode == '3' then
      redis.call('APPEND', key, body)
      redis.call('SETRANGE', key, 2, h)
    else
      redis.call('SET', key, '\199\1' .. h .. body .. string.sub(v, H + 1), 'KEEPTTL')
    end
    return c
  end
  if mode == '1' then
    if v then
      return -3
    end
    return store(body, flags, nil, tm, tv)
  end
  if mode == '2' and not v and want == '0' then
    return -3
  end
  if want ~= '0' then
    if not v then
      return -2
    end
    if fmtcas(cas) ~= want then
      return -4
    end
  end
  return store(body, flags, cas, tm, tv)
end

if op == 'd' then
  -- ARGV: CAS ('0' for none), invalidate, tm, tv.
  local want = ARGV[2]
  local v, foreign = get()
  if not v and not foreign then
    return -2
  end
  local state, flags, cas
  if v then
    state, flags, cas = parse(v)
  end
  if not state then
    if want == '0' and ARGV[3] ~= '1' then
      redis.call('DEL', key)
      return 0
    end
    return -1
  end
  if want ~= '0' and fmtcas(cas) ~= want then
    return -4
  end
  if ARGV[3] ~= '1' or ARGV[4] == '3' then
    redis.call('DEL', key)
    return 0
  end
  expire(ARGV[4], ARGV[5])
  local c = newcas(cas)
  redis.call('SETRANGE', key, 2, struct.pack('>BI4I4I4', 2, flags, math.floor(c / B), c % B))
  return 0
end

-- Counters are unsigned 64-bit numbers held as two 32-bit halves, which
-- Lua's doubles represent exactly.

local function isspace(c)
  return c == 32 or (c >= 9 and c <= 13)
end

-- counter reads s as memcached's safe_strtoull does (see Memory.Incr):
-- it returns the two halves, or nil when s is not a number.
local function counter(s)
  local i, n = 1, #s
  while i <= n and isspace(string.byte(s, i)) do
    i = i + 1
  end
  local neg = false
  local c = string.byte(s, i)
  if c == 43 or c == 45 then
    neg = c == 45
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
      return nil
    end
    i = i + 1
  end
  if i == start then
    return nil
  end
  if i <= n then
    c = string.byte(s, i)
    if not isspace(c) and c ~= 0 then
      return nil
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
    local t = s
    local nul = string.find(s, '\0', 1, true)
    if nul then
      t = string.sub(s, 1, nul - 1)
    end
    if string.find(t, '-', 1, true) then
      return nil
    end
  end
  return hi, lo
end

local function decimal(hi, lo)
  if hi < 2097152 then
    return string.format('%.0f', hi * B + lo)
  end
  local d = {}
  while hi > 0 or lo > 0 do
    local x = (hi % 10) * B + lo
    hi = math.floor(hi / 10)
    lo = math.floor(x / 10)
    table.insert(d, 1, string.char(48 + x % 10))
  end
  return table.concat(d)
end

if op == 'i' then
  -- ARGV: negative, |delta| high half, low half, vivify, initial, tm, tv,
  -- room.
  local v, foreign = get()
  if foreign then
    return -1
  end
  if not v then
    if ARGV[5] ~= '1' then
      return -2
    end
    local init = ARGV[6]
    if #init <= tonumber(ARGV[9]) then
      store(init, 0, nil, ARGV[7], ARGV[8])
    end
    return init
  end
  local state, flags, cas = parse(v)
  if not state then
    return -1
  end
  local body = string.sub(v, H + 1)
  local hi, lo = counter(body)
  if not hi then
    return -5
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
    hi = hi + dhi + math.floor(lo / B)
    lo = lo % B
    hi = hi % B
  end
  local d = decimal(hi, lo)
  local out = d
  if #d <= #body then
    -- In place, as memcached does: space padded, the states kept.
    d = d .. string.rep(' ', #body - #d)
  else
    state = 0
  end
  redis.call('SET', key, header(state, flags, newcas(cas)) .. d, 'KEEPTTL')
  return out
end

return redis.error_reply('twine: unknown operation')
