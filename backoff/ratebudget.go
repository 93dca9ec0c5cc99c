package backoff

import (
	"math"
	"sync/atomic"
	"time"
)

// RateBudget limits retries to a share of recent requests plus a floor per
// second, in the manner of Finagle's RetryBudget: each request (a first
// attempt) deposits Percent of a token, each retry withdraws a whole token,
// and both count only for TTL; on top of the deposits, MinPerSecond·TTL
// retries per TTL are always allowed, so that a service with little traffic
// can still retry. With the defaults (20 %, 10/s, 10 s) retries never add
// more than about a fifth to the load on a busy server, however many
// requests fail.
//
// Where [Budget] reacts to failures (it stops retries when too many
// attempts fail), RateBudget bounds the retry traffic itself whatever the
// outcomes; Retry consults both when given both.
//
// The zero value is usable with the defaults. Set the fields before first
// use and do not change them afterwards. A RateBudget is safe for concurrent
// use by multiple goroutines: it keeps per-second counters in atomic words,
// with no lock. Under contention at a second's boundary a deposit or a
// withdrawal may be lost, and two goroutines may both take the last token:
// the limit is approximate by a few tokens, never by a share. It must not be
// copied after first use.
type RateBudget struct {
	// Percent is the share of requests that may be retried, in (0, 1];
	// zero means 0.2.
	Percent float64
	// MinPerSecond is the number of retries per second allowed whatever
	// the traffic; zero means 10.
	MinPerSecond float64
	// TTL is how long deposits and withdrawals count, in whole seconds
	// from 1 s to 60 s; zero means 10 s.
	TTL time.Duration
	// Now returns the current time; nil means time.Now. Simulations set
	// it to their own clock.
	Now func() time.Time

	slots [maxRateSlots]rateSlot
}

const maxRateSlots = 60

// rateSlot counts one second, in thousandths of a token.
type rateSlot struct {
	second      atomic.Int64
	deposits    atomic.Int64
	withdrawals atomic.Int64
}

func (b *RateBudget) params() (deposit, reserve, slots int64) {
	percent := b.Percent
	if !(percent > 0 && percent <= 1) {
		percent = 0.2
	}
	perSecond := b.MinPerSecond
	if !(perSecond > 0 && perSecond < math.MaxInt32) {
		perSecond = 10
	}
	slots = 10
	if b.TTL > 0 {
		slots = min(max(int64((b.TTL+time.Second-1)/time.Second), 1), maxRateSlots)
	}
	return int64(percent * milli), int64(perSecond * float64(slots) * milli), slots
}

func (b *RateBudget) second() int64 {
	if b.Now != nil {
		return b.Now().UnixNano() / int64(time.Second)
	}
	return time.Now().UnixNano() / int64(time.Second)
}

// slot returns the counters of second sec, clearing them if they last
// counted an older second.
func (b *RateBudget) slot(sec, slots int64) *rateSlot {
	s := &b.slots[uint64(sec)%uint64(slots)]
	if old := s.second.Load(); old != sec && s.second.CompareAndSwap(old, sec) {
		s.deposits.Store(0)
		s.withdrawals.Store(0)
	}
	return s
}

// RecordRequest deposits Percent of a token for a request's first attempt.
func (b *RateBudget) RecordRequest() {
	deposit, _, slots := b.params()
	b.slot(b.second(), slots).deposits.Add(deposit)
}

// TryRetry reports whether a retry may be made now and, if so, withdraws a
// token for it.
func (b *RateBudget) TryRetry() bool {
	_, reserve, slots := b.params()
	sec := b.second()
	if b.balance(sec, reserve, slots) < milli {
		return false
	}
	b.slot(sec, slots).withdrawals.Add(milli)
	return true
}

// Tokens returns the number of retries the budget would allow now.
func (b *RateBudget) Tokens() float64 {
	_, reserve, slots := b.params()
	return float64(max(b.balance(b.second(), reserve, slots), 0)) / milli
}

// balance is the reserve plus the deposits less the withdrawals of the
// last slots seconds, in thousandths.
func (b *RateBudget) balance(sec, reserve, slots int64) int64 {
	bal := reserve
	for i := range slots {
		s := &b.slots[uint64(sec-i)%uint64(slots)]
		if s.second.Load() == sec-i {
			bal += s.deposits.Load() - s.withdrawals.Load()
		}
	}
	return bal
}
