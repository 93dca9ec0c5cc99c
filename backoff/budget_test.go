package backoff

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBudget(t *testing.T) {
	t.Run("zero value", func(t *testing.T) {
		var b Budget
		assert.InDelta(t, 10, b.Tokens(), 1e-9)
		assert.True(t, b.Allow())
		for range 4 {
			b.RecordFailure()
		}
		assert.True(t, b.Allow(), "6 tokens > 5")
		b.RecordFailure()
		assert.False(t, b.Allow(), "5 tokens is not more than half")
		for range 20 {
			b.RecordFailure()
		}
		assert.Zero(t, b.Tokens(), "the bucket does not go below empty")
		for range 51 {
			b.RecordSuccess()
		}
		assert.InDelta(t, 5.1, b.Tokens(), 1e-9)
		assert.True(t, b.Allow())
		for range 100 {
			b.RecordSuccess()
		}
		assert.InDelta(t, 10, b.Tokens(), 1e-9, "nor above full")
	})
	t.Run("configured", func(t *testing.T) {
		b := Budget{MaxTokens: 3, TokenRatio: 0.5}
		assert.InDelta(t, 3, b.Tokens(), 1e-9)
		b.RecordFailure()
		assert.True(t, b.Allow())
		b.RecordFailure()
		assert.False(t, b.Allow())
		b.RecordSuccess()
		assert.False(t, b.Allow(), "1.5 tokens is not more than half")
		b.RecordSuccess()
		assert.True(t, b.Allow())
	})
	t.Run("steady failure share", func(t *testing.T) {
		// The break-even failure share is 1/11 with the defaults: one
		// failure in twelve keeps retries allowed, one in ten does not.
		for _, tt := range []struct {
			every int
			allow bool
		}{{12, true}, {10, false}} {
			var b Budget
			for i := range 1000 {
				if i%tt.every == 0 {
					b.RecordFailure()
				} else {
					b.RecordSuccess()
				}
			}
			assert.Equal(t, tt.allow, b.Allow(), "one failure in %d", tt.every)
		}
	})
}

func TestBudgetConcurrent(t *testing.T) {
	b := Budget{MaxTokens: 1000, TokenRatio: 1}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.RecordFailure()
				b.RecordSuccess()
				_ = b.Allow()
			}
		})
	}
	wg.Wait()
	// Each pair is net zero from a full bucket only if no clamp happened;
	// failures never empty a 1000-token bucket here, so it is full again.
	require.InDelta(t, 1000, b.Tokens(), 1e-9)

	var c Budget
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.RecordFailure()
			}
		})
	}
	wg.Wait()
	assert.Zero(t, c.Tokens())
}
