package main

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twine-go/twine/backoff"
)

// outageConfig describes the backoff article's experiment: clients that think, call
// a server with limited concurrency, time out, and retry with a strategy;
// the server pauses for a while in the middle of the run.
type outageConfig struct {
	Clients      int           // number of clients
	Think        time.Duration // mean of the exponential think time between requests
	Timeout      time.Duration // client-side request timeout
	Capacity     float64       // server throughput in requests per second when not overloaded
	Service      time.Duration // service time of one request; Capacity·Service workers
	Slowdown     float64       // service time factor per SlowdownPer waiting requests
	SlowdownPer  float64
	SlowdownMax  float64       // cap on the service time factor
	OutageStart  time.Duration // when the server pauses
	Outage       time.Duration // how long it stays paused
	Duration     time.Duration // length of the run
	Window       time.Duration // quiet time needed at the end to call the run recovered
	DropExpired  bool          // server skips requests that cannot finish before their client's timeout
	SharedBudget bool          // one Budget for all clients instead of one per client
	Seed         uint64
}

func defaultOutage() outageConfig {
	return outageConfig{
		Clients:     1000,
		Think:       10 * time.Second,
		Timeout:     2 * time.Second,
		Capacity:    300,
		Service:     100 * time.Millisecond,
		Slowdown:    1.05,
		SlowdownPer: 15,
		SlowdownMax: 1.1,
		OutageStart: 10 * time.Second,
		Outage:      10 * time.Second,
		Duration:    120 * time.Second,
		Window:      10 * time.Second,
		Seed:        1,
	}
}

// strategy is how a client waits between attempts: a policy of the backoff
// package, optionally with a retry Budget.
type strategy struct {
	Name   string
	Policy backoff.Policy
	Budget bool // a backoff.Budget per client (or one shared, -shared-budget)
	Rate   bool // one backoff.RateBudget for all clients
}

func strategies() []strategy {
	ms := time.Millisecond
	// The article's exponential backoff: ×e from 100 ms up to 5 minutes.
	articleExp := backoff.Exponential{Base: 100 * ms, Multiplier: math.E, Max: 5 * time.Minute, Jitter: backoff.NoJitter}
	// The package's defaults (100 ms, ×2), with the article's 5-minute cap.
	jittered := func(j backoff.Jitter) backoff.Exponential {
		return backoff.Exponential{Base: 100 * ms, Max: 5 * time.Minute, Jitter: j}
	}
	return []strategy{
		{Name: "fixed 100ms", Policy: backoff.Constant{Delay: 100 * ms}},
		{Name: "fixed 1s", Policy: backoff.Constant{Delay: time.Second}},
		{Name: "exponential", Policy: articleExp},
		{Name: "full jitter", Policy: jittered(backoff.FullJitter)},
		{Name: "equal jitter", Policy: jittered(backoff.EqualJitter)},
		{Name: "decorrelated jitter", Policy: jittered(backoff.DecorrelatedJitter)},
		{Name: "grpc", Policy: backoff.GRPC()},
		{Name: "fixed 100ms + budget", Policy: backoff.Constant{Delay: 100 * ms}, Budget: true},
		{Name: "full jitter + budget", Policy: jittered(backoff.FullJitter), Budget: true},
		{Name: "fixed 100ms + rate budget", Policy: backoff.Constant{Delay: 100 * ms}, Rate: true},
	}
}

// outageResult is what one strategy did over the run.
type outageResult struct {
	Strategy        string  `json:"strategy"`
	Recovered       bool    `json:"recovered"`
	RecoverySeconds float64 `json:"recovery_seconds"` // after the outage ends; -1 if not recovered
	PeakRPS         float64 `json:"peak_rps"`
	Requests        int     `json:"requests"`
	P99Seconds      float64 `json:"p99_seconds"` // first try to success; requests under way at the end count with their age
	GaveUp          int     `json:"gave_up"`     // requests abandoned because the budget refused a retry
	Wasted          int     `json:"wasted"`      // requests the server served after their client gave up

	// Per-second series for the plot.
	Offered []float64 `json:"-"`
	Goodput []float64 `json:"-"`
}

// Events of the outage simulation.
type eventKind uint8

const (
	evThink    eventKind = iota // a client starts a new request
	evSend                      // a client sends an attempt (first or retry)
	evTimeout                   // an attempt's timeout fires
	evComplete                  // the server finishes a request
	evResume                    // the server resumes after the outage
)

type event struct {
	at     float64 // seconds
	seq    uint64  // insertion order, so that ties are deterministic
	kind   eventKind
	client int32
	req    int64
}

func (e event) order() (float64, uint64) { return e.at, e.seq }

type client struct {
	seq     backoff.Sequence
	budget  *backoff.Budget
	waiting int64   // id of the attempt in flight, 0 if none
	first   float64 // when the current request's first attempt was sent
	active  bool    // a request is under way (not thinking)
}

type request struct {
	client    int32
	start     float64 // service start, for the pause
	deadline  float64 // when the client gives up on it
	postponed bool    // its completion has been pushed back by the pause
}

// outageSim is one run of one strategy.
type outageSim struct {
	cfg   outageConfig
	strat strategy
	rng   *rand.Rand
	src   *rand.PCG
	q     queue[event]
	seq   uint64
	now   float64

	clients []client
	shared  *backoff.Budget
	rate    *backoff.RateBudget

	// Server state.
	workers  int
	busy     int
	waitq    []int64 // FIFO of request ids
	head     int
	reqs     map[int64]request
	nextReq  int64
	outStart float64
	outEnd   float64

	// Measurements.
	res         outageResult
	lastFailure float64
	completions []float64
}

func runOutage(cfg outageConfig, strat strategy) outageResult {
	src := rand.NewPCG(cfg.Seed, 0x5eed)
	s := &outageSim{
		cfg:      cfg,
		strat:    strat,
		src:      src,
		rng:      rand.New(src),
		clients:  make([]client, cfg.Clients),
		workers:  max(1, int(math.Round(cfg.Capacity*cfg.Service.Seconds()))),
		reqs:     make(map[int64]request),
		outStart: cfg.OutageStart.Seconds(),
		outEnd:   (cfg.OutageStart + cfg.Outage).Seconds(),
	}
	seconds := int(math.Ceil(cfg.Duration.Seconds()))
	s.res = outageResult{Strategy: strat.Name, Offered: make([]float64, seconds), Goodput: make([]float64, seconds)}
	s.lastFailure = -1
	if strat.Budget {
		if cfg.SharedBudget {
			s.shared = new(backoff.Budget)
		}
		for i := range s.clients {
			s.clients[i].budget = s.shared
			if s.shared == nil {
				s.clients[i].budget = new(backoff.Budget)
			}
		}
	}
	if strat.Rate {
		// A RateBudget only makes sense shared: one client's own traffic
		// is far below its floor of retries per second. It runs on the
		// simulation's clock.
		epoch := time.Unix(0, 0)
		s.rate = &backoff.RateBudget{Now: func() time.Time { return epoch.Add(time.Duration(s.now * 1e9)) }}
	}
	for i := range s.clients {
		s.push(s.think(), evThink, i, 0)
	}
	if cfg.Outage > 0 {
		s.push(s.outEnd, evResume, -1, 0)
	}
	end := cfg.Duration.Seconds()
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(event)
		if e.at >= end {
			break
		}
		s.now = e.at
		s.handle(e)
	}
	s.finish()
	return s.res
}

func (s *outageSim) push(at float64, kind eventKind, c int, req int64) {
	s.seq++
	heap.Push(&s.q, event{at: at, seq: s.seq, kind: kind, client: int32(c), req: req})
}

// think returns when a client that starts thinking now sends its next request.
func (s *outageSim) think() float64 {
	return s.now + s.rng.ExpFloat64()*s.cfg.Think.Seconds()
}

func (s *outageSim) paused() bool {
	return s.cfg.Outage > 0 && s.now >= s.outStart && s.now < s.outEnd
}

func (s *outageSim) handle(e event) {
	switch e.kind {
	case evThink:
		c := &s.clients[e.client]
		c.seq = s.strat.Policy.Start(s.src)
		c.first = s.now
		c.active = true
		if s.rate != nil {
			s.rate.RecordRequest()
		}
		s.send(int(e.client))
	case evSend:
		s.send(int(e.client))
	case evTimeout:
		s.timeout(int(e.client), e.req)
	case evComplete:
		s.complete(e.req)
	case evResume:
		for s.busy < s.workers && s.startNext() {
		}
	}
}

// send makes one attempt: the request joins the server's queue and the
// client arms its timeout.
func (s *outageSim) send(ci int) {
	s.nextReq++
	id := s.nextReq
	c := &s.clients[ci]
	c.waiting = id
	s.reqs[id] = request{client: int32(ci), deadline: s.now + s.cfg.Timeout.Seconds()}
	s.res.Requests++
	s.res.Offered[int(s.now)]++
	s.waitq = append(s.waitq, id)
	if !s.paused() && s.busy < s.workers {
		s.startNext()
	}
	s.push(s.now+s.cfg.Timeout.Seconds(), evTimeout, ci, id)
}

// startNext starts serving the oldest waiting request, if any. The article's
// server does not notice abandoned requests and serves them all the same.
func (s *outageSim) startNext() bool {
	for s.head < len(s.waitq) {
		id := s.waitq[s.head]
		s.head++
		if s.head > 4096 && s.head*2 > len(s.waitq) {
			s.waitq = append(s.waitq[:0], s.waitq[s.head:]...)
			s.head = 0
		}
		r := s.reqs[id]
		waiting := float64(len(s.waitq) - s.head)
		factor := math.Min(math.Pow(s.cfg.Slowdown, waiting/s.cfg.SlowdownPer), s.cfg.SlowdownMax)
		if s.cfg.DropExpired && s.now+s.cfg.Service.Seconds()*factor > r.deadline {
			delete(s.reqs, id)
			continue
		}
		r.start = s.now
		s.reqs[id] = r
		s.busy++
		s.push(s.now+s.cfg.Service.Seconds()*factor, evComplete, int(r.client), id)
		return true
	}
	return false
}

// complete finishes a request: the worker takes the next one and the
// client, if it still waits for this attempt, has its answer. A request in
// service when the pause starts finishes the pause's length later: the
// server is frozen, not failing.
func (s *outageSim) complete(id int64) {
	r := s.reqs[id]
	if s.cfg.Outage > 0 && !r.postponed && r.start < s.outStart && s.now > s.outStart {
		r.postponed = true
		s.reqs[id] = r
		s.push(s.now+s.cfg.Outage.Seconds(), evComplete, int(r.client), id)
		return
	}
	delete(s.reqs, id)
	s.busy--
	if !s.paused() {
		s.startNext()
	}
	c := &s.clients[r.client]
	if c.waiting != id {
		s.res.Wasted++
		return
	}
	c.waiting = 0
	c.active = false
	s.res.Goodput[int(s.now)]++
	s.completions = append(s.completions, s.now-c.first)
	if c.budget != nil {
		c.budget.RecordSuccess()
	}
	s.push(s.think(), evThink, int(r.client), 0)
}

// timeout fails an attempt that got no answer in time; the client retries
// after its strategy's delay, unless its budget refuses.
func (s *outageSim) timeout(ci int, id int64) {
	c := &s.clients[ci]
	if c.waiting != id {
		return // answered in time
	}
	c.waiting = 0
	s.lastFailure = s.now
	if c.budget != nil {
		c.budget.RecordFailure()
	}
	if (c.budget != nil && !c.budget.Allow()) || (s.rate != nil && !s.rate.TryRetry()) {
		s.res.GaveUp++
		c.active = false
		s.push(s.think(), evThink, ci, 0)
		return
	}
	s.push(s.now+c.seq.Next().Seconds(), evSend, ci, 0)
}

func (s *outageSim) finish() {
	for _, v := range s.res.Offered {
		s.res.PeakRPS = max(s.res.PeakRPS, v)
	}
	end := s.cfg.Duration.Seconds()
	s.res.Recovered = s.lastFailure < end-s.cfg.Window.Seconds()
	s.res.RecoverySeconds = -1
	if s.res.Recovered {
		s.res.RecoverySeconds = math.Max(0, s.lastFailure-s.outEnd)
	}
	// Requests still under way at the end count with their age so far:
	// a server that never recovers has a p99 as long as the run.
	for i := range s.clients {
		if c := &s.clients[i]; c.active {
			s.completions = append(s.completions, end-c.first)
		}
	}
	if len(s.completions) > 0 {
		slices.Sort(s.completions)
		s.res.P99Seconds = s.completions[(len(s.completions)*99)/100]
	}
}
