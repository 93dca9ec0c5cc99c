package memcache

import (
	"context"
	"errors"
)

// Noop sends mn and waits for MN: a round trip that proves the server
// answers.
func (c *Client) Noop(ctx context.Context) error {
	cl, err := c.doIdempotent(ctx, &req{op: 'n'}, kindMeta)
	if err != nil {
		return err
	}
	defer putCall(cl)
	if cl.err != nil {
		return cl.err
	}
	if cl.rep.code != codeMN {
		return protoErr("unexpected %s to mn", cl.rep.code[:])
	}
	return nil
}

// Addr returns the server's address.
func (c *Client) Addr() string { return c.addr }

// getMap reads keys with GetMulti into a map, keeping the first read of a
// key asked twice; it is nil after ErrInvalidKey (nothing was read), else
// never nil.
func getMap(ctx context.Context, c *Client, keys []string, opt GetMultiOptions) (map[string]Item, error) {
	items := map[string]Item{}
	err := c.GetMulti(ctx, keys, opt, func(k string, it Item) {
		if _, dup := items[k]; !dup {
			items[k] = it
		}
	})
	if errors.Is(err, ErrInvalidKey) {
		return nil, err
	}
	return items, err
}
