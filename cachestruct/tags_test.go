package cachestruct

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTagsVersionsNeverRepeat(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clk.Now})
	tg := NewTags(store, TagsConfig{Now: clk.Now})
	v1, err := tg.Versions(ctx, "t")
	require.NoError(t, err)
	assert.EqualValues(t, stEpoch.UnixNano(), v1["t"], "seeded with the time in ns")
	require.NoError(t, tg.Set(ctx, "e", []byte("old"), 0, "t"))
	require.NoError(t, tg.Invalidate(ctx, "t"))
	v2, err := tg.Versions(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, v1["t"]+1, v2["t"], "bumped by one")

	clk.Advance(time.Millisecond)
	require.NoError(t, store.Delete(ctx, "tag:t", DeleteOptions{}))
	v3, err := tg.Versions(ctx, "t")
	require.NoError(t, err)
	assert.Greater(t, v3["t"], v2["t"], "a re-created tag gets a new, larger version")
	_, found, err := tg.Get(ctx, "e")
	require.NoError(t, err)
	assert.False(t, found)
	require.NoError(t, tg.Invalidate(ctx, "never-created"), "a missing tag is left missing")
}

func TestTagsSnapshotBeforeCompute(t *testing.T) {
	ctx := context.Background()
	tg := NewTags(NewMemory(MemoryOptions{}), TagsConfig{})
	vs, err := tg.Versions(ctx, "users")
	require.NoError(t, err)
	// While the value is being computed, the data changes.
	require.NoError(t, tg.Invalidate(ctx, "users"))
	require.NoError(t, tg.SetVersions(ctx, "list", []byte("computed from old data"), time.Minute, vs))
	_, found, err := tg.Get(ctx, "list", "users")
	require.NoError(t, err)
	assert.False(t, found, "an entry computed before an invalidation misses")
}

func TestTagsGetRoundTrips(t *testing.T) {
	ctx := context.Background()
	var gets int
	store := NewMemory(MemoryOptions{})
	counting := &stCountingStore{Store: store, getMulti: &gets}
	var rec Recorder
	tg := NewTags(counting, TagsConfig{Observer: &rec})
	require.NoError(t, tg.Set(ctx, "e", []byte("v"), time.Minute, "a", "b"))

	tests := []struct {
		name  string
		hint  []string
		trips int
	}{
		{"all tags given", []string{"a", "b"}, 1},
		{"no tags given", nil, 2},
		{"some tags given", []string{"a"}, 2},
		{"extra tags given", []string{"a", "b", "c"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gets = 0
			v, found, err := tg.Get(ctx, "e", tt.hint...)
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, "v", string(v))
			assert.Equal(t, tt.trips, gets)
		})
	}
	assert.Equal(t, "WHHHH", rec.Story("e"))
}

func TestTagsLocalVersionCache(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clk.Now})
	var gets int
	local := NewTags(&stCountingStore{Store: store, getMulti: &gets}, TagsConfig{LocalTTL: 5 * time.Second, Now: clk.Now})
	remote := NewTags(store, TagsConfig{Now: clk.Now})
	require.NoError(t, local.Set(ctx, "e", []byte("v"), time.Hour, "t"))

	gets = 0
	_, found, err := local.Get(ctx, "e", "t")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, 1, gets, "the tag version comes from the local cache")

	require.NoError(t, remote.Invalidate(ctx, "t"))
	_, found, err = local.Get(ctx, "e", "t")
	require.NoError(t, err)
	assert.True(t, found, "another process's invalidation is seen up to LocalTTL late")
	clk.Advance(5 * time.Second)
	_, found, err = local.Get(ctx, "e", "t")
	require.NoError(t, err)
	assert.False(t, found)

	require.NoError(t, local.Set(ctx, "e", []byte("v2"), time.Hour, "t"))
	require.NoError(t, local.Invalidate(ctx, "t"))
	_, found, err = local.Get(ctx, "e", "t")
	require.NoError(t, err)
	assert.False(t, found, "this process's own invalidation is seen at once")
}

func TestTagsBadInput(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	tg := NewTags(store, TagsConfig{})
	require.ErrorIs(t, tg.Set(ctx, "e", []byte("v"), 0, "bad tag"), ErrInvalidKey)
	_, err := store.Set(ctx, "raw", []byte("not tagged"), SetOptions{})
	require.NoError(t, err)
	_, _, err = tg.Get(ctx, "raw")
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = store.Set(ctx, "tag:bad", []byte("x"), SetOptions{})
	require.NoError(t, err)
	_, err = tg.Versions(ctx, "bad")
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Panics(t, func() { NewTags(nil, TagsConfig{}) })
	assert.Panics(t, func() { NewTags(store, TagsConfig{LocalTTL: -1}) })
}

func FuzzDecodeTagged(f *testing.F) {
	f.Add(encodeTagged([]byte("value"), TagVersions{"a": 1, "bb": 1 << 60}))
	f.Add(encodeTagged(nil, nil))
	f.Add([]byte{tagMagic, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{tagMagic, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		value, vs, err := decodeTagged(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		v2, vs2, err := decodeTagged(encodeTagged(value, vs))
		require.NoError(t, err)
		assert.Equal(t, string(value), string(v2))
		assert.Equal(t, fmt.Sprint(vs), fmt.Sprint(vs2))
	})
}

// stCountingStore counts the GetMulti round trips of a real store.
type stCountingStore struct {
	Store
	getMulti *int
}

func (s *stCountingStore) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	*s.getMulti++
	return s.Store.GetMulti(ctx, keys)
}
