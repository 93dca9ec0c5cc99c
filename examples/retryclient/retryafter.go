package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// parseRetryAfter reads a Retry-After header value (RFC 9110, section
// 10.2.3): either a number of seconds or an HTTP-date, which now turns into
// a delay (zero if the date has passed). It reports false for an empty or
// malformed value, which the caller ignores. Delays are not capped here:
// backoff.Retry caps hints at the policy's maximum.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
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
