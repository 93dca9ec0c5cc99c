package main

import (
	"container/heap"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"text/tabwriter"
	"time"

	"github.com/twine-go/twine/backoff"
)

// contentionConfig describes the AWS Architecture Blog's simulation
// ("Exponential Backoff And Jitter"): each client makes one
// optimistic-concurrency update of a single row: it reads the row's version,
// then writes conditionally on that version; a conflict (someone else wrote
// first) sends it back, after a backoff, to read again.
type contentionConfig struct {
	Clients int
	Runs    int           // runs averaged per strategy
	NetMean time.Duration // one-way network delay |N(mean, sd)|
	NetSD   time.Duration
	Base    time.Duration
	Cap     time.Duration
	Seed    uint64
}

func defaultContention() contentionConfig {
	return contentionConfig{
		Clients: 100,
		Runs:    100,
		NetMean: 10 * time.Millisecond,
		NetSD:   2 * time.Millisecond,
		Base:    5 * time.Millisecond,
		Cap:     2 * time.Second,
		Seed:    1,
	}
}

type contentionStrategy struct {
	Name   string
	Policy func(cfg contentionConfig) backoff.Policy
}

// contentionStrategies are the blog's five, as policies of package backoff.
// The blog's exponential delays are min(cap, base·2ⁿ) with n from 1, so
// the first is 2·base: Exponential with Base 2·base gives the same series.
func contentionStrategies() []contentionStrategy {
	exp := func(j backoff.Jitter) func(contentionConfig) backoff.Policy {
		return func(c contentionConfig) backoff.Policy {
			return backoff.Exponential{Base: 2 * c.Base, Max: c.Cap, Jitter: j}
		}
	}
	return []contentionStrategy{
		{Name: "no backoff", Policy: func(contentionConfig) backoff.Policy { return backoff.Constant{} }},
		{Name: "exponential", Policy: exp(backoff.NoJitter)},
		{Name: "full jitter", Policy: exp(backoff.FullJitter)},
		{Name: "equal jitter", Policy: exp(backoff.EqualJitter)},
		{Name: "decorrelated jitter", Policy: func(c contentionConfig) backoff.Policy {
			return backoff.Exponential{Base: c.Base, Max: c.Cap, Jitter: backoff.DecorrelatedJitter}
		}},
	}
}

type contentionResult struct {
	Strategy string  `json:"strategy"`
	Calls    float64 `json:"calls"`   // conditional writes per run, on average
	Seconds  float64 `json:"seconds"` // time until the last client is done, on average
}

type occKind uint8

const (
	occRead      occKind = iota // a read reaches the server
	occReadResp                 // the version reaches the client
	occWrite                    // a conditional write reaches the server
	occWriteResp                // the outcome reaches the client
)

type occEvent struct {
	at      float64 // milliseconds
	seq     uint64
	kind    occKind
	client  int32
	version int64
	ok      bool
}

func (e occEvent) order() (float64, uint64) { return e.at, e.seq }

func runContention(cfg contentionConfig, strat contentionStrategy) contentionResult {
	src := rand.NewPCG(cfg.Seed, 0xa35)
	rng := rand.New(src)
	policy := strat.Policy(cfg)
	mean, sd := float64(cfg.NetMean)/1e6, float64(cfg.NetSD)/1e6
	net := func() float64 { return math.Abs(rng.NormFloat64()*sd + mean) }

	var calls, total float64
	seqs := make([]backoff.Sequence, cfg.Clients)
	for range cfg.Runs {
		var q queue[occEvent]
		var n uint64
		push := func(e occEvent) {
			n++
			e.seq = n
			heap.Push(&q, e)
		}
		for i := range seqs {
			seqs[i] = policy.Start(src)
			push(occEvent{at: net(), kind: occRead, client: int32(i)})
		}
		version := int64(0)
		now := 0.0
		for q.Len() > 0 {
			e := heap.Pop(&q).(occEvent)
			now = e.at
			switch e.kind {
			case occRead:
				push(occEvent{at: now + net(), kind: occReadResp, client: e.client, version: version})
			case occReadResp:
				push(occEvent{at: now + net(), kind: occWrite, client: e.client, version: e.version})
			case occWrite:
				calls++
				ok := e.version == version
				if ok {
					version++
				}
				push(occEvent{at: now + net(), kind: occWriteResp, client: e.client, ok: ok})
			case occWriteResp:
				if !e.ok {
					d := float64(seqs[e.client].Next()) / 1e6
					push(occEvent{at: now + net() + d, kind: occRead, client: e.client})
				}
			}
		}
		total += now
	}
	runs := float64(cfg.Runs)
	return contentionResult{Strategy: strat.Name, Calls: calls / runs, Seconds: total / runs / 1000}
}

func writeContentionTable(w io.Writer, cfg contentionConfig, results []contentionResult) error {
	fmt.Fprintf(w, "AWS contention: %d clients, one OCC update each; network |N(%v, %v)|; base %v, cap %v; mean of %d runs; seed %d\n\n",
		cfg.Clients, cfg.NetMean, cfg.NetSD, cfg.Base, cfg.Cap, cfg.Runs, cfg.Seed)
	var exp contentionResult
	for _, r := range results {
		if r.Strategy == "exponential" {
			exp = r
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tcalls\ttime\tcalls vs exponential\ttime vs exponential\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f s\t%.2f×\t%.2f×\t\n", r.Strategy, r.Calls, r.Seconds, exp.Calls/r.Calls, exp.Seconds/r.Seconds)
	}
	return tw.Flush()
}
