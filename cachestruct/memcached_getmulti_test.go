package cachestruct

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// getMultiSeed replays a run of TestMemcachedGetMultiAnyConnsAnyBatch:
// go test -run AnyConnsAnyBatch ./cachestruct -args -getmulti.seed=N.
var getMultiSeed = flag.Uint64("getmulti.seed", 0, "seed of TestMemcachedGetMultiAnyConnsAnyBatch (0: random)")

// getMultiKeys is the key space of the GetMulti property test: the even
// keys are stored, the odd ones are misses.
const getMultiKeys = 20_000

func getMultiKey(i int) string   { return "gm" + strconv.Itoa(i) }
func getMultiValue(i int) string { return "value of " + strconv.Itoa(i) }

// fillGetMulti stores the even keys of the key space on the server at
// addr in one write of quiet meta sets, then waits for the mn that
// follows them.
func fillGetMulti(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
	var b []byte
	for i := 0; i < getMultiKeys; i += 2 {
		v := getMultiValue(i)
		b = fmt.Appendf(b, "ms %s %d q\r\n%s\r\n", getMultiKey(i), len(v), v)
	}
	b = append(b, "mn\r\n"...)
	_, err = nc.Write(b)
	require.NoError(t, err)
	line, err := bufio.NewReader(nc).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "MN\r\n", line, "every quiet set succeeded")
}

// TestMemcachedGetMultiAnyConnsAnyBatch is a property test: for every
// ConnsPerServer from 1 to 64 and every batch from 1 to 20,000 keys,
// GetMulti on one server neither panics nor errs, and returns exactly the
// keys of the batch that are stored, each with its value. A grid of the
// edges (the connection counts around the 8 and 16 of the client's part
// arrays, the batch sizes around its 128-key parts) runs every time, and
// random pairs besides (the seed is logged).
func TestMemcachedGetMultiAnyConnsAnyBatch(t *testing.T) {
	addr := memcachedtest.Start(t, memcachedtest.MemoryMB(64)).Addr()
	fillGetMulti(t, addr)
	seed := *getMultiSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -args -getmulti.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	type pair struct{ conns, batch int }
	var cases []pair
	for _, c := range []int{1, 8, 9, 16, 17, 64} {
		for _, n := range []int{1, 255, 256, 1151, 1152, 2304, 20_000} {
			cases = append(cases, pair{c, n})
		}
	}
	for range 16 {
		cases = append(cases, pair{1 + rng.IntN(64), 1 + rng.IntN(20_000)})
	}

	ctx := context.Background()
	stores := make(map[int]*Memcached)
	keys := make([]string, 0, 20_000)
	idx := make([]int, 0, 20_000)
	for _, tc := range cases {
		m := stores[tc.conns]
		if m == nil {
			m = newMemcachedStore(t, []string{addr}, MemcachedOptions{ConnsPerServer: tc.conns})
			stores[tc.conns] = m
		}
		// A random batch of the key space: hits and misses, and some
		// keys twice.
		keys, idx = keys[:0], idx[:0]
		for range tc.batch {
			i := rng.IntN(getMultiKeys)
			keys = append(keys, getMultiKey(i))
			idx = append(idx, i)
		}
		var items map[string]Item
		var err error
		require.NotPanics(t, func() { items, err = m.GetMulti(ctx, keys) }, "conns=%d batch=%d", tc.conns, tc.batch)
		require.NoError(t, err, "conns=%d batch=%d", tc.conns, tc.batch)
		want := 0
		seen := make(map[int]bool, len(idx))
		for _, i := range idx {
			if seen[i] {
				continue
			}
			seen[i] = true
			it, ok := items[getMultiKey(i)]
			if i%2 == 1 {
				require.False(t, ok, "conns=%d batch=%d: key %d is a miss", tc.conns, tc.batch, i)
				continue
			}
			want++
			require.True(t, ok, "conns=%d batch=%d: key %d is stored", tc.conns, tc.batch, i)
			require.Equal(t, getMultiValue(i), string(it.Value), "conns=%d batch=%d", tc.conns, tc.batch)
		}
		require.Len(t, items, want, "conns=%d batch=%d: only the batch's hits", tc.conns, tc.batch)
	}
}

// TestMemcachedGetMultiNineConns is the reported case: nine connections
// per server and a multi-get of 1,152 keys, nine parts of 128, panicked
// with an index out of range.
func TestMemcachedGetMultiNineConns(t *testing.T) {
	addr := memcachedtest.Start(t).Addr()
	m := newMemcachedStore(t, []string{addr}, MemcachedOptions{ConnsPerServer: 9})
	ctx := context.Background()
	keys := make([]string, 1152)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	_, err := m.Set(ctx, keys[1151], []byte("last"), SetOptions{})
	require.NoError(t, err)
	var items map[string]Item
	require.NotPanics(t, func() { items, err = m.GetMulti(ctx, keys) })
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, "last", string(items[keys[1151]].Value))
}

// TestMemcachedGetMultiPlain: GetMultiPlain reads what GetMulti reads,
// values, flags and CAS, on one server and sharded over three, with
// TTLUnknown and no marks: a stale item reads as fresh (its win is left
// for the next Get), a lease placeholder as an empty value. The hook sees
// it as a get_multi.
func TestMemcachedGetMultiPlain(t *testing.T) {
	addrs := memcachedtest.Addrs(memcachedtest.Cluster(t, 3))
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprint("servers=", n), func(t *testing.T) {
			var events []OpEvent
			m := newMemcachedStore(t, addrs[:n], MemcachedOptions{Hook: func(e OpEvent) { events = append(events, e) }})
			ctx := context.Background()
			var keys []string
			for i := range 40 {
				k := fmt.Sprint("plain:", n, ":", i)
				keys = append(keys, k)
				if i%4 != 0 {
					_, err := m.Set(ctx, k, []byte("v"+k), SetOptions{Flags: uint32(i), TTL: time.Hour})
					require.NoError(t, err)
				}
			}
			stale, lease := keys[1], fmt.Sprint("plain:", n, ":lease")
			require.NoError(t, m.Delete(ctx, stale, DeleteOptions{Invalidate: true}))
			_, _, err := m.Get(ctx, lease, GetOptions{Lease: time.Minute})
			require.NoError(t, err)
			keys = append(keys, lease, keys[2])

			want, err := m.GetMulti(ctx, keys[2:]) // not the stale key: GetMulti would win it
			require.NoError(t, err)
			events = nil
			got, err := m.GetMultiPlain(ctx, keys)
			require.NoError(t, err)
			require.Len(t, events, 1)
			assert.Equal(t, OpGetMulti, events[0].Op)
			assert.Equal(t, len(got), events[0].Hits)
			require.Len(t, got, len(want)+1)
			for k, it := range got {
				assert.Equal(t, TTLUnknown, it.TTL, k)
				assert.False(t, it.Won || it.Stale || it.Busy, k)
				if k == stale {
					assert.Equal(t, "v"+k, string(it.Value))
					continue
				}
				assert.Equal(t, string(want[k].Value), string(it.Value), k)
				assert.Equal(t, want[k].Flags, it.Flags, k)
				assert.Equal(t, want[k].CAS, it.CAS, k)
			}
			assert.Empty(t, got[lease].Value)
			it, found, err := m.Get(ctx, stale, GetOptions{})
			require.NoError(t, err)
			require.True(t, found)
			assert.True(t, it.Stale && it.Won, "GetMultiPlain took no win")

			_, err = m.GetMultiPlain(ctx, []string{"ok", "bad key"})
			require.ErrorIs(t, err, ErrInvalidKey)
			items, err := m.GetMultiPlain(ctx, nil)
			require.NoError(t, err)
			assert.Empty(t, items)
		})
	}
}

// TestMemcachedGetMultiShardedShapes: a multi-get over several servers
// returns exactly the stored keys asked for, with GetMulti and
// GetMultiPlain, on both sides of the sizes its batches are kept in
// without an allocation of their own (4 servers, 128 keys): a server
// with no key before, between or after those with keys, one server only,
// misses and keys asked twice.
func TestMemcachedGetMultiShardedShapes(t *testing.T) {
	addrs := memcachedtest.Addrs(memcachedtest.Cluster(t, 5))
	ctx := context.Background()
	stored := func(k string) bool { n, _ := strconv.Atoi(k[strings.IndexByte(k, '/')+1:]); return n%2 == 0 }
	fill := newMemcachedStore(t, addrs, MemcachedOptions{Picker: prefixPicker(addrs)})
	for s := range addrs {
		for i := 0; i < 400; i += 2 {
			k := fmt.Sprintf("%d/%d", s, i)
			mustSetC(t, fill, k, "v"+k, SetOptions{})
		}
	}
	// keysOn returns n keys spread over servers, from key 0 of each on.
	keysOn := func(n int, servers ...int) []string {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("%d/%d", servers[i%len(servers)], i/len(servers)))
		}
		return keys
	}
	tests := []struct {
		name string
		keys []string
	}{
		{"one key on the last server", keysOn(1, 3)},
		{"servers 1 and 3", keysOn(40, 1, 3)},
		{"every server, 128 keys", keysOn(128, 0, 1, 2, 3)},
		{"every server, 129 keys", keysOn(129, 0, 1, 2, 3)},
		{"every server, 400 keys", keysOn(400, 3, 2, 1, 0)},
		{"keys twice", append(keysOn(60, 0, 2), keysOn(60, 2, 0)...)},
	}
	for _, n := range []int{4, 5} {
		m := newMemcachedStore(t, addrs[:n], MemcachedOptions{Picker: prefixPicker(addrs[:n])})
		gets := map[string]func(context.Context, []string) (map[string]Item, error){
			"GetMulti": m.GetMulti, "GetMultiPlain": m.GetMultiPlain,
		}
		for _, tt := range tests {
			keys := tt.keys
			if n == 5 {
				keys = append(slices.Clone(keys), "4/0", "4/1")
			}
			want := map[string]string{}
			for _, k := range keys {
				if stored(k) {
					want[k] = "v" + k
				}
			}
			for name, get := range gets {
				items, err := get(ctx, keys)
				require.NoError(t, err, "%d servers, %s, %s", n, tt.name, name)
				got := map[string]string{}
				for k, it := range items {
					got[k] = string(it.Value)
				}
				assert.Equal(t, want, got, "%d servers, %s, %s", n, tt.name, name)
			}
		}
	}
}
