package main

// timed is an event of a discrete-event simulation, ordered by its time and
// then by the order it was scheduled in, so that ties are deterministic.
type timed interface {
	order() (at float64, seq uint64)
}

// queue is a container/heap of events, earliest first.
type queue[E timed] []E

func (q queue[E]) Len() int { return len(q) }
func (q queue[E]) Less(i, j int) bool {
	ai, si := q[i].order()
	aj, sj := q[j].order()
	if ai != aj {
		return ai < aj
	}
	return si < sj
}
func (q queue[E]) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue[E]) Push(x any)   { *q = append(*q, x.(E)) }
func (q *queue[E]) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
