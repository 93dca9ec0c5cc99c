package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// reply is one parsed meta reply: its two-letter code, the data block of a
// VA reply, and the return flags the client asks for.
type reply struct {
	code   [2]byte
	value  []byte
	cas    uint64
	ttl    int64 // seconds left, -1 for no expiry
	flags  uint32
	opaque int // -1 when absent
	win    bool
	stale  bool
	busy   bool
}

// Reply codes of the meta protocol.
var (
	codeVA = [2]byte{'V', 'A'}
	codeHD = [2]byte{'H', 'D'}
	codeEN = [2]byte{'E', 'N'}
	codeNF = [2]byte{'N', 'F'}
	codeNS = [2]byte{'N', 'S'}
	codeEX = [2]byte{'E', 'X'}
	codeMN = [2]byte{'M', 'N'}
)

// codeErr returns the error that the reply code c stands for, when it is
// one of want (the codes a command may answer), else a protocol error
// naming the command cmd.
func codeErr(c [2]byte, cmd string, want ...error) error {
	var err error
	switch c {
	case codeNF:
		err = ErrNotFound
	case codeNS:
		err = ErrNotStored
	case codeEX:
		err = ErrCASConflict
	}
	if err != nil && slices.Contains(want, err) {
		return err
	}
	return protoErr("unexpected %s to %s", c[:], cmd)
}

// protoErr builds an ErrProtocol with detail about the offending line.
func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// readLine reads one line ending in \r\n and returns it without the line
// end. The slice is only valid until the next read from br. A line longer
// than br's buffer is a protocol error.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, protoErr("reply line longer than %d bytes", br.Size())
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, protoErr("line not ending in \\r\\n: %.40q", line)
	}
	return line[:len(line)-2], nil
}

// errorLine returns the *ServerError an error line stands for, or nil.
func errorLine(line []byte) error {
	for _, kind := range [...]string{"CLIENT_ERROR", "SERVER_ERROR", "ERROR"} {
		if bytes.HasPrefix(line, []byte(kind)) {
			rest := line[len(kind):]
			if len(rest) > 0 && rest[0] != ' ' {
				continue
			}
			return &ServerError{Kind: kind, Message: string(bytes.TrimSpace(rest))}
		}
	}
	return nil
}

// readReply reads one meta reply into r. A data block longer than maxValue
// bytes is a protocol error (nothing of it is read). When slab is not nil,
// small values are cut from *slab instead of being allocated each (see
// cutSlab); left is the number of replies still expected, this one
// included. Errors other than a *ServerError leave br at an unknown
// position: the connection must be closed.
func readReply(br *bufio.Reader, r *reply, maxValue int, slab *[]byte, left int) error {
	*r = reply{opaque: -1}
	line, err := readLine(br)
	if err != nil {
		return err
	}
	if len(line) >= 2 {
		r.code = [2]byte{line[0], line[1]}
	}
	switch r.code {
	case codeHD, codeEN, codeNF, codeNS, codeEX, codeMN, codeVA:
		// No error line starts with a reply code.
	default:
		if err := errorLine(line); err != nil {
			return err
		}
		return protoErr("unknown reply %.40q", line)
	}
	if len(line) > 2 && line[2] != ' ' {
		return protoErr("bad reply %.40q", line)
	}
	if r.code != codeVA {
		return r.parseFlags(line[2:])
	}
	// VA <size> <flags>*: the size is the first token.
	sizeTok, flags, _ := bytes.Cut(bytes.TrimLeft(line[2:], " "), []byte{' '})
	size, ok := parseUint(sizeTok)
	if !ok || size > uint64(maxValue) {
		return protoErr("bad value size in %.40q", line)
	}
	if err := r.parseFlags(flags); err != nil {
		return err
	}
	// line is not used past here: reading the block may refill br.
	r.value, err = readValue(br, int(size), slab, left)
	return err
}

// readMulti reads the replies of a meta multi-get, one per key of cl in
// request order, and hands each hit to cl.take. An error line answers one
// request of the batch: the first is returned once the batch is read to
// its end. ERROR (a request the server did not understand) and framing
// errors end the batch at once.
func readMulti(br *bufio.Reader, cl *call, maxValue int, own bool) error {
	var r reply
	var first error
	var slab []byte
	for i := range cl.keys {
		err := readReply(br, &r, maxValue, &slab, len(cl.keys)-i)
		switch se, isLine := err.(*ServerError); {
		case err == nil && r.code == codeVA:
			cl.take(i, r.item(), own)
		case err == nil && r.code == codeEN:
			// A miss.
		case err == nil:
			return protoErr("unexpected %s in multi-get", string(r.code[:]))
		case isLine && se.Kind != "ERROR":
			if first == nil {
				first = err
			}
		default:
			return err
		}
	}
	return first
}

// readGets reads the reply of a classic gets of cl's keys: a VALUE line
// and a data block per hit, in request order, then END. Each hit is
// matched to the next key of cl with its name (a key asked twice is
// answered twice) and handed to cl.take with TTL TTLUnknown. An error line
// ends the reply and is returned.
func readGets(br *bufio.Reader, cl *call, maxValue int, own bool) error {
	var slab []byte
	next := 0 // the first key not answered yet
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if string(line) == "END" {
			return nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("VALUE "))
		if !ok {
			if err := errorLine(line); err != nil {
				return err
			}
			return protoErr("unexpected %.40q to gets", line)
		}
		// VALUE <key> <flags> <bytes> <cas>
		key, rest, _ := bytes.Cut(rest, []byte{' '})
		flagsTok, rest, _ := bytes.Cut(rest, []byte{' '})
		sizeTok, casTok, _ := bytes.Cut(rest, []byte{' '})
		flags, okF := parseUint(flagsTok)
		size, okS := parseUint(sizeTok)
		cas, okC := parseUint(casTok)
		if !okF || flags > 1<<32-1 || !okS || size > uint64(maxValue) || !okC {
			return protoErr("bad VALUE line %.40q", line)
		}
		for next < len(cl.keys) && cl.keys[next] != string(key) {
			next++ // a miss
		}
		if next == len(cl.keys) {
			return protoErr("gets answered %.40q, not asked for", key)
		}
		i := next
		next++
		// line is not used past here: reading the block may refill br.
		v, err := readValue(br, int(size), &slab, len(cl.keys)-i)
		if err != nil {
			return err
		}
		cl.take(i, Item{Value: v, Flags: uint32(flags), CAS: cas, TTL: TTLUnknown}, own)
	}
}

// growFrom is the value size above which the value buffer grows with the
// data received instead of being allocated at the declared length.
const growFrom = 1 << 20

// slabSize is the size of the buffers that small values of a multi-get
// share; slabMaxValue the largest value cut from one.
const (
	slabSize     = 16 << 10
	slabMaxValue = 1 << 10
)

// readValue reads a data block of n bytes and the \r\n after it. Values
// of at most slabMaxValue bytes are cut from *slab when slab is not nil
// (left values expected, this one included), so that a multi-get of 100
// small values costs a few allocations instead of 100.
func readValue(br *bufio.Reader, n int, slab *[]byte, left int) ([]byte, error) {
	if n > growFrom {
		return readLargeValue(br, n)
	}
	var v []byte
	if slab == nil || n > slabMaxValue {
		v = make([]byte, n)
	} else {
		v = cutSlab(slab, n, left)
	}
	if br.Buffered() >= n+2 {
		// The usual case: the block and its line end are buffered.
		b, _ := br.Peek(n + 2)
		copy(v, b)
		if b[n] != '\r' || b[n+1] != '\n' {
			return nil, protoErr("data block not followed by \\r\\n")
		}
		_, _ = br.Discard(n + 2)
		return v, nil
	}
	if _, err := io.ReadFull(br, v); err != nil {
		return nil, unexpectedEOF(err)
	}
	return v, readCRLF(br)
}

// readLargeValue reads a data block of n > growFrom bytes and its line
// end. The declared length is trusted only as far as data arrives: the
// buffer grows with it, so a corrupt length cannot allocate more than what
// was actually received.
func readLargeValue(br *bufio.Reader, n int) ([]byte, error) {
	v := make([]byte, 0, growFrom)
	for len(v) < n {
		k := min(n-len(v), max(cap(v)-len(v), growFrom))
		v = slices.Grow(v, k)
		if _, err := io.ReadFull(br, v[len(v):len(v)+k]); err != nil {
			return nil, unexpectedEOF(err)
		}
		v = v[:len(v)+k]
	}
	return v, readCRLF(br)
}

// readCRLF reads the \r\n that ends a data block.
func readCRLF(br *bufio.Reader) error {
	crlf, err := br.Peek(2)
	if err != nil {
		return unexpectedEOF(err)
	}
	if crlf[0] != '\r' || crlf[1] != '\n' {
		return protoErr("data block not followed by \\r\\n")
	}
	_, _ = br.Discard(2)
	return nil
}

// cutSlab returns the next n bytes of *slab, capped at their length so
// that appending to them never overwrites the next value. When *slab has
// no room left, a new one is made, sized for left values of n bytes (up to
// slabSize), so that a batch of small values does not leave most of its
// last slab unused.
func cutSlab(slab *[]byte, n, left int) []byte {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]byte, 0, min(slabSize, max(n, n*left)))
	}
	b := *slab
	*slab = b[:len(b)+n]
	return b[len(b) : len(b)+n : len(b)+n]
}

// unexpectedEOF turns io.EOF in the middle of a reply into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseFlags parses the return flags of a reply.
func (r *reply) parseFlags(rest []byte) error {
	for i := 0; i < len(rest); {
		if rest[i] == ' ' {
			i++
			continue
		}
		start := i
		for i < len(rest) && rest[i] != ' ' {
			i++
		}
		tok := rest[start:i]
		arg := tok[1:]
		var ok = true
		switch tok[0] {
		case 'c':
			r.cas, ok = parseUint(arg)
		case 'f':
			var f uint64
			f, ok = parseUint(arg)
			ok = ok && f <= 1<<32-1
			r.flags = uint32(f)
		case 't':
			r.ttl, ok = parseInt(arg)
		case 'O':
			var o uint64
			o, ok = parseUint(arg)
			ok = ok && o < 1<<31
			r.opaque = int(o)
		case 'W':
			r.win = true
		case 'X':
			r.stale = true
		case 'Z':
			r.busy = true
		}
		if !ok {
			return protoErr("bad return flag %.40q", tok)
		}
	}
	return nil
}

// parseUint parses a decimal uint64 without allocating. Numbers of up to
// 19 digits (all a reply carries in practice) cannot overflow and need no
// check per digit.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return parseUint20(b)
	}
	var n uint64
	for _, c := range b {
		if c-'0' > 9 {
			return 0, false
		}
		n = n*10 + uint64(c-'0') // 19 digits cannot overflow
	}
	return n, true
}

// parseUint20 is parseUint for the rest: empty, 20 digits (checked for
// overflow) or longer.
func parseUint20(b []byte) (uint64, bool) {
	if len(b) != 20 {
		return 0, false
	}
	n, ok := parseUint(b[:19])
	if !ok || b[19]-'0' > 9 {
		return 0, false
	}
	d := uint64(b[19] - '0')
	if n > (1<<64-1-d)/10 {
		return 0, false
	}
	return n*10 + d, true
}

// parseInt parses a decimal int64 with an optional minus sign.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	n, ok := parseUint(b)
	if !ok || n > 1<<63 || (!neg && n == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// readStats reads the reply to "stats": STAT lines up to END.
func readStats(br *bufio.Reader) (map[string]string, error) {
	stats := make(map[string]string)
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if err := errorLine(line); err != nil {
			return nil, err
		}
		if string(line) == "END" {
			return stats, nil
		}
		kv, ok := bytes.CutPrefix(line, []byte("STAT "))
		if !ok {
			return nil, protoErr("bad stats line %.40q", line)
		}
		k, v, _ := bytes.Cut(kv, []byte(" "))
		stats[string(k)] = string(v)
	}
}
