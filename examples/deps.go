// Package examples pins the dependencies of the example programs. Each
// program lives in its own directory; see README.md at the repository root.
package examples

import (
	_ "github.com/bradfitz/gomemcache/memcache"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "gonum.org/v1/plot"
	_ "modernc.org/sqlite"

	_ "github.com/twine-go/twine"
)
