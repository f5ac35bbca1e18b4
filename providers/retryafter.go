package providers

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter bounds what RetryAfter returns, so a garbled header cannot
// overflow a Duration; the retry policy applies its own, lower cap.
const maxRetryAfter = 24 * time.Hour

// RetryAfter is how long a response's headers ask the client to wait before
// trying again, 0 when they do not say: retry-after-ms and
// x-ms-retry-after-ms (milliseconds, Azure), then Retry-After (RFC 9110:
// delay-seconds or an HTTP-date, measured from now). Values that do not
// parse, are not positive or lie in the past give 0. Provider classifiers
// use it to fill Error.RetryAfter.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				return time.Duration(min(n, int64(maxRetryAfter/time.Millisecond))) * time.Millisecond
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}
