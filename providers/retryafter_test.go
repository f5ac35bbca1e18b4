package providers

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		hdr  map[string]string
		want time.Duration
	}{
		{"none", nil, 0},
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"seconds with spaces", map[string]string{"Retry-After": " 7 "}, 7 * time.Second},
		{"zero", map[string]string{"Retry-After": "0"}, 0},
		{"negative", map[string]string{"Retry-After": "-5"}, 0},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0},
		{"fraction is not delay-seconds", map[string]string{"Retry-After": "1.5"}, 0},
		{"http date", map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"rfc850 date", map[string]string{"Retry-After": now.Add(time.Minute).Format(time.RFC850)}, time.Minute},
		{"date in the past", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"huge seconds are capped", map[string]string{"Retry-After": "99999999999999999"}, maxRetryAfter},
		{"x-ms-retry-after-ms", map[string]string{"x-ms-retry-after-ms": "1500"}, 1500 * time.Millisecond},
		{"retry-after-ms", map[string]string{"retry-after-ms": "20"}, 20 * time.Millisecond},
		{"ms wins over seconds", map[string]string{"x-ms-retry-after-ms": "250", "Retry-After": "9"}, 250 * time.Millisecond},
		{"bad ms falls back to seconds", map[string]string{"x-ms-retry-after-ms": "x", "Retry-After": "2"}, 2 * time.Second},
		{"huge ms are capped", map[string]string{"x-ms-retry-after-ms": "9223372036854775807"}, maxRetryAfter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h http.Header
			if tc.hdr != nil {
				h = http.Header{}
				for k, v := range tc.hdr {
					h.Set(k, v)
				}
			}
			if got := RetryAfter(h, now); got != tc.want {
				t.Errorf("RetryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}
