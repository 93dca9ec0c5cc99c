package deferred

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// queueOps drives a linkQueue and a slice model with the same operations
// and checks that they agree. Each byte is one operation: push, a batch of
// pops (as the runner takes one), or an unpop of the last links of the
// latest batch (as the runner gives back what a pause or a wait left).
// Pushes may come between a batch and its unpop, as from other goroutines;
// pops may not, as only the runner pops.
func queueOps(t *testing.T, ops []byte) {
	t.Helper()
	var q linkQueue[int]
	var model []int
	var batch []link[int]
	next := 0
	for _, op := range ops {
		arg := int(op / 3)
		switch op % 3 {
		case 0:
			for range arg%3 + 1 {
				q.push(link[int]{next})
				model = append(model, next)
				next++
			}
		case 1:
			batch = batch[:0]
			for range arg%20 + 1 {
				if len(model) == 0 {
					break
				}
				require.Equal(t, model[0], q.peek().fn)
				batch = append(batch, q.pop())
				model = model[1:]
			}
		case 2:
			k := arg % (len(batch) + 1)
			back := batch[len(batch)-k:]
			q.unpop(back)
			front := make([]int, 0, k+len(model))
			for _, l := range back {
				front = append(front, l.fn.(int))
			}
			model = append(front, model...)
			batch = batch[:0]
		}
		require.Equal(t, len(model) == 0, q.empty())
	}
	for _, want := range model {
		require.False(t, q.empty())
		require.Equal(t, want, q.pop().fn)
	}
	require.True(t, q.empty())
	// An empty queue keeps no reference to a link.
	require.Equal(t, [2]link[int]{}, q.inline)
	require.Nil(t, q.spill)
}

// TestLinkQueue checks the pending-link FIFO against a slice through the
// shapes that matter: staying inline, spilling, growing, and unpopping into
// the inline part, into spill, and across both (a rebuild).
func TestLinkQueue(t *testing.T) {
	tests := []struct {
		name string
		ops  []byte
	}{
		{"inline only", []byte{0, 1}},
		{"spill", []byte{6, 6, 6, 6, 1 + 3*19}},
		{"grow past the first spill", []byte{6, 6, 6, 6, 6, 6, 6, 6, 1 + 3*19, 1 + 3*19}},
		{"unpop inline", []byte{3, 1, 2 + 3*1, 1 + 3*5}},
		{"unpop spill", []byte{6, 6, 6, 1 + 3*3, 2 + 3*2, 1 + 3*19}},
		{"unpop across inline and spill", []byte{6, 6, 1 + 3*5, 2 + 3*4, 1 + 3*19}},
		{"push between pop and unpop", []byte{6, 6, 1 + 3*19, 6, 6, 2 + 3*3, 1 + 3*19}},
		{"unpop after the spill was dropped", []byte{6, 6, 1 + 3*5, 0, 2 + 3*2, 1 + 3*19}},
		{"unpop after the inline part emptied, fitting inline", []byte{3, 1 + 3*1, 0, 2 + 3*1, 1 + 3*19}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queueOps(t, tt.ops)
		})
	}
}

// FuzzLinkQueue checks the pending-link FIFO against a slice for arbitrary
// sequences of pushes, runner batches and unpops.
func FuzzLinkQueue(f *testing.F) {
	f.Add([]byte{0, 1, 2})
	f.Add([]byte{6, 6, 6, 1 + 3*4, 3, 2 + 3*3, 1 + 3*19})
	f.Add([]byte{6, 6, 6, 6, 6, 6, 6, 6, 1 + 3*7, 6, 6, 6, 2 + 3*7, 1, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		queueOps(t, ops)
	})
}
