# twine's commands. `make demo` and `make test` are the whole set-up on a
# fresh Debian/Ubuntu machine with Go installed.

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The library module and the nested modules.
MODULES     := . cachestruct/redisstore examples internal/benchpeers internal/faulttest
# Benchmark selection for `make bench`; e.g. make bench BENCH=Ketama
BENCH       ?= .
BENCHTIME   ?= 1s

.PHONY: demo test servers fmt tidy gover vet staticcheck unit bench

# Arguments of the tour, e.g. make demo DEMO_ARGS="-redis localhost:6379"
# or DEMO_ARGS="-memcached localhost:11211" to run its store section there.
DEMO_ARGS   ?=

demo: ## Run the tour of all four packages (the store section in memory, or as DEMO_ARGS says).
	cd examples && $(GO) run ./tour $(DEMO_ARGS)

test: servers fmt tidy gover vet staticcheck unit ## Everything CI checks.

servers: ## Install memcached, redis-server, redis-tools and pylibmc when missing (as root).
	@scripts/ensure-servers

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

tidy: ## Fail when a module's go.mod or go.sum is not what `go mod tidy` makes.
	@set -e; for m in $(MODULES); do echo "go mod tidy -diff ($$m)"; \
	  (cd $$m && $(GO) mod tidy -diff) || { echo "$$m: not tidy; run go mod tidy there"; exit 1; }; done

gover: ## Fail unless every go.mod names the same minimum Go as the root module.
	@want=$$(awk '$$1 == "go" {print $$2}' go.mod); for m in $(MODULES); do \
	  got=$$(awk '$$1 == "go" {print $$2}' $$m/go.mod); \
	  if [ "$$got" != "$$want" ]; then echo "$$m/go.mod: go $$got, want go $$want"; exit 1; fi; done

vet:
	@set -e; for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

staticcheck:
	@set -e; for m in $(MODULES); do echo "staticcheck ($$m)"; (cd $$m && $(GO) run $(STATICCHECK) ./...); done

unit:
	$(GO) test -race -count=1 ./...
	cd cachestruct/redisstore && $(GO) test -race -count=1 ./...
	cd examples && $(GO) test -race -count=1 ./...
	cd internal/benchpeers && $(GO) test -race -count=1 ./...
	cd internal/benchpeers && $(GO) test -count=1 -run='^$$' -bench=. -benchtime=1x ./...
	cd internal/faulttest && $(GO) test -race -count=1 ./...

bench: ## The package benchmarks and the peer comparisons quoted in BENCHMARKS.md.
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem ./...
	cd cachestruct/redisstore && $(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem ./...
	cd internal/benchpeers && $(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem ./...
