package memcache

import (
	"context"
	"errors"
)

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
