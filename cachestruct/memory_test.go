package cachestruct

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustSet(t *testing.T, m *Memory, key, value string, opt SetOptions) uint64 {
	t.Helper()
	cas, err := m.Set(context.Background(), key, []byte(value), opt)
	require.NoError(t, err)
	return cas
}

func mustGet(t *testing.T, m *Memory, key string, opt GetOptions) Item {
	t.Helper()
	it, found, err := m.Get(context.Background(), key, opt)
	require.NoError(t, err)
	require.True(t, found, "miss on %q", key)
	return it
}

func requireMiss(t *testing.T, m *Memory, key string) {
	t.Helper()
	_, found, err := m.Get(context.Background(), key, GetOptions{})
	require.NoError(t, err)
	require.False(t, found, "hit on %q", key)
}

func TestNewMemoryOptions(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	assert.PanicsWithValue(t, "cachestruct: NewMemory with a negative MaxBytes or MaxItemSize", func() {
		NewMemory(MemoryOptions{MaxBytes: -1})
	})
	assert.Panics(t, func() { NewMemory(MemoryOptions{MaxItemSize: -1}) })
	assert.PanicsWithValue(t, "cachestruct: Set with an unknown SetMode", func() {
		_, _ = m.Set(context.Background(), "k", nil, SetOptions{Mode: ModePrepend + 1})
	})
}

func TestMemoryKeys(t *testing.T) {
	long := strings.Repeat("k", 250)
	tests := []struct {
		name      string
		key       string
		text, bin bool // valid without and with BinaryKeys
	}{
		{"empty", "", false, false},
		{"one byte", "k", true, true},
		{"250 bytes", long, true, true},
		{"251 bytes", long + "k", false, false},
		{"utf-8", "clé", true, true},
		{"space", "a b", false, true},
		{"crlf injection", "a\r\nflush_all", false, true},
		{"tab", "a\tb", false, true},
		{"nul", "a\x00b", false, true},
		{"del", "a\x7fb", false, true},
		{"186 binary bytes", strings.Repeat(" ", 186), false, true},
		{"187 binary bytes", strings.Repeat(" ", 187), false, false},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, bin := range []bool{false, true} {
				m := NewMemory(MemoryOptions{BinaryKeys: bin})
				want := tt.text
				if bin {
					want = tt.bin
				}
				_, err := m.Set(ctx, tt.key, []byte("v"), SetOptions{})
				_, _, gerr := m.Get(ctx, tt.key, GetOptions{Lease: time.Minute})
				_, merr := m.GetMulti(ctx, []string{"ok", tt.key})
				derr := m.Delete(ctx, tt.key, DeleteOptions{})
				_, ierr := m.Incr(ctx, tt.key, 1, IncrOptions{})
				if want {
					require.NoError(t, err)
					require.NoError(t, gerr)
					require.NoError(t, merr)
					require.NoError(t, derr)
					require.ErrorIs(t, ierr, ErrNotFound)
					continue
				}
				for _, err := range []error{err, gerr, merr, derr, ierr} {
					require.ErrorIs(t, err, ErrInvalidKey)
				}
				// Whatever else would fail too: the key is reported first.
				_, err = m.Set(ctx, tt.key, make([]byte, 2<<20), SetOptions{})
				require.ErrorIs(t, err, ErrInvalidKey, "value too large")
				for mode := ModeSet; mode <= ModePrepend; mode++ {
					_, err = m.Set(ctx, tt.key, nil, SetOptions{Mode: mode, CAS: 7})
					require.ErrorIs(t, err, ErrInvalidKey, "mode %d", mode)
				}
			}
		})
	}
}

func TestMemoryValueTooLarge(t *testing.T) {
	// Boundaries measured on memcached 1.6.18 with default settings: the
	// largest value is 1 MiB − 59 − key length, 4 bytes less with flags.
	tests := []struct {
		name  string
		key   string
		flags uint32
		max   int
	}{
		{"1-byte key", "k", 0, 1048516},
		{"10-byte key", strings.Repeat("k", 10), 0, 1048507},
		{"250-byte key", strings.Repeat("k", 250), 0, 1048267},
		{"1-byte key with flags", "k", 5, 1048512},
		{"250-byte key with flags", strings.Repeat("k", 250), 5, 1048263},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{})
			big := make([]byte, tt.max+1)
			_, err := m.Set(ctx, tt.key, big, SetOptions{Flags: tt.flags})
			require.ErrorIs(t, err, ErrValueTooLarge)
			requireMiss(t, m, tt.key)
			_, err = m.Set(ctx, tt.key, big[:tt.max], SetOptions{Flags: tt.flags})
			require.NoError(t, err)
			assert.Len(t, mustGet(t, m, tt.key, GetOptions{}).Value, tt.max)
			// A too large Set leaves the old item in place.
			_, err = m.Set(ctx, tt.key, big, SetOptions{Flags: tt.flags})
			require.ErrorIs(t, err, ErrValueTooLarge)
			assert.Len(t, mustGet(t, m, tt.key, GetOptions{}).Value, tt.max)
		})
	}

	t.Run("custom MaxItemSize", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxItemSize: 100})
		_, err := m.Set(ctx, "k", make([]byte, 100-60), SetOptions{})
		require.NoError(t, err)
		_, err = m.Set(ctx, "k", make([]byte, 100-59), SetOptions{})
		require.ErrorIs(t, err, ErrValueTooLarge)
	})
	t.Run("item larger than MaxBytes", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxBytes: 1000})
		_, err := m.Set(ctx, "k", make([]byte, 1000-128-1), SetOptions{})
		require.NoError(t, err)
		_, err = m.Set(ctx, "k", make([]byte, 1000-128), SetOptions{})
		require.ErrorIs(t, err, ErrValueTooLarge)
	})
	t.Run("append beyond the item size", func(t *testing.T) {
		// memcached answers NS and keeps the item.
		m := NewMemory(MemoryOptions{})
		mustSet(t, m, "ap", string(make([]byte, 1048000)), SetOptions{})
		_, err := m.Set(ctx, "ap", make([]byte, 516), SetOptions{Mode: ModeAppend})
		require.ErrorIs(t, err, ErrNotStored)
		assert.Len(t, mustGet(t, m, "ap", GetOptions{}).Value, 1048000)
		_, err = m.Set(ctx, "ap", make([]byte, 515), SetOptions{Mode: ModeAppend})
		require.NoError(t, err)
		assert.Len(t, mustGet(t, m, "ap", GetOptions{}).Value, 1048515)
	})
}

func TestMemoryCancelledContext(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mustSet(t, m, "n", "1", SetOptions{})
	mustSet(t, m, "s", "x", SetOptions{})

	_, err := m.Set(ctx, "k", []byte("v"), SetOptions{})
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = m.Get(ctx, "lease", GetOptions{Lease: time.Minute})
	require.ErrorIs(t, err, context.Canceled)
	_, err = m.GetMulti(ctx, []string{"s"})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, m.Delete(ctx, "s", DeleteOptions{}), context.Canceled)
	require.ErrorIs(t, m.Delete(ctx, "s", DeleteOptions{Invalidate: true}), context.Canceled)
	_, err = m.Incr(ctx, "n", 1, IncrOptions{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = m.Incr(ctx, "v", 1, IncrOptions{Vivify: true})
	require.ErrorIs(t, err, context.Canceled)

	// A bad key is reported as such whatever the context.
	_, _, err = m.Get(ctx, "bad key", GetOptions{})
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = m.Set(ctx, "bad key", nil, SetOptions{})
	require.ErrorIs(t, err, ErrInvalidKey)
	require.ErrorIs(t, m.Delete(ctx, "bad key", DeleteOptions{}), ErrInvalidKey)
	_, err = m.Incr(ctx, "bad key", 1, IncrOptions{Vivify: true})
	require.ErrorIs(t, err, ErrInvalidKey)

	// Then a value too large, then the context.
	_, err = m.Set(ctx, "k", make([]byte, 2<<20), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)

	dctx, dcancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer dcancel()
	_, err = m.Set(dctx, "k", []byte("v"), SetOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Nothing was written.
	requireMiss(t, m, "k")
	requireMiss(t, m, "lease")
	requireMiss(t, m, "v")
	it := mustGet(t, m, "s", GetOptions{})
	assert.False(t, it.Stale)
	assert.Equal(t, "1", string(mustGet(t, m, "n", GetOptions{}).Value))
}

// FuzzMemoryKey checks the key rule against an independent statement of
// it, and that valid keys are distinct items while invalid ones write
// nothing.
func FuzzMemoryKey(f *testing.F) {
	for _, k := range []string{"", "k", "a b", "a\r\nb", "\x00", "\x7f", "\x80", "clé", strings.Repeat("k", 250),
		strings.Repeat("k", 251), strings.Repeat("\x01", 186), strings.Repeat("\x01", 187)} {
		f.Add(k, false)
		f.Add(k, true)
	}
	f.Fuzz(func(t *testing.T, key string, binary bool) {
		text := len(key) >= 1 && len(key) <= 250
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] == 0x7f {
				text = false
			}
		}
		want := text || binary && len(key) >= 1 && len(key) <= 186

		m := NewMemory(MemoryOptions{BinaryKeys: binary})
		ctx := context.Background()
		_, err := m.Set(ctx, key, []byte(key), SetOptions{})
		if !want {
			require.ErrorIs(t, err, ErrInvalidKey)
			return
		}
		require.NoError(t, err)
		if len(key) < 186 {
			mustSet(t, m, key+"x", "other", SetOptions{})
		}
		assert.Equal(t, key, string(mustGet(t, m, key, GetOptions{}).Value))
	})
}
