package deferred

// linkQueue is the FIFO of a Deferred's pending links, guarded by the
// Deferred's mutex. The pending links are, in order, inline[inHead:inLen]
// then spill[spHead:].
//
// The first two links live in the Deferred itself, so that a chain of one
// or two costs no allocation. Further links go to spill, which is allocated
// with room for minSpill more and never receives the inline links: growing
// beyond the inline array copies nothing, and a chain of ten costs one
// 128-byte allocation beside the Deferred. A link is pushed inline only
// while spill holds nothing, so every inline link is older than every link
// in spill.
//
// Popping does not clear slots one by one (while the GC runs, every pointer
// store costs a write barrier): when the inline part empties its two slots
// are cleared, and when spill empties it is dropped whole. So no reference
// to a function that already ran outlives the next time its part of the
// queue is empty.
type linkQueue[T any] struct {
	inline [2]link[T]
	spill  []link[T]
	// spHead is 32 bits so that the queue, with the two 8-bit inline
	// indexes, fits in 64 bytes and a Deferred of int in 128: the spill
	// then holds at most 2³² pending links (64 GiB of them).
	spHead        uint32
	inHead, inLen uint8
}

// minSpill is the capacity of the first spill array: eight links (128
// bytes), so that a chain of up to ten links costs one allocation besides
// the Deferred. Later arrays double with the pending count.
const minSpill = 8

// empty reports whether no link is pending.
func (q *linkQueue[T]) empty() bool {
	return q.inHead == q.inLen && int(q.spHead) == len(q.spill)
}

// peek returns the next pending link. The queue must not be empty.
func (q *linkQueue[T]) peek() link[T] {
	if q.inHead < q.inLen {
		return q.inline[q.inHead]
	}
	return q.spill[q.spHead]
}

// push appends l.
func (q *linkQueue[T]) push(l link[T]) {
	if len(q.spill) == 0 && int(q.inLen) < len(q.inline) {
		q.inline[q.inLen] = l
		q.inLen++
		return
	}
	if len(q.spill) == cap(q.spill) {
		// Grow and compact at once: links keep being added while the
		// chain runs, and the consumed prefix must not pile up. The new
		// array is twice the pending count (at least minSpill), so growth
		// is amortised O(1).
		pending := q.spill[q.spHead:]
		grown := make([]link[T], len(pending), max(minSpill, 2*len(pending)))
		copyLinks(grown, pending)
		q.spill, q.spHead = grown, 0
	}
	q.spill = append(q.spill, l)
}

// pop removes and returns the next pending link. The queue must not be
// empty.
func (q *linkQueue[T]) pop() link[T] {
	if q.inHead < q.inLen {
		l := q.inline[q.inHead]
		q.inHead++
		if q.inHead == q.inLen {
			q.clearInline()
		}
		return l
	}
	l := q.spill[q.spHead]
	q.spHead++
	if int(q.spHead) == len(q.spill) {
		q.spill, q.spHead = nil, 0
	}
	return l
}

// clearInline empties the inline part. The used slots are cleared one by
// one: assigning the whole array would take the bulk write barrier (see
// copyLinks).
func (q *linkQueue[T]) clearInline() {
	for i := range q.inLen {
		q.inline[i] = link[T]{}
	}
	q.inHead, q.inLen = 0, 0
}

// unpop puts ls back in front of the pending links, in order: the last
// links the runner popped and did not get to run. Only the runner pops, and
// it pops nothing between its pops and its unpop; other goroutines only
// push meanwhile.
func (q *linkQueue[T]) unpop(ls []link[T]) {
	k := len(ls)
	switch {
	case k == 0:
		return
	case int(q.inHead) >= k:
		// The inline part did not empty, so the last k pops were its
		// slots just before inHead.
		q.inHead -= uint8(k)
		copyLinks(q.inline[q.inHead:], ls)
		return
	case q.inHead == q.inLen && int(q.spHead) >= k:
		// The last k pops were the spill slots just before spHead: spill
		// was neither dropped (spHead would be 0) nor compacted since.
		q.spHead -= uint32(k)
		copyLinks(q.spill[q.spHead:], ls)
		return
	case len(q.spill) == 0 && k+int(q.inLen-q.inHead) <= len(q.inline):
		// Everything still fits inline (a callback early in a short chain
		// returned a Deferred without a result): ls, then the inline
		// links pushed meanwhile, with no allocation.
		var all [2]link[T]
		n := 0
		for _, l := range ls {
			all[n] = l
			n++
		}
		for _, l := range q.inline[q.inHead:q.inLen] {
			all[n] = l
			n++
		}
		for i := range q.inline {
			q.inline[i] = all[i]
		}
		q.inHead, q.inLen = 0, uint8(n)
		return
	}
	// Rebuild: ls, then the inline part, then spill, all in a new spill.
	inPending := q.inline[q.inHead:q.inLen]
	spPending := q.spill[q.spHead:]
	n := k + len(inPending) + len(spPending)
	grown := make([]link[T], n, max(minSpill, 2*n))
	copyLinks(grown, ls)
	copyLinks(grown[k:], inPending)
	copyLinks(grown[k+len(inPending):], spPending)
	q.clearInline()
	q.spill, q.spHead = grown, 0
}

// copyLinks is copy for links. Short slices are copied element by element:
// while the GC runs that costs one buffered write barrier per pointer,
// where copy sets up a bulk barrier whose cost dominated the growth of a
// ten-link chain.
func copyLinks[T any](dst, src []link[T]) {
	if len(src) > 16 {
		copy(dst, src)
		return
	}
	//lint:ignore S1001 deliberate: see the doc comment
	for i := range src {
		dst[i] = src[i]
	}
}
