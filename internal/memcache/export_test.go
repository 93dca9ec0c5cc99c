package memcache

import (
	"context"
	"errors"
)

// Noop sends mn and waits for MN: a round trip that proves the server
// answers.
func (c *Client) Noop(ctx context.Context) error {
	rep, err := c.roundTrip(ctx, &req{op: 'n'}, true)
	if err == nil && rep.code != codeMN {
		err = protoErr("unexpected %s to mn", rep.code[:])
	}
	return err
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
