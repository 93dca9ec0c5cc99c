package backoff

import (
	"math"
	"sync/atomic"
)

// Budget limits retries across many retry loops, typically one Budget per
// downstream service, in the manner of gRPC retry throttling: a bucket holds
// up to MaxTokens tokens and starts full; each failed attempt takes one
// token, each success puts back TokenRatio; retries are refused while the
// bucket holds MaxTokens/2 tokens or fewer. With the defaults (10 tokens,
// 0.1 per success) a healthy service that fails now and then keeps retrying,
// while a service that fails more than about one call in eleven soon sees
// only first attempts: the retry storm that keeps an overloaded server down
// never starts.
//
// The zero value is usable with the defaults. Set the fields before first
// use and do not change them afterwards. A Budget is safe for concurrent use
// by multiple goroutines; it is a single atomic word updated by
// compare-and-swap, with no lock. It must not be copied after first use.
type Budget struct {
	// MaxTokens is the size of the bucket; zero means 10. Tokens are counted
	// in thousandths, as gRPC does.
	MaxTokens float64
	// TokenRatio is the number of tokens a success puts back; zero means 0.1.
	TokenRatio float64

	// deficit is MaxTokens minus the tokens in the bucket, in thousandths:
	// counting what is missing lets the zero value start full.
	deficit atomic.Int64
}

const milli = 1000

func (b *Budget) limits() (full, ratio int64) {
	full, ratio = 10*milli, milli/10
	if m := b.MaxTokens; m > 0 && m < math.MaxInt64/(4*milli) {
		full = max(int64(m*milli), 1)
	}
	if r := b.TokenRatio; r > 0 && r < math.MaxInt64/(4*milli) {
		ratio = max(int64(r*milli), 1)
	}
	return full, ratio
}

// Allow reports whether a retry may be made now: whether the bucket holds
// more than MaxTokens/2 tokens. First attempts should not ask.
func (b *Budget) Allow() bool {
	full, _ := b.limits()
	return full-b.deficit.Load() > full/2
}

// RecordFailure takes one token from the bucket, if any is left.
func (b *Budget) RecordFailure() {
	full, _ := b.limits()
	for {
		d := b.deficit.Load()
		if d >= full {
			return
		}
		if b.deficit.CompareAndSwap(d, min(d+milli, full)) {
			return
		}
	}
}

// RecordSuccess puts TokenRatio tokens back, up to MaxTokens.
func (b *Budget) RecordSuccess() {
	_, ratio := b.limits()
	for {
		d := b.deficit.Load()
		if d <= 0 {
			return
		}
		if b.deficit.CompareAndSwap(d, max(d-ratio, 0)) {
			return
		}
	}
}

// Tokens returns the number of tokens in the bucket.
func (b *Budget) Tokens() float64 {
	full, _ := b.limits()
	return float64(full-b.deficit.Load()) / milli
}
