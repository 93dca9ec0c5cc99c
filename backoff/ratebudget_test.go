package backoff

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retries counts how many retries b allows now, up to limit.
func retries(b *RateBudget, limit int) int {
	n := 0
	for n < limit && b.TryRetry() {
		n++
	}
	return n
}

func TestRateBudget(t *testing.T) {
	t.Run("floor without traffic", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var b RateBudget
			assert.InDelta(t, 100, b.Tokens(), 1e-9, "10/s over 10 s")
			assert.Equal(t, 100, retries(&b, 1000))
			assert.Zero(t, b.Tokens())
			// Withdrawals expire after the TTL.
			time.Sleep(5 * time.Second)
			assert.Zero(t, retries(&b, 1000))
			time.Sleep(5 * time.Second)
			assert.Equal(t, 100, retries(&b, 1000))
		})
	})
	t.Run("share of requests", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := RateBudget{Percent: 0.1, MinPerSecond: 1, TTL: 5 * time.Second}
			for range 1000 {
				b.RecordRequest()
			}
			// 10 % of 1000 plus 1/s over 5 s.
			assert.InDelta(t, 105, b.Tokens(), 1e-9)
			assert.Equal(t, 105, retries(&b, 1000))
			// Deposits expire too.
			time.Sleep(5 * time.Second)
			assert.Equal(t, 5, retries(&b, 1000))
		})
	})
	t.Run("sliding window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := RateBudget{Percent: 1, MinPerSecond: 1e-9, TTL: 3 * time.Second}
			for range 3 {
				for range 10 {
					b.RecordRequest()
				}
				time.Sleep(time.Second)
			}
			// The first second's deposits have expired, two seconds' remain.
			assert.Equal(t, 20, retries(&b, 1000))
		})
	})
	t.Run("injected clock", func(t *testing.T) {
		now := time.Unix(1000, 0)
		b := RateBudget{MinPerSecond: 1, TTL: 2 * time.Second, Now: func() time.Time { return now }}
		assert.Equal(t, 2, retries(&b, 10))
		now = now.Add(2 * time.Second)
		assert.Equal(t, 2, retries(&b, 10))
	})
	t.Run("out of range fields", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := RateBudget{Percent: 7, MinPerSecond: -1, TTL: time.Hour}
			// Defaults for Percent and MinPerSecond; TTL capped at 60 s.
			assert.InDelta(t, 600, b.Tokens(), 1e-9)
		})
	})
}

func TestRateBudgetRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &RateBudget{Percent: 0.5, MinPerSecond: 1e-9, TTL: time.Minute}
		// Each call deposits half a token: the first call cannot retry,
		// the second can, with the token the two calls made together.
		op, calls := failing(1, errTemp)
		require.ErrorIs(t, Retry(t.Context(), op, WithRateBudget(b), WithPolicy(Constant{})), ErrBudgetExhausted)
		assert.Equal(t, 1, *calls, "half a token is not enough for a retry")
		op, calls = failing(1, errTemp)
		require.NoError(t, Retry(t.Context(), op, WithRateBudget(b), WithPolicy(Constant{})))
		assert.Equal(t, 2, *calls)
		assert.Zero(t, b.Tokens())
		// Both budgets together: either can refuse.
		op, _ = failing(5, errTemp)
		err := Retry(t.Context(), op, WithRateBudget(b), WithBudget(&Budget{}), WithPolicy(Constant{}))
		require.ErrorIs(t, err, ErrBudgetExhausted)
		require.ErrorIs(t, err, errTemp)
	})
}

func TestRateBudgetConcurrent(t *testing.T) {
	b := RateBudget{Percent: 1, MinPerSecond: 1e-9, TTL: time.Minute}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				b.RecordRequest()
			}
		})
	}
	wg.Wait()
	var allowed sync.Map
	for g := range 8 {
		wg.Go(func() {
			allowed.Store(g, retries(&b, 4000))
		})
	}
	wg.Wait()
	total := 0
	allowed.Range(func(_, v any) bool { total += v.(int); return true })
	// 4000 tokens; at a second's boundary a few may be lost or taken twice.
	assert.InDelta(t, 4000, total, 40)
}
