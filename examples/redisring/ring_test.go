package main

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsistentHashIgnoresShardOrder(t *testing.T) {
	// go-redis passes the live shard names in map order, which changes
	// from one rebalance to the next: the mapping must not.
	names := []string{"a", "b", "c", "d", "e"}
	ref := newConsistentHash(names)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		shuffled := append([]string(nil), names...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		h := newConsistentHash(shuffled)
		for k := range 2000 {
			key := fmt.Sprint("key:", k)
			require.Equal(t, ref.Get(key), h.Get(key), "permutation %d %v, key %s", i, shuffled, key)
		}
	}
}

func TestConsistentHashSpreadsKeys(t *testing.T) {
	names := []string{"a", "b", "c"}
	h := newConsistentHash(names)
	counts := map[string]int{}
	const n = 30000
	for k := range n {
		counts[h.Get(fmt.Sprint("key:", k))]++
	}
	require.Len(t, counts, 3)
	for _, name := range names {
		assert.InDelta(t, n/3, counts[name], n/3*0.25, "shard %s within 25%% of its share", name)
	}
}

func TestConsistentHashNoShards(t *testing.T) {
	assert.Equal(t, "", newConsistentHash(nil).Get("k"), "go-redis treats \"\" as no shard")
	assert.Equal(t, "", newConsistentHash([]string{""}).Get("k"), "an invalid name gives the empty ring")
}

func TestParseShards(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		names   []string
		wantErr bool
	}{
		{"a=h:1", map[string]string{"a": "h:1"}, []string{"a"}, false},
		{"c=h:3, a=h:1,b=h:2", map[string]string{"a": "h:1", "b": "h:2", "c": "h:3"}, []string{"a", "b", "c"}, false},
		{"", nil, nil, true},
		{"a", nil, nil, true},
		{"=h:1", nil, nil, true},
		{"a=", nil, nil, true},
		{"a=h:1,a=h:2", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addrs, names, err := parseShards(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, errBadShards)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, addrs)
			assert.Equal(t, tt.names, names)
		})
	}
}

func FuzzParseShards(f *testing.F) {
	for _, s := range []string{"a=h:1", "c=h:3, a=h:1,b=h:2", "", "a", "=x", "a=h:1,a=h:2", "a==b", " , "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, names, err := parseShards(s)
		if err != nil {
			require.ErrorIs(t, err, errBadShards)
			return
		}
		require.Len(t, names, len(addrs))
		require.IsNonDecreasing(t, names)
		for _, name := range names {
			require.NotEmpty(t, name)
			require.NotEmpty(t, addrs[name])
		}
		// The ring over these names maps every key to one of them.
		h := newConsistentHash(names)
		assert.Contains(t, names, h.Get(s))
	})
}
