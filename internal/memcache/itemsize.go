package memcache

import (
	"context"
	"errors"
	"os"
)

// ItemOverhead is the number of bytes memcached 1.6 needs in an item
// besides the key and the value (48-byte header, 8-byte CAS, the key's NUL,
// the value's \r\n), plus 4 when the client flags are not zero: a value
// fits when len(key) + len(value) + ItemOverhead (+4) <= the server's item
// size. This is exact for short keys (checked on 1.6.18 with -I 1m and
// -I 512k) and errs on the safe side for long ones.
const ItemOverhead = 59

// ItemSize is the size memcached 1.6 gives an item with a key of keyLen
// bytes, a value of valueLen bytes and the client flags flags: the item
// fits when ItemSize is at most the server's item size (memcached -I).
func ItemSize(keyLen, valueLen int, flags uint32) int {
	n := keyLen + valueLen + ItemOverhead
	if flags != 0 {
		n += 4
	}
	return n
}

// tooLarge reports whether the item of the set request r is larger than
// the item size.
func (c *Client) tooLarge(r *req) bool {
	return ItemSize(len(r.key), len(r.value), r.flags) > c.MaxItemSize()
}

// learnItemSize asks the server on cn, a new connection that nobody else
// uses yet, for its item size ("stats settings", item_size_max) and checks
// values against it from then on. The exchange is bounded by ctx. An
// answer without a usable item_size_max (an error line, or stats without
// it) leaves the size as it was and cn in step; a network error, a timeout
// or a malformed reply is returned (a *NetError of Op "dial", or
// ErrProtocol) and cn must not be used.
func (c *Client) learnItemSize(ctx context.Context, cn *conn) error {
	// The end of ctx interrupts the exchange. (A socket deadline at ctx's
	// deadline could fire before ctx reports its end.)
	stop := context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(aLongTimeAgo) })
	_, err := cn.nc.Write([]byte("stats settings\r\n"))
	var st map[string]string
	if err == nil {
		st, err = readStats(cn.br)
	}
	if !stop() {
		// ctx ended (DialTimeout passed, or the caller's ctx ended, which
		// dial reports itself), and the deadline may still be moved to
		// the past: cn cannot be used.
		return &NetError{Addr: c.addr, Op: "dial", Err: os.ErrDeadlineExceeded}
	}
	var se *ServerError
	switch {
	case errors.As(err, &se):
		return nil // in step: the error line answers the request
	case errors.Is(err, ErrProtocol):
		return err
	case err != nil:
		return &NetError{Addr: c.addr, Op: "dial", Err: err}
	}
	if n, ok := parseItemSize(st["item_size_max"]); ok {
		c.maxItemSize.Store(int64(n))
	}
	return nil
}

// parseItemSize parses an item_size_max: memcached accepts 1 KiB to
// 1 GiB; anything outside 1 byte to 2 GiB is not an item size.
func parseItemSize(s string) (int, bool) {
	n, ok := parseUint([]byte(s))
	if !ok || n == 0 || n > 1<<31 {
		return 0, false
	}
	return int(n), true
}

// LoadMaxItemSize reads item_size_max from "stats settings", uses it to
// check values from now on (replacing a configured MaxItemSize), and
// returns it. A reply without a usable item_size_max reports ErrProtocol.
func (c *Client) LoadMaxItemSize(ctx context.Context) (int, error) {
	st, err := c.Stats(ctx, "settings")
	if err != nil {
		return 0, err
	}
	n, ok := parseItemSize(st["item_size_max"])
	if !ok {
		return 0, protoErr("bad item_size_max %q", st["item_size_max"])
	}
	c.maxItemSize.Store(int64(n))
	return n, nil
}
