package faulttest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/internal/memcachedtest"
)

// slack is how long past its ctx's deadline a call may take to return: the
// time to notice, under -race, on a loaded machine.
const slack = 500 * time.Millisecond

// proxy is a toxiproxy proxy in front of one upstream, run in-process.
type proxy struct {
	t *testing.T
	p *toxiproxy.Proxy
}

// newProxy starts a proxy on a free loopback port in front of upstream and
// stops it in t.Cleanup.
func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, t.Name(), "127.0.0.1:0", upstream)
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)
	return &proxy{t: t, p: p}
}

// Addr returns the address clients dial.
func (p *proxy) Addr() string { return p.p.Listen }

// add adds a toxic: typ with attrs (JSON) on stream ("downstream" is
// server to client), named name.
func (p *proxy) add(name, typ, stream, attrs string) {
	p.t.Helper()
	_, err := p.p.Toxics.AddToxicJson(strings.NewReader(fmt.Sprintf(
		`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)))
	require.NoError(p.t, err)
}

// remove removes the toxic named name.
func (p *proxy) remove(name string) {
	p.t.Helper()
	require.NoError(p.t, p.p.Toxics.RemoveToxic(context.Background(), name))
}

// rig is one server behind a proxy and a store on the proxy; open opens
// another store on the proxy (closed in t.Cleanup), whose connections are
// all made from then on.
type rig struct {
	proxy *proxy
	store cachestruct.Store
	open  func() cachestruct.Store
}

// backends are the servers the scenarios run against, each as a subtest:
// memcached through cachestruct.Memcached, and Redis through redisstore on
// a go-redis Client (see redis_test.go).
var backends = []struct {
	name  string
	start func(t *testing.T) *rig
}{
	{"memcached", newMemcachedRig},
	{"redis", newRedisRig},
}

// eachBackend runs scenario against each backend.
func eachBackend(t *testing.T, scenario func(t *testing.T, r *rig)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { scenario(t, b.start(t)) })
	}
}

// newMemcachedRig is one memcached behind a proxy, with stores that never
// eject it and time out after 5s.
func newMemcachedRig(t *testing.T) *rig {
	t.Helper()
	srv := memcachedtest.Start(t, memcachedtest.MemoryMB(64))
	p := newProxy(t, srv.Addr())
	open := func() cachestruct.Store {
		m, err := cachestruct.NewMemcached([]string{p.Addr()}, cachestruct.MemcachedOptions{Timeout: 5 * time.Second, EjectAfter: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	return &rig{proxy: p, store: open(), open: open}
}

// load is the invariant checker: goroutines write and read their own keys
// (each value names its key and a sequence number) through a store, each
// call under a ctx of timeout, for a while. Every call must return within
// its ctx (plus slack), and every value read must be one written to that
// key: a reply delivered to the wrong caller, or read from a connection
// out of step, would show a value of another key. In strict mode it must
// also be the last value this goroutine wrote there (so not an older
// reply of the same key).
type load struct {
	strict                  bool
	ok, failed, wrong, late atomic.Int64
	firstWrong              atomic.Value
}

// runLoad runs the load for d and returns when every goroutine is done.
func runLoad(t *testing.T, store cachestruct.Store, strict bool, goroutines, valueSize int, timeout, d time.Duration) *load {
	t.Helper()
	l := &load{strict: strict}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			pad := strings.Repeat("x", valueSize)
			written := map[string]string{}
			for i := 0; time.Now().Before(end); i++ {
				key := fmt.Sprintf("g%d-k%d", g, i%8)
				val := fmt.Sprintf("%s=%d|%s", key, i, pad)
				l.call(timeout, func(ctx context.Context) error {
					_, err := store.Set(ctx, key, []byte(val), cachestruct.SetOptions{})
					if err == nil {
						written[key] = val
					} else {
						delete(written, key) // maybe applied: unknown now
					}
					return err
				})
				l.call(timeout, func(ctx context.Context) error {
					it, found, err := store.Get(ctx, key, cachestruct.GetOptions{})
					if err != nil || !found {
						return err
					}
					l.check(key, string(it.Value), written)
					return nil
				})
				if i%4 == 0 {
					keys := []string{fmt.Sprintf("g%d-k0", g), fmt.Sprintf("g%d-k1", g), fmt.Sprintf("g%d-k2", g)}
					l.call(timeout, func(ctx context.Context) error {
						items, err := store.GetMulti(ctx, keys)
						for k, it := range items { // partial results must be right too
							l.check(k, string(it.Value), written)
						}
						return err
					})
				}
			}
		})
	}
	wg.Wait()
	return l
}

// check records a value read for key that is not what was written.
func (l *load) check(key, got string, written map[string]string) {
	if !strings.HasPrefix(got, key+"=") {
		l.wrong.Add(1)
		l.firstWrong.CompareAndSwap(nil, fmt.Sprintf("key %s read %.40q", key, got))
		return
	}
	if want, ok := written[key]; ok && l.strict && got != want {
		l.wrong.Add(1)
		l.firstWrong.CompareAndSwap(nil, fmt.Sprintf("key %s read %.40q, wrote %.40q", key, got, want))
	}
}

// call runs f under a ctx of timeout and checks that it returns in time.
func (l *load) call(timeout time.Duration, f func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if time.Since(start) > timeout+slack {
		l.late.Add(1)
	}
	if err != nil {
		l.failed.Add(1)
	} else {
		l.ok.Add(1)
	}
}

// assertClean checks the load's invariants.
func (l *load) assertClean(t *testing.T) {
	t.Helper()
	t.Logf("calls: %d ok, %d failed", l.ok.Load(), l.failed.Load())
	assert.Zero(t, l.wrong.Load(), "values read for the wrong key or out of step: first %v", l.firstWrong.Load())
	assert.Zero(t, l.late.Load(), "calls that returned after their ctx's deadline + %v", slack)
	assert.Positive(t, l.ok.Load()+l.failed.Load())
}

// recovered checks that once a fault is removed the store serves again:
// a probe succeeds within 10s, and then a load runs with no failure.
func recovered(t *testing.T, store cachestruct.Store) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := store.Set(ctx, "probe", []byte("probe=1"), cachestruct.SetOptions{})
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the store did not recover")
	l := runLoad(t, store, true, 4, 100, 5*time.Second, 300*time.Millisecond)
	l.assertClean(t)
	assert.Zero(t, l.failed.Load(), "calls failed after the fault was removed")
}

// TestLatencyJitter: 40ms ± 30ms each way. Calls with a generous ctx all
// succeed; calls whose ctx is shorter than the latency fail in time, and
// the connections they leave behind (replies still on the way) stay in
// step.
func TestLatencyJitter(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *rig) {
		r.proxy.add("latency_down", "latency", "downstream", `{"latency":40,"jitter":30}`)
		r.proxy.add("latency_up", "latency", "upstream", `{"latency":40,"jitter":30}`)
		l := runLoad(t, r.store, true, 8, 100, 2*time.Second, time.Second)
		l.assertClean(t)
		assert.Zero(t, l.failed.Load(), "a 2s ctx covers 140ms of latency")

		l = runLoad(t, r.store, true, 8, 100, 50*time.Millisecond, time.Second)
		l.assertClean(t)
		assert.Positive(t, l.failed.Load(), "50ms ctxs against 80±60ms round trips")
		r.proxy.remove("latency_down")
		r.proxy.remove("latency_up")
		recovered(t, r.store)
	})
}

// TestBandwidth: replies limited to 64 KB/s. 16 KB values take a quarter
// of a second each; calls with a short ctx fail in time and leave
// half-read replies behind, which never reach another caller.
func TestBandwidth(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *rig) {
		r.proxy.add("bandwidth", "bandwidth", "downstream", `{"rate":64}`)
		l := runLoad(t, r.store, true, 4, 16<<10, 300*time.Millisecond, 1500*time.Millisecond)
		l.assertClean(t)
		assert.Positive(t, l.failed.Load())

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		big := strings.Repeat("b", 32<<10)
		_, err := r.store.Set(ctx, "big", []byte("big="+big), cachestruct.SetOptions{})
		require.NoError(t, err)
		start := time.Now()
		it, found, err := r.store.Get(ctx, "big", cachestruct.GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, "big="+big, string(it.Value))
		assert.Greater(t, time.Since(start), 300*time.Millisecond, "32 KB at 64 KB/s")
		r.proxy.remove("bandwidth")
		recovered(t, r.store)
	})
}

// TestResetMidReply: every connection is reset (RST: linger 0) after
// 20,000 bytes of replies, so replies are cut in the middle, over and
// over. Calls fail with ErrUnavailable in time; no cut reply is taken
// for another.
func TestResetMidReply(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *rig) {
		ctx := context.Background()
		big := "big=" + strings.Repeat("b", 64<<10)
		_, err := r.store.Set(ctx, "big", []byte(big), cachestruct.SetOptions{})
		require.NoError(t, err)

		// reset_peer with toxicity 0 does nothing itself, but makes toxiproxy
		// close the connections it opens from now on with linger 0 (a reset);
		// limit_data closes them after 20,000 bytes downstream.
		_, err = r.proxy.p.Toxics.AddToxicJson(strings.NewReader(`{"name":"rst","type":"reset_peer","stream":"downstream","toxicity":0,"attributes":{"timeout":0}}`))
		require.NoError(t, err)
		r.proxy.add("limit", "limit_data", "downstream", `{"bytes":20000}`)
		fresh := r.open()

		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		start := time.Now()
		_, _, err = fresh.Get(c, "big", cachestruct.GetOptions{})
		require.ErrorIs(t, err, cachestruct.ErrUnavailable, "64 KB reply cut after 20,000 bytes")
		assert.Less(t, time.Since(start), 5*time.Second)

		l := runLoad(t, fresh, true, 8, 2000, 2*time.Second, 1500*time.Millisecond)
		l.assertClean(t)
		assert.Positive(t, l.failed.Load(), "connections were reset")
		r.proxy.remove("limit")
		r.proxy.remove("rst")
		recovered(t, fresh)
		it, _, err := fresh.Get(ctx, "big", cachestruct.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, big, string(it.Value))
	})
}

// TestOneBytePackets: requests and replies cut into 1-byte packets. Every
// call succeeds with the right value: the parsers put replies together
// from any fragments.
func TestOneBytePackets(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *rig) {
		r.proxy.add("slicer_down", "slicer", "downstream", `{"average_size":1,"size_variation":0,"delay":10}`)
		r.proxy.add("slicer_up", "slicer", "upstream", `{"average_size":1,"size_variation":0,"delay":10}`)
		l := runLoad(t, r.store, true, 8, 300, 10*time.Second, 1500*time.Millisecond)
		l.assertClean(t)
		assert.Zero(t, l.failed.Load())
		r.proxy.remove("slicer_down")
		r.proxy.remove("slicer_up")
		recovered(t, r.store)
	})
}

// twoServers sends every key to the first server, its successor being the
// second (as a hash ring would for some keys).
type twoServers [2]string

func (p twoServers) Get(string) string { return p[0] }
func (p twoServers) AppendN(dst []string, _ string, n int) ([]string, error) {
	return append(dst, p[:min(n, 2)]...), nil
}

// TestSilentServer: a server that accepts connections and never answers
// (toxiproxy's timeout toxic drops its replies). Calls fail within their
// ctx; after EjectAfter failures the server is ejected (OnServer hears it)
// and its keys go to the successor, so calls succeed again at once; the
// probes every RetryAfter fail while it stays silent (not reported), and
// the first probe after the fault is removed readmits it (reported), its
// keys return to it and the pool serves them.
func TestSilentServer(t *testing.T) {
	a := memcachedtest.Start(t)
	b := memcachedtest.Start(t)
	p := newProxy(t, a.Addr())
	var mu sync.Mutex
	var events []cachestruct.ServerEvent
	var servers sync.Map // servers that answered, from the Hook
	store, err := cachestruct.NewMemcached([]string{p.Addr(), b.Addr()}, cachestruct.MemcachedOptions{
		Picker:     twoServers{p.Addr(), b.Addr()},
		Timeout:    200 * time.Millisecond,
		EjectAfter: 3, RetryAfter: 300 * time.Millisecond, MaxRetryAfter: 600 * time.Millisecond,
		OnServer: func(e cachestruct.ServerEvent) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		},
		Hook: func(e cachestruct.OpEvent) {
			if e.Err == nil {
				servers.Store(e.Server, true)
			}
		},
	})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	_, err = store.Set(ctx, "k", []byte("k=on a"), cachestruct.SetOptions{})
	require.NoError(t, err)

	p.add("silent", "timeout", "downstream", `{"timeout":0}`)
	// Loose checks: during a failover a key's older value may come back
	// from the readmitted server (see Memcached's consistency notes).
	l := runLoad(t, store, false, 8, 100, time.Second, 2*time.Second)
	l.assertClean(t)
	assert.Positive(t, l.failed.Load(), "calls to the silent server failed before the ejection")
	assert.Greater(t, l.ok.Load(), l.failed.Load(), "the successor served the ejected server's keys")
	assert.Equal(t, []string{p.Addr()}, store.Ejected())
	_, ok := servers.Load(b.Addr())
	assert.True(t, ok, "the successor answered")

	servers.Delete(p.Addr())
	p.remove("silent")
	recovered(t, store)
	require.Eventually(t, func() bool {
		_, _, err := store.Get(ctx, "k", cachestruct.GetOptions{})
		_, back := servers.Load(p.Addr())
		return err == nil && back
	}, 5*time.Second, 20*time.Millisecond, "the readmitted server serves again")
	assert.Empty(t, store.Ejected())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 2, "%+v", events)
	assert.True(t, events[0].Ejected)
	assert.Equal(t, p.Addr(), events[0].Server)
	assert.ErrorIs(t, events[0].Err, cachestruct.ErrUnavailable)
	assert.Equal(t, cachestruct.ServerEvent{Server: p.Addr()}, events[1])
}

// swapStore answers every Get with the value of another key, as a client
// whose replies went to the wrong callers would.
type swapStore struct{ cachestruct.Store }

func (s swapStore) Get(ctx context.Context, key string, opt cachestruct.GetOptions) (cachestruct.Item, bool, error) {
	return s.Store.Get(ctx, key+"x", opt)
}

// TestLoadCatchesWrongReplies: the checker is not blind. A store that
// answers with another key's value, or with an older value of the same
// key, is caught.
func TestLoadCatchesWrongReplies(t *testing.T) {
	mem := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	ctx := context.Background()
	for g := range 2 {
		for i := range 8 {
			k := fmt.Sprintf("g%d-k%d", g, i)
			_, err := mem.Set(ctx, k+"x", []byte("other="+k), cachestruct.SetOptions{})
			require.NoError(t, err)
		}
	}
	l := runLoad(t, swapStore{mem}, true, 2, 10, time.Second, 50*time.Millisecond)
	assert.Positive(t, l.wrong.Load(), "another key's value")

	var stale staleStore
	stale.Store = mem
	l = runLoad(t, &stale, true, 1, 10, time.Second, 50*time.Millisecond)
	assert.Positive(t, l.wrong.Load(), "an older value of the same key")
}

// staleStore answers every Get with the value the key had before its last
// Set, as a connection one reply out of step would.
type staleStore struct {
	cachestruct.Store
	prev map[string][]byte
}

func (s *staleStore) Set(ctx context.Context, key string, v []byte, opt cachestruct.SetOptions) (uint64, error) {
	if s.prev == nil {
		s.prev = map[string][]byte{}
	}
	if it, ok, _ := s.Store.Get(ctx, key, cachestruct.GetOptions{}); ok {
		s.prev[key] = it.Value
	}
	return s.Store.Set(ctx, key, v, opt)
}

func (s *staleStore) Get(ctx context.Context, key string, opt cachestruct.GetOptions) (cachestruct.Item, bool, error) {
	if v, ok := s.prev[key]; ok {
		return cachestruct.Item{Value: v}, true, nil
	}
	return s.Store.Get(ctx, key, opt)
}
