package cachestruct

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errStaleToken is fencedResource's refusal.
var errStaleToken = errors.New("stale fencing token")

// fencedResource is the protected resource of the fencing proofs: it
// remembers the largest token it has accepted and refuses smaller ones.
type fencedResource struct {
	mu     sync.Mutex
	last   uint64
	writes []string
}

func (r *fencedResource) Write(token uint64, v string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if token < r.last {
		return errStaleToken
	}
	r.last = token
	r.writes = append(r.writes, v)
	return nil
}

// TestLockFencingPausedHolder: a holder paused past its TTL wakes up still
// believing it holds the lock; its successor has written with a larger
// token, so the resource refuses the paused holder's write.
func TestLockFencingPausedHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		var res fencedResource
		a := NewLock(store, "job", LockConfig{TTL: time.Second, Fencing: true, Owner: "a"})
		b := NewLock(store, "job", LockConfig{TTL: time.Second, Fencing: true, Owner: "b"})

		ha, err := a.TryLock(ctx)
		require.NoError(t, err)
		require.NotZero(t, ha.Token())
		require.NoError(t, res.Write(ha.Token(), "a1"))

		time.Sleep(2 * time.Second) // a is paused past its TTL
		hb, err := b.TryLock(ctx)
		require.NoError(t, err)
		require.Greater(t, hb.Token(), ha.Token())
		require.NoError(t, res.Write(hb.Token(), "b1"))

		// a resumes and writes with its stale token: refused.
		require.ErrorIs(t, res.Write(ha.Token(), "a2"), errStaleToken)
		require.ErrorIs(t, ha.Unlock(ctx), ErrNotHeld)
		require.NoError(t, hb.Unlock(ctx))
		assert.Equal(t, []string{"a1", "b1"}, res.writes)

		it, found, err := store.Get(ctx, "job:fence", GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, hb.Token(), mustUint(t, it.Value), "the counter holds the last token")
	})
}

func mustUint(t *testing.T, b []byte) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(string(b), 10, 64)
	require.NoError(t, err)
	return n
}

// TestLockFencingMonotonic: tokens grow across release, expiry, eviction
// of the lock item while held, and eviction of the counter itself (then
// reseeded from the clock, past every earlier token).
func TestLockFencingMonotonic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		l := NewLock(store, "job", LockConfig{TTL: time.Second, Fencing: true})
		var last uint64
		take := func(what string) *Held {
			t.Helper()
			h, err := l.TryLock(ctx)
			require.NoError(t, err, what)
			require.Greater(t, h.Token(), last, what)
			last = h.Token()
			it, _, err := store.Get(ctx, "job", GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, h.Owner()+" "+itoa(h.Token()), string(it.Value), "the lock's value names owner and token")
			return h
		}
		for range 3 {
			require.NoError(t, take("released").Unlock(ctx))
		}
		take("expires")
		time.Sleep(2 * time.Second)
		take("evicted while held")
		require.NoError(t, store.Delete(ctx, "job", DeleteOptions{}))
		h := take("after eviction of the lock")
		require.NoError(t, h.Extend(ctx, time.Minute), "Extend keeps the token in the value")
		it, _, err := store.Get(ctx, "job", GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, h.Owner()+" "+itoa(h.Token()), string(it.Value))
		require.NoError(t, h.Unlock(ctx))

		time.Sleep(time.Nanosecond)
		require.NoError(t, store.Delete(ctx, "job:fence", DeleteOptions{})) // counter evicted
		take("after eviction of the counter")
		assert.Equal(t, uint64(time.Now().UnixNano()), last, "reseeded from the clock")
	})
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestLockFencingLostBeforeConfirm: an acquisition whose lock item
// disappears between the add and the confirmation reports ErrLocked
// rather than hand out a token that may be older than a later holder's.
func TestLockFencingLostBeforeConfirm(t *testing.T) {
	ctx := context.Background()
	mem := NewMemory(MemoryOptions{})
	store := &hookIncrStore{Store: mem, afterIncr: func() {
		// Between the increment and the confirmation, the item is
		// evicted and another owner takes the lock.
		require.NoError(t, mem.Delete(ctx, "job", DeleteOptions{}))
		_, err := mem.Set(ctx, "job", []byte("other"), SetOptions{Mode: ModeAdd})
		require.NoError(t, err)
	}}
	_, err := NewLock(store, "job", LockConfig{Fencing: true}).TryLock(ctx)
	require.ErrorIs(t, err, ErrLocked)
	it, _, err := mem.Get(ctx, "job", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "other", string(it.Value), "the other owner's lock is untouched")

	long := strings.Repeat("k", 245)
	_, err = NewLock(mem, long, LockConfig{Fencing: true}).TryLock(ctx)
	require.ErrorIs(t, err, ErrInvalidKey, "no room for the counter's key")
	_, found, err := mem.Get(ctx, long, GetOptions{})
	require.NoError(t, err)
	assert.False(t, found, "the lock item is removed again")
}

// hookIncrStore runs afterIncr after each Incr.
type hookIncrStore struct {
	Store
	afterIncr func()
}

func (s *hookIncrStore) Incr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error) {
	n, err := s.Store.Incr(ctx, key, delta, opt)
	s.afterIncr()
	return n, err
}
