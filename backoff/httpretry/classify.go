package httpretry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultRetryable is the classifier of a Transport whose Retryable is nil.
// It retries the answers that mean "try again later" — 429 Too Many
// Requests, 502 Bad Gateway, 503 Service Unavailable and 504 Gateway
// Timeout — and connection errors, except those that another attempt would
// meet again: a context that ended and a TLS certificate the client does not
// trust. An attempt that timed out (ErrAttemptTimeout) is retried.
func DefaultRetryable(resp *http.Response, err error) bool {
	if err != nil {
		return retryableError(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func retryableError(err error) bool {
	if errors.Is(err, ErrAttemptTimeout) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return !errors.As(err, &verify) && !errors.As(err, &authority) &&
		!errors.As(err, &hostname) && !errors.As(err, &invalid)
}

// Idempotent reports whether sending req twice has the effect of sending it
// once: its method is GET, HEAD, OPTIONS, TRACE, PUT or DELETE (RFC 9110,
// section 9.2.2; an empty method means GET), or the client marked it with an
// Idempotency-Key header, which asks the server to apply it once whatever
// the number of copies. It is the default of Transport.Repeatable.
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	_, keyed := req.Header["Idempotency-Key"]
	return keyed
}

// ParseRetryAfter reads a Retry-After header value (RFC 9110, section
// 10.2.3), either a number of seconds or an HTTP-date, which now turns into
// a delay (zero if the date has passed). It reports false for an empty or
// malformed value, which the transport ignores.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}
