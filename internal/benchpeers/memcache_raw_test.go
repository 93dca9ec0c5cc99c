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

func (r *rawClient) getMulti(keys []string) (int, error) {
	r.buf = r.buf[:0]
	for _, k := range keys {
		r.buf = append(append(append(r.buf, "mg "...), k...), " v f c t\r\n"...)
	}
	if _, err := r.nc.Write(r.buf); err != nil {
		return 0, err
	}
	hits := 0
	for range keys {
		hit, err := r.reply()
		if err != nil {
			return hits, err
		}
		if hit {
			hits++
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
