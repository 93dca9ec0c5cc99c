// Package backoff computes retry delays with jitter, retries operations in a
// loop that allocates nothing, and limits retries with a Budget shared by
// many callers, so that a service can retry calls without keeping a
// struggling server down.
//
// A policy is a small immutable config value whose zero fields mean
// documented defaults: [Constant], [Exponential] with a [Jitter] mode, the
// [GRPC] preset, and [Func] for delays of one's own. The state of one loop
// lives in a [Sequence] (or in [Retry]), so one policy value can serve
// every goroutine. Every delay is capped after jitter: none ever exceeds
// the policy's Max.
//
// Delays before each retry for the defaults (ranges are those of the jitter;
// the cap holds after jitter, so GRPC's ±20 % never goes above 120 s):
//
//	retry   Exponential{}   Exponential{Jitter: NoJitter}   GRPC()
//	    1   0–100 ms        100 ms                          0.80–1.20 s
//	    2   0–200 ms        200 ms                          1.28–1.92 s
//	    3   0–400 ms        400 ms                          2.05–3.07 s
//	    4   0–800 ms        800 ms                          3.28–4.92 s
//	    5   0–1.6 s         1.6 s                           5.24–7.86 s
//	    6   0–3.2 s         3.2 s                           8.39–12.6 s
//	    7   0–6.4 s         6.4 s                           13.4–20.1 s
//	    8   0–10 s          10 s                            21.5–32.2 s
//	    9   0–10 s          10 s                            34.4–51.5 s
//	   10   0–10 s          10 s                            55.0–82.5 s
//	   11   0–10 s          10 s                            88.0–120 s
//	  12+   0–10 s          10 s                            96.0–120 s
//
// A retry-after hint from the server replaces the policy's delay for one
// retry and is never shortened, not even to the policy's Max: after a 503
// with "Retry-After: 30", the next attempt starts 30 s later, whatever the
// table says. A hint beyond [MaxHint] (one minute by default) ends the loop
// instead.
//
// [Retry] and [RetryValue] run an operation until it succeeds, returns a
// [Permanent] error or one that the [RetryIf] predicate refuses, runs out of
// attempts, time or budget, receives a hint it will not honour, or its
// context ends. When they give up they return a [StopError], whose Reason
// tells which of these ended the loop and which still unwraps to the
// operation's last error. They honour retry-after hints carried by errors
// ([RetryAfter], [Hinter]). A loop whose delays are zero allocates nothing
// until it fails for good; otherwise it uses one timer for all its waits.
// The package starts no goroutine and returns no channel: Retry calls op
// and the [Notify] hook on the goroutine that called it, and waits there.
//
// A [Budget] shared by the loops that call one service refuses retries when
// too many calls fail, in the manner of gRPC retry throttling; a
// [RateBudget] caps retries at a share of recent requests plus a floor per
// second, in the manner of Finagle. Either way the retry storm that turns a
// short outage into a long one never starts. The program
// examples/backoffsim in the repository simulates such an outage with 1000
// clients and shows which policies let the server recover.
//
// For HTTP clients, package github.com/twine-go/twine/backoff/httpretry runs
// this loop inside an http.RoundTripper that retries only requests safe to
// repeat and honours Retry-After.
package backoff
