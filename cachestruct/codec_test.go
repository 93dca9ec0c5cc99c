package cachestruct

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCodecs(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		b, err := BytesCodec{}.Encode([]byte{0, 1, 2})
		require.NoError(t, err)
		v, err := BytesCodec{}.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, []byte{0, 1, 2}, v)
	})
	t.Run("string", func(t *testing.T) {
		b, err := StringCodec{}.Encode("héllo")
		require.NoError(t, err)
		v, err := StringCodec{}.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, "héllo", v)
	})
	t.Run("json", func(t *testing.T) {
		type rec struct {
			A int
			B []string
		}
		b, err := JSONCodec[rec]{}.Encode(rec{A: 1, B: []string{"x"}})
		require.NoError(t, err)
		assert.JSONEq(t, `{"A":1,"B":["x"]}`, string(b))
		v, err := JSONCodec[rec]{}.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, rec{A: 1, B: []string{"x"}}, v)
		_, err = JSONCodec[rec]{}.Decode([]byte("{"))
		require.Error(t, err)
	})
	t.Run("funcs", func(t *testing.T) {
		c := CodecFuncs[int]{
			EncodeFunc: func(v int) ([]byte, error) { return strconv.AppendInt(nil, int64(v), 10), nil },
			DecodeFunc: func(b []byte) (int, error) { return strconv.Atoi(string(b)) },
		}
		b, err := c.Encode(42)
		require.NoError(t, err)
		v, err := c.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, 42, v)
	})
}

func TestCacheCodecErrors(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	bad := errors.New("cannot encode")
	c := NewCache(store, CodecFuncs[int]{
		EncodeFunc: func(int) ([]byte, error) { return nil, bad },
		DecodeFunc: func([]byte) (int, error) { return 0, nil },
	}, CacheConfig{})
	_, err := c.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (int, error) { return 1, nil })
	require.ErrorIs(t, err, bad)
	_, found, err := store.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	assert.False(t, found, "the lease was released")
	require.ErrorIs(t, c.Set(ctx, "k", 1, time.Minute), bad)

	// An empty encoding is still a value, never a placeholder.
	e := NewCache(store, StringCodec{}, CacheConfig{})
	v, err := e.GetOrCompute(ctx, "empty", time.Minute, func(context.Context) (string, error) { return "", nil })
	require.NoError(t, err)
	assert.Empty(t, v)
	v, found, err = e.Get(ctx, "empty")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Empty(t, v)
}

func FuzzDecodeCached(f *testing.F) {
	f.Add(encodeCached([]byte("payload"), 12345*time.Millisecond, 7*time.Microsecond))
	f.Add([]byte{})
	f.Add([]byte{cacheMagic})
	f.Add([]byte{cacheMagic, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, exp, delta, err := decodeCached(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// Whatever decodes re-encodes to the same bytes' meaning.
		p2, e2, d2, err := decodeCached(encodeCached(payload, exp, delta))
		require.NoError(t, err)
		assert.Equal(t, payload, p2)
		assert.Equal(t, exp, e2)
		assert.Equal(t, delta, d2)
	})
}

func TestCacheOfInterfaceValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		c := NewCache(store, CodecFuncs[any]{
			EncodeFunc: func(any) ([]byte, error) { return []byte("nil"), nil },
			DecodeFunc: func([]byte) (any, error) { return nil, nil },
		}, CacheConfig{})
		// Another process holds the lease: this caller waits in a flight,
		// whose result is a nil interface value.
		_, _, err := store.Get(ctx, "k", GetOptions{Lease: time.Minute})
		require.NoError(t, err)
		done := make(chan any)
		go func() {
			v, err := c.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (any, error) { return 1, nil })
			assert.NoError(t, err)
			done <- v
		}()
		time.Sleep(time.Second)
		require.NoError(t, c.Set(ctx, "k", nil, time.Minute))
		assert.Nil(t, <-done)
	})
}
