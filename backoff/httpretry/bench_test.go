package httpretry

import (
	"net/http"
	"testing"

	"github.com/twine-go/twine/backoff"
)

// stub answers from memory: the n-th call of each request (counted by the
// caller) gets codes[n], then 200. It measures the transport's own cost.
type stub struct {
	codes []int
	n     int
}

func (s *stub) RoundTrip(req *http.Request) (*http.Response, error) {
	code := http.StatusOK
	if s.n < len(s.codes) {
		code = s.codes[s.n]
	}
	s.n++
	return &http.Response{StatusCode: code, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
}

func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name  string
		codes []int
	}{
		{"first=200", nil},
		{"first=503", []int{http.StatusServiceUnavailable}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			base := &stub{codes: bc.codes}
			tr := &Transport{Base: base, Policy: backoff.Constant{}}
			req, err := http.NewRequest(http.MethodGet, "http://service.example/", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				base.n = 0
				resp, err := tr.RoundTrip(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatal(err, resp)
				}
				_ = resp.Body.Close()
			}
		})
	}
}
