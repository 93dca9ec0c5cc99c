// Command retryclient shows an HTTP client that retries with backoff,
// through the importable transport of package
// github.com/twine-go/twine/backoff/httpretry: it retries requests that are
// safe to repeat on connection errors and 429/502/503/504 answers, honours
// Retry-After (seconds or HTTP-date) and never retries before it, hands
// other answers over at once, replays request bodies through
// Request.GetBody, respects the request's context, and shares a
// backoff.Budget so that a server that is down hard sees first attempts
// only, not a retry storm.
//
// Without flags it starts a deliberately flaky server on a loopback port
// and walks through seven scenarios:
//
//	go run ./retryclient
//
// With -url it fetches that URL once through the retrying Transport and
// reports each attempt:
//
//	go run ./retryclient -url http://localhost:8080/health -attempts 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/twine-go/twine/backoff"
	"github.com/twine-go/twine/backoff/httpretry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "retryclient:", err)
		os.Exit(1)
	}
}

// config holds the command-line settings.
type config struct {
	url      string
	attempts int
	base     time.Duration
	jitter   backoff.Jitter
	requests int
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("retryclient", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.url, "url", "", "fetch this URL through the retrying client instead of running the demo")
	fs.IntVar(&c.attempts, "attempts", 4, "calls per request, the first included")
	fs.DurationVar(&c.base, "base", 50*time.Millisecond, "first backoff delay (doubles per retry)")
	jitter := fs.String("jitter", "full", "jitter mode: full, none, equal, decorrelated, smooth, proportional")
	fs.IntVar(&c.requests, "requests", 20, "requests sent to the server that is down hard")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	j, ok := parseJitter(*jitter)
	if !ok {
		return c, fmt.Errorf("unknown -jitter %q", *jitter)
	}
	c.jitter = j
	if c.attempts < 1 || c.requests < 1 || c.base < 0 {
		return c, errors.New("-attempts and -requests must be positive, -base not negative")
	}
	return c, nil
}

// parseJitter finds the jitter mode whose String is name.
func parseJitter(name string) (backoff.Jitter, bool) {
	for j := backoff.FullJitter; j <= backoff.ProportionalJitter; j++ {
		if j.String() == name {
			return j, true
		}
	}
	return 0, false
}

// run is the program; tests call it with their own arguments and output.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	policy := backoff.Exponential{Base: c.base, Jitter: c.jitter}
	if c.url != "" {
		status, attempts, err := fetch(ctx, stdout, &httpretry.Transport{Policy: policy, MaxAttempts: c.attempts}, http.MethodGet, c.url, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "-> %s after %d attempt(s)\n", status, attempts)
		return nil
	}
	return demo(ctx, stdout, c, policy)
}

// demo runs the scenarios against a local flaky server.
func demo(ctx context.Context, w io.Writer, c config, policy backoff.Policy) error {
	srv := newFlakyServer()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tr := func() *httpretry.Transport {
		return &httpretry.Transport{Base: ts.Client().Transport, Policy: policy, MaxAttempts: c.attempts}
	}
	fmt.Fprintf(w, "retryclient: retrying %s; backoff from %v, jitter %s, %d attempts\n",
		ts.URL, c.base, c.jitter, c.attempts)

	steps := []struct {
		title, method, path, body string
		keyed                     bool
	}{
		{"1. transient 503s are retried", "GET", "/flaky/a?fail=2", "", false},
		{"2. 429 with Retry-After: 1 waits one second", "GET", "/throttle/a?after=1", "", false},
		{"3. 400 is permanent: not retried", "GET", "/bad", "", false},
		{"4a. POST is not idempotent: not retried", "POST", "/echo/a", "hello", false},
		{"4b. POST with an Idempotency-Key: retried, body replayed", "POST", "/echo/b", "hello", true},
		{"5. 503 until the attempts run out: the last answer is returned", "GET", "/flaky/b?fail=100", "", false},
		{"6. Retry-After: 120 is beyond MaxHint (1m): not waited", "GET", "/throttle/b?after=120", "", false},
	}
	for _, s := range steps {
		fmt.Fprintf(w, "\n%s: %s %s\n", s.title, s.method, s.path)
		t := tr()
		var (
			status   string
			attempts int
			err      error
		)
		if s.keyed {
			status, attempts, err = fetchKeyed(ctx, w, t, ts.URL+s.path, s.body)
		} else {
			status, attempts, err = fetch(ctx, w, t, s.method, ts.URL+s.path, s.body)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   -> %s after %d attempt(s)\n", status, attempts)
	}

	// 7. A server down hard: the same requests with and without a Budget.
	// Tiny delays keep the demo quick; the counts do not depend on them.
	fmt.Fprintf(w, "\n7. server down hard (always 503): %d GETs, %d attempts each allowed\n", c.requests, c.attempts)
	quick := backoff.Exponential{Base: time.Millisecond, Max: 10 * time.Millisecond}
	for _, budget := range []*backoff.Budget{nil, new(backoff.Budget)} {
		before := srv.Hits("/down")
		client := httpretry.Wrap(ts.Client(), &httpretry.Transport{Policy: quick, MaxAttempts: c.attempts, Budget: budget})
		for range c.requests {
			if err := get(ctx, client, ts.URL+"/down"); err != nil {
				return err
			}
		}
		name := "without a budget"
		if budget != nil {
			name = fmt.Sprintf("with a shared Budget (%.0f tokens left)", budget.Tokens())
		}
		fmt.Fprintf(w, "   %-38s %3d requests reached the server\n", name+":", srv.Hits("/down")-before)
	}
	return nil
}

// get sends one GET through client and discards the answer.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// fetch sends one request through t, printing each failed attempt, and
// returns the final status line and the number of attempts.
func fetch(ctx context.Context, w io.Writer, t *httpretry.Transport, method, url, body string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bodyReader(body))
	if err != nil {
		return "", 0, err
	}
	return do(w, t, req)
}

// fetchKeyed is fetch for a POST marked idempotent by the client.
func fetchKeyed(ctx context.Context, w io.Writer, t *httpretry.Transport, url, body string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Idempotency-Key", "demo-4b")
	return do(w, t, req)
}

// do sends req through t, printing each attempt that is retried and why
// the retries stopped, if they did before a success.
func do(w io.Writer, t *httpretry.Transport, req *http.Request) (string, int, error) {
	attempts := 0
	t.OnAttempt = func(a httpretry.Attempt) {
		attempts = a.Number
		outcome := fmt.Sprint(a.Err)
		if a.Response != nil {
			outcome = a.Response.Status
		}
		switch {
		case a.Retry:
			fmt.Fprintf(w, "   attempt %d: %s; retrying in %v\n", a.Number, outcome, a.Delay.Round(time.Millisecond))
		case a.Stop != nil:
			fmt.Fprintf(w, "   attempt %d: %s; stopped: %v\n", a.Number, outcome, stopReason(a.Stop))
		}
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return "", attempts, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", attempts, err
	}
	return fmt.Sprintf("%s %q", resp.Status, strings.TrimSpace(string(b))), attempts, nil
}

// stopReason names why the retries stopped.
func stopReason(err error) string {
	var stop *backoff.StopError
	if errors.As(err, &stop) {
		return stop.Reason.Error()
	}
	return err.Error()
}

func bodyReader(body string) io.Reader {
	if body == "" {
		return nil
	}
	return strings.NewReader(body)
}
