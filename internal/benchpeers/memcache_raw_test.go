package benchpeers

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
)

// rawClient is the floor the memcached benchmarks are read against: the
// meta-protocol exchange of each operation on one connection with no
// client library around it (no pool, no pipelining between callers, no
// timeouts, no validation, values read and dropped). It is not safe for
// concurrent use and only used from one goroutine.
type rawClient struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
}

func newRawClient(addr string) (*rawClient, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawClient{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (r *rawClient) get(key string) error {
	r.buf = append(append(append(r.buf[:0], "mg "...), key...), " v f c t\r\n"...)
	if _, err := r.nc.Write(r.buf); err != nil {
		return err
	}
	_, err := r.reply()
	return err
}

func (r *rawClient) set(key string, value []byte) error {
	r.buf = append(append(append(r.buf[:0], "ms "...), key...), ' ')
	r.buf = strconv.AppendInt(r.buf, int64(len(value)), 10)
	r.buf = append(append(append(r.buf, " T0 F0\r\n"...), value...), "\r\n"...)
	if _, err := r.nc.Write(r.buf); err != nil {
		return err
	}
	line, err := r.br.ReadSlice('\n')
	if err == nil && !bytes.HasPrefix(line, []byte("HD")) {
		err = fmt.Errorf("raw set: %q", line)
	}
	return err
}

// getMulti sends one gets line, the request form of the fastest
// multi-get of twine's client, and reads its VALUE blocks up to END.
func (r *rawClient) getMulti(keys []string) (int, error) {
	if err := r.sendGets(keys); err != nil {
		return 0, err
	}
	return r.readGets()
}

func (r *rawClient) sendGets(keys []string) error {
	r.buf = append(r.buf[:0], "gets"...)
	for _, k := range keys {
		r.buf = append(append(r.buf, ' '), k...)
	}
	r.buf = append(r.buf, "\r\n"...)
	_, err := r.nc.Write(r.buf)
	return err
}

// readGets reads a gets reply, dropping the values, and counts the hits.
func (r *rawClient) readGets() (int, error) {
	hits := 0
	for {
		line, err := r.br.ReadSlice('\n')
		if err != nil {
			return hits, err
		}
		if bytes.HasPrefix(line, []byte("END")) {
			return hits, nil
		}
		f := bytes.Fields(line)
		if len(f) != 5 || string(f[0]) != "VALUE" {
			return hits, fmt.Errorf("raw gets: %q", line)
		}
		n, err := strconv.Atoi(string(f[3]))
		if err != nil {
			return hits, err
		}
		if _, err := r.br.Discard(n + 2); err != nil {
			return hits, err
		}
		hits++
	}
}

// rawSharded is rawClient over several servers, each key on the server
// pick names: a multi-get writes every server's gets line, then reads the
// replies in turn from the one goroutine (no timeouts: a hung server
// would hold up the others, which a library must not allow).
type rawSharded struct {
	conns map[string]*rawClient
	pick  func(key string) string
	parts map[string][]string
}

func newRawSharded(addrs []string, pick func(string) string) (*rawSharded, error) {
	r := &rawSharded{conns: map[string]*rawClient{}, pick: pick, parts: map[string][]string{}}
	for _, a := range addrs {
		c, err := newRawClient(a)
		if err != nil {
			return nil, err
		}
		r.conns[a] = c
	}
	return r, nil
}

func (r *rawSharded) close() {
	for _, c := range r.conns {
		_ = c.nc.Close()
	}
}

func (r *rawSharded) get(key string) error { return r.conns[r.pick(key)].get(key) }

func (r *rawSharded) set(key string, value []byte) error {
	return r.conns[r.pick(key)].set(key, value)
}

func (r *rawSharded) getMulti(keys []string) (int, error) {
	for a := range r.parts {
		r.parts[a] = r.parts[a][:0]
	}
	for _, k := range keys {
		a := r.pick(k)
		r.parts[a] = append(r.parts[a], k)
	}
	for a, ks := range r.parts {
		if len(ks) > 0 {
			if err := r.conns[a].sendGets(ks); err != nil {
				return 0, err
			}
		}
	}
	hits := 0
	for a, ks := range r.parts {
		if len(ks) > 0 {
			n, err := r.conns[a].readGets()
			hits += n
			if err != nil {
				return hits, err
			}
		}
	}
	return hits, nil
}

// reply reads one mg reply and drops its value.
func (r *rawClient) reply() (hit bool, err error) {
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if bytes.HasPrefix(line, []byte("EN")) {
		return false, nil
	}
	if !bytes.HasPrefix(line, []byte("VA ")) {
		return false, fmt.Errorf("raw get: %q", line)
	}
	rest := line[3:]
	n := 0
	for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		n = n*10 + int(rest[0]-'0')
		rest = rest[1:]
	}
	_, err = r.br.Discard(n + 2)
	return true, err
}
