package cachestruct

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plainCounting is a Memory that also has GetMultiPlain, and counts which
// multi-get each caller used.
type plainCounting struct {
	*Memory
	multi, plain atomic.Int64
}

func (p *plainCounting) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	p.multi.Add(1)
	return p.Memory.GetMulti(ctx, keys)
}

func (p *plainCounting) GetMultiPlain(ctx context.Context, keys []string) (map[string]Item, error) {
	p.plain.Add(1)
	items, err := p.Memory.GetMulti(ctx, keys)
	for k, it := range items {
		it.TTL, it.Won, it.Stale, it.Busy = TTLUnknown, false, false, false
		items[k] = it
	}
	return items, err
}

// TestStructuresUsePlainMultiGet: the structures that read only values
// multi-get through PlainMultiGetter when the store has it, and still work.
func TestStructuresUsePlainMultiGet(t *testing.T) {
	ctx := context.Background()
	s := &plainCounting{Memory: NewMemory(MemoryOptions{})}

	tags := NewTags(s, TagsConfig{})
	require.NoError(t, tags.Set(ctx, "page", []byte("v"), time.Minute, "news"))
	v, ok, err := tags.Get(ctx, "page", "news")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "v", string(v))

	log := NewEventLog(s, "log", EventLogConfig{})
	require.NoError(t, log.Append(ctx, []byte("e1")))
	events, err := log.Tail(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, events, 1)

	online := NewOnline(s, "online", OnlineConfig{})
	require.NoError(t, online.Hit(ctx, "u1"))
	n, err := online.Count(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "Count sums complete slots only")

	assert.Zero(t, s.multi.Load(), "no GetMulti when GetMultiPlain is there")
	assert.GreaterOrEqual(t, s.plain.Load(), int64(3))
}
