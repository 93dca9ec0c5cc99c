module github.com/twine-go/twine/internal/benchpeers

go 1.25.0

replace github.com/twine-go/twine => ../..

require (
	github.com/avast/retry-go/v4 v4.7.0
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/dgraph-io/ristretto/v2 v2.4.2
	github.com/dgryski/go-jump v0.0.0-20170409065014-e1f439676b57
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f
	github.com/fanliao/go-promise v0.0.0-20141029170127-1890db352a72
	github.com/go-redis/redis_rate/v10 v10.0.1
	github.com/golang/groupcache v0.0.0-20241129210726-2c02b8208cf8
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/jpillora/backoff v1.1.0
	github.com/maypok86/otter/v2 v2.4.0
	github.com/serialx/hashring v0.0.0-20200727003509-22c0c7ab6b1b
	github.com/sethvargo/go-retry v0.5.0
	github.com/sourcegraph/conc v0.3.0
	github.com/twine-go/twine v0.0.0-20261204175452-54af06beef47
)

require github.com/hashicorp/go-cleanhttp v0.5.2 // indirect

require (
	github.com/dustin/go-humanize v1.0.1 // indirect
	golang.org/x/sys v0.43.0 // indirect
)

require (
	github.com/klauspost/compress v1.13.6 // indirect
	github.com/vmihailenco/go-tinylfu v0.2.2 // indirect
	github.com/vmihailenco/msgpack/v5 v5.3.4 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
)

require (
	github.com/bsm/redislock v0.9.4
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/go-redis/cache/v9 v9.0.0
	github.com/go-redsync/redsync/v4 v4.17.0
	github.com/redis/go-redis/v9 v9.22.0
	github.com/smartystreets/goconvey v1.8.1 // indirect
	github.com/stretchr/testify v1.12.1
	github.com/twine-go/twine/cachestruct/redisstore v0.0.0-00010101000000-000000000000
	go.uber.org/multierr v1.9.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/sync v0.22.0
)

replace github.com/twine-go/twine/cachestruct/redisstore => ../../cachestruct/redisstore
