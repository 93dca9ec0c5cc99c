//go:build unix

package benchpeers

import (
	"context"
	"io"
	"net/http"
	"testing"

	retryablehttp "github.com/hashicorp/go-retryablehttp"

	"github.com/twine-go/twine/backoff"
	"github.com/twine-go/twine/backoff/httpretry"
)

// httpStub answers from memory, so that the benchmarks measure the retry
// layers and not a network: the first len(codes) calls of each request get
// codes, the later ones 200. Each answer is a fresh *http.Response, as a
// real transport's is.
type httpStub struct {
	codes []int
	n     int
}

func (s *httpStub) RoundTrip(req *http.Request) (*http.Response, error) {
	code := http.StatusOK
	if s.n < len(s.codes) {
		code = s.codes[s.n]
	}
	s.n++
	return &http.Response{StatusCode: code, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
}

// BenchmarkHTTPRetry compares the overhead of twine's httpretry.Transport
// and hashicorp/go-retryablehttp on a request that succeeds at once
// (first=200) and on one that succeeds after one retry (first=503), both
// with zero delays, at most 4 attempts, over the same in-memory transport,
// each used as documented: twine through an http.Client whose Transport it
// is, retryablehttp through its own Client.Do and through the http.Client
// that its StandardClient returns. Every iteration builds its request, as
// a service does. The overhead of a retry layer is its figure less that of
// lib=none, the same attempts made by a transport without any logic.
func BenchmarkHTTPRetry(b *testing.B) {
	ctx := context.Background()
	const url = "http://service.example/"
	for _, first := range []struct {
		name  string
		codes []int
	}{
		{"first=200", nil},
		{"first=503", []int{http.StatusServiceUnavailable}},
	} {
		// The floor (lib=none) is the same request through an http.Client
		// whose transport calls the stub again after a 503, with no
		// policy, no classifier and no bookkeeping.
		std := []struct {
			lib    string
			client func(*httpStub) *http.Client
		}{
			{"none", func(s *httpStub) *http.Client { return &http.Client{Transport: naiveRetry{s}} }},
			{"twine", func(s *httpStub) *http.Client {
				return &http.Client{Transport: &httpretry.Transport{Base: s, Policy: backoff.Constant{}}}
			}},
			{"retryablehttp-std", func(s *httpStub) *http.Client { return newRetryableHTTP(s).StandardClient() }},
		}
		for _, c := range std {
			b.Run(first.name+"/lib="+c.lib, func(b *testing.B) {
				stub := &httpStub{codes: first.codes}
				client := c.client(stub)
				backoffLoop(b, func() {
					stub.n = 0
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					if err != nil {
						b.Fatal(err)
					}
					resp, err := client.Do(req)
					httpCheck(b, resp, err)
				})
			})
		}
		b.Run(first.name+"/lib=retryablehttp", func(b *testing.B) {
			stub := &httpStub{codes: first.codes}
			client := newRetryableHTTP(stub)
			backoffLoop(b, func() {
				stub.n = 0
				req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := client.Do(req)
				httpCheck(b, resp, err)
			})
		})
	}
}

// naiveRetry calls its stub until it answers something else than 503.
type naiveRetry struct{ stub *httpStub }

func (t naiveRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	for {
		resp, err := t.stub.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			return resp, err
		}
		_ = resp.Body.Close()
	}
}

// newRetryableHTTP is a retryablehttp client over rt with no logger and
// zero waits, at most 4 attempts.
func newRetryableHTTP(rt http.RoundTripper) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: rt}
	c.Logger = nil
	c.RetryWaitMin, c.RetryWaitMax = 0, 0
	c.RetryMax = 3
	return c
}

func httpCheck(b *testing.B, resp *http.Response, err error) {
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}
