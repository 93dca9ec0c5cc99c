module github.com/twine-go/twine/cachestruct/redisstore

go 1.25.0

// In this repository the library beside this module is used; a module that
// requires redisstore gets the library at the commit of main required below,
// or newer (a real pseudo-version, so that go get can resolve it).
replace github.com/twine-go/twine => ../..

require (
	github.com/redis/go-redis/v9 v9.22.0
	github.com/stretchr/testify v1.12.1
	github.com/twine-go/twine v0.0.0-20261204175452-54af06beef47
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
