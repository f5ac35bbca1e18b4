package main

import (
	"strconv"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"1048576", 1 << 20, false},
		{"1K", 1024, false},
		{"8MiB", 8 << 20, false},
		{"8mb", 8 << 20, false},
		{"4000M", 4000 << 20, false},
		{"1.5GiB", 3 << 29, false},
		{" 2 TiB ", 2 << 40, false},
		{"5B", 5, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"12XB", 0, true},
		{"-1", 0, true},
		{"9999999999P", 0, true},
		{"1.2.3M", 0, true},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "8MiB", "1.5GiB", "4000M", "12XB", "1e9", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d: negative", s, n)
		}
		// A plain integer must parse to itself.
		if v, perr := strconv.ParseInt(s, 10, 64); perr == nil && v >= 0 && v != n {
			t.Fatalf("parseSize(%q) = %d, want %d", s, n, v)
		}
	})
}
