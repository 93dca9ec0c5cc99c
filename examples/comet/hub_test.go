package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/deferred"
)

// result reads a fired Deferred's outcome and fails the test if it has
// none yet.
func result(t *testing.T, d *deferred.Deferred[Message]) (Message, error) {
	t.Helper()
	m, err, ok := d.Result()
	require.True(t, ok, "the Deferred has fired")
	return m, err
}

func TestHubPublishFiresEveryWaitingSubscriber(t *testing.T) {
	h := NewHub()
	subs := []*deferred.Deferred[Message]{h.Subscribe(0), h.Subscribe(0), h.Subscribe(0)}
	assert.Equal(t, 3, h.Waiting())
	for _, d := range subs {
		_, _, ok := d.Result()
		assert.False(t, ok, "nothing published yet")
	}

	msg, delivered, _ := h.Publish("hello")
	assert.Equal(t, Message{ID: 1, Text: "hello"}, msg)
	assert.Equal(t, 3, delivered)
	assert.Zero(t, h.Waiting(), "fired subscribers leave the hub")
	for _, d := range subs {
		m, err := result(t, d)
		require.NoError(t, err)
		assert.Equal(t, msg, m)
	}

	_, delivered, _ = h.Publish("nobody listens")
	assert.Zero(t, delivered)
}

func TestHubCancelRemovesSubscriber(t *testing.T) {
	h := NewHub()
	d := h.Subscribe(0)
	keep := h.Subscribe(0)
	d.Cancel()
	assert.Equal(t, 1, h.Waiting())
	_, err := result(t, d)
	require.ErrorIs(t, err, deferred.ErrCancelled)

	_, delivered, _ := h.Publish("x")
	assert.Equal(t, 1, delivered, "only the subscriber still waiting")
	m, err := result(t, keep)
	require.NoError(t, err)
	assert.Equal(t, "x", m.Text)
}

func TestHubSince(t *testing.T) {
	h := NewHub()
	for i := 1; i <= 3; i++ {
		h.Publish(fmt.Sprint("m", i))
	}
	tests := []struct {
		name   string
		since  uint64
		wantID uint64 // 0: waits for the next message
	}{
		{"next unseen message", 1, 2},
		{"from the first", 0, 0},
		{"all seen: waits", 3, 0},
		{"from the future (server restarted): waits", 99, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := h.Subscribe(tt.since)
			m, err, ok := d.Result()
			if tt.wantID == 0 {
				assert.False(t, ok)
				d.Cancel()
				_, err := result(t, d)
				require.ErrorIs(t, err, deferred.ErrCancelled)
				return
			}
			require.True(t, ok)
			require.NoError(t, err)
			assert.Equal(t, tt.wantID, m.ID)
		})
	}
}

func TestHubHistoryIsBounded(t *testing.T) {
	h := NewHub()
	for i := range historySize + 10 {
		h.Publish(fmt.Sprint(i))
	}
	assert.Len(t, h.history, historySize)
	m, err := result(t, h.Subscribe(1))
	require.NoError(t, err)
	assert.Equal(t, uint64(11), m.ID, "the oldest retained message; the gap shows in the ids")
}

func TestHubClose(t *testing.T) {
	h := NewHub()
	d := h.Subscribe(0)
	h.Close()
	_, err := result(t, d)
	require.ErrorIs(t, err, deferred.ErrCancelled)
	assert.Zero(t, h.Waiting())
	_, err = result(t, h.Subscribe(0))
	require.ErrorIs(t, err, deferred.ErrCancelled, "subscribing after Close fails at once")
}

func TestHubPublishRacingCancel(t *testing.T) {
	// Subscribers cancel while messages are published: each one ends with
	// exactly one outcome, and none stays in the hub.
	h := NewHub()
	const n = 200
	subs := make([]*deferred.Deferred[Message], n)
	for i := range subs {
		subs[i] = h.Subscribe(0)
	}
	var wg sync.WaitGroup
	for i, d := range subs {
		if i%2 == 0 {
			wg.Go(d.Cancel)
		}
	}
	wg.Go(func() { h.Publish("race") })
	wg.Wait()
	h.Publish("late")
	assert.Zero(t, h.Waiting())
	got, cancelled := 0, 0
	for _, d := range subs {
		m, err := result(t, d)
		if err != nil {
			require.ErrorIs(t, err, deferred.ErrCancelled)
			cancelled++
			continue
		}
		assert.Contains(t, []string{"race", "late"}, m.Text)
		got++
	}
	assert.Equal(t, n, got+cancelled)
	assert.GreaterOrEqual(t, got, n/2, "the odd ones were never cancelled")
}

func BenchmarkHub(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := NewHub()
			subs := make([]*deferred.Deferred[Message], n)
			b.ReportAllocs()
			for b.Loop() {
				for i := range subs {
					subs[i] = h.Subscribe(0)
				}
				h.Publish("tick")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscriber")
		})
	}
}

// chanHub is the baseline for BenchmarkHub: the same hub with a buffered
// channel per subscriber instead of a Deferred (no cancellation, no
// timeout, no chain), to price what the Deferred costs.
type chanHub struct {
	mu      sync.Mutex
	waiting map[chan Message]struct{}
	lastID  uint64
}

func (h *chanHub) subscribe() chan Message {
	c := make(chan Message, 1)
	h.mu.Lock()
	h.waiting[c] = struct{}{}
	h.mu.Unlock()
	return c
}

func (h *chanHub) publish(text string) {
	h.mu.Lock()
	h.lastID++
	msg := Message{ID: h.lastID, Text: text}
	waiting := h.waiting
	h.waiting = make(map[chan Message]struct{}, len(waiting))
	h.mu.Unlock()
	for c := range waiting {
		c <- msg
	}
}

func BenchmarkChanHub(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := &chanHub{waiting: map[chan Message]struct{}{}}
			b.ReportAllocs()
			for b.Loop() {
				for range n {
					h.subscribe()
				}
				h.publish("tick")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscriber")
		})
	}
}

// FuzzHub runs random sequences of Subscribe, Cancel and Publish and checks
// the hub against a model: who is waiting, who got which message, and that
// every subscriber ends with exactly one outcome.
func FuzzHub(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 0, 2})
	f.Add([]byte{0, 1, 1, 2, 2, 0, 0, 0, 1, 2})
	f.Add([]byte{3, 0, 2, 3, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		h := NewHub()
		var (
			subs      []*deferred.Deferred[Message]
			want      []uint64 // message id each subscriber must get; 0 waiting, ^0 cancelled
			published uint64
		)
		for _, op := range ops {
			switch op % 4 {
			case 0: // subscribe for the next message
				subs = append(subs, h.Subscribe(0))
				want = append(want, 0)
			case 1: // cancel the oldest waiting subscriber
				for i, w := range want {
					if w == 0 {
						subs[i].Cancel()
						want[i] = ^uint64(0)
						break
					}
				}
			case 2: // publish
				published++
				_, delivered, _ := h.Publish(fmt.Sprint(published))
				n := 0
				for i, w := range want {
					if w == 0 {
						want[i] = published
						n++
					}
				}
				require.Equal(t, n, delivered)
			case 3: // catch up from the previous message
				if published > 1 {
					d := h.Subscribe(published - 1)
					m, err := result(t, d)
					require.NoError(t, err)
					require.Equal(t, published, m.ID)
				}
			}
			waiting := 0
			for _, w := range want {
				if w == 0 {
					waiting++
				}
			}
			require.Equal(t, waiting, h.Waiting())
		}
		h.Close()
		for i, d := range subs {
			m, err, ok := d.Result()
			require.True(t, ok, "every subscriber has an outcome after Close")
			switch want[i] {
			case 0, ^uint64(0):
				require.ErrorIs(t, err, deferred.ErrCancelled)
			default:
				require.NoError(t, err)
				require.Equal(t, want[i], m.ID)
			}
		}
	})
}
