package memcache

import "strconv"

// req is one request to format; op says which command. Keys have been
// checked with CheckKey.
type req struct {
	op         byte // 'g' mg, 'm' mg per key, 'G' gets, 's' ms, 'd' md, 'a' ma, 'n' mn, 't' stats
	key        string
	keys       []string
	value      []byte
	ttl        int64
	flags      uint32
	cas        uint64
	mode       byte
	invalidate bool
	hasVivify  bool
	vivify     int64
	recache    int64
	delta      uint64
	decr       bool
	initial    uint64
}

// appendTo appends the request's bytes.
func (r *req) appendTo(b []byte) []byte {
	switch r.op {
	case 'g':
		b = r.appendMg(b)
	case 'm':
		// One non-quiet mg per key: the replies come in order, one each,
		// so neither opaques nor a closing mn are needed.
		for i, k := range r.keys {
			if i > 0 {
				b = append(b, "\r\n"...)
			}
			b = appendCmd(b, "mg ", k)
			b = append(b, " v f c t"...)
		}
	case 'G':
		// One line for the batch: memcached reads a gets line of any
		// length. The keys are text keys (gets has no base64 form).
		b = append(b, "gets"...)
		for _, k := range r.keys {
			b = append(b, ' ')
			b = append(b, k...)
		}
	case 's':
		b = r.appendMs(b)
	case 'd':
		b = r.appendMd(b)
	case 'a':
		b = r.appendMa(b)
	case 'n':
		b = append(b, "mn"...)
	case 't':
		b = append(b, "stats"...)
		if r.key != "" {
			b = append(b, ' ')
			b = append(b, r.key...)
		}
	}
	return append(b, "\r\n"...)
}

// appendMg appends a get: value, flags, CAS and TTL, with the lease (N)
// and recache (R) flags when set.
func (r *req) appendMg(b []byte) []byte {
	b = appendCmd(b, "mg ", r.key)
	b = append(b, " v f c t"...)
	if r.hasVivify {
		b = appendInt(b, 'N', r.vivify)
	}
	if r.recache > 0 {
		b = appendInt(b, 'R', r.recache)
	}
	return b
}

// appendMs appends a set with its data block, asking for the new CAS.
func (r *req) appendMs(b []byte) []byte {
	var bin bool
	b = append(b, "ms "...)
	b, bin = appendKey(b, r.key)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(r.value)), 10)
	if bin {
		b = append(b, " b"...)
	}
	b = append(b, " c"...)
	if r.ttl != 0 {
		b = appendInt(b, 'T', r.ttl)
	}
	if r.flags != 0 {
		b = appendUint(b, 'F', uint64(r.flags))
	}
	if r.cas != 0 {
		b = appendUint(b, 'C', r.cas)
	}
	if r.mode != 0 && r.mode != byte(ModeSet) {
		b = append(b, ' ', 'M', r.mode)
	}
	if r.invalidate {
		b = append(b, " I"...)
	}
	if r.hasVivify {
		b = appendInt(b, 'N', r.vivify)
	}
	b = append(b, "\r\n"...)
	return append(b, r.value...)
}

// appendMd appends a delete, or an invalidation (I) with its new TTL.
func (r *req) appendMd(b []byte) []byte {
	b = appendCmd(b, "md ", r.key)
	if r.cas != 0 {
		b = appendUint(b, 'C', r.cas)
	}
	if r.invalidate {
		b = append(b, " I"...)
		if r.ttl != 0 {
			b = appendInt(b, 'T', r.ttl)
		}
	}
	return b
}

// appendMa appends an increment or decrement (MD) asking for the new
// value, creating a missing counter (N, J) when vivify is set.
func (r *req) appendMa(b []byte) []byte {
	b = appendCmd(b, "ma ", r.key)
	b = append(b, " v"...)
	if r.hasVivify {
		b = appendInt(b, 'N', r.vivify)
		b = appendUint(b, 'J', r.initial)
	}
	b = appendUint(b, 'D', r.delta)
	if r.decr {
		b = append(b, " MD"...)
	}
	return b
}

// appendCmd appends the command and the key, with the b flag when the key
// is base64 encoded.
func appendCmd(b []byte, cmd, key string) []byte {
	b = append(b, cmd...)
	b, bin := appendKey(b, key)
	if bin {
		b = append(b, " b"...)
	}
	return b
}

// appendInt appends " <flag><n>".
func appendInt(b []byte, flag byte, n int64) []byte {
	b = append(b, ' ', flag)
	return strconv.AppendInt(b, n, 10)
}

// appendUint appends " <flag><n>".
func appendUint(b []byte, flag byte, n uint64) []byte {
	b = append(b, ' ', flag)
	return strconv.AppendUint(b, n, 10)
}
