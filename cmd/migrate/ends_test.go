package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetadataPairs(t *testing.T) {
	tests := []struct {
		in      []string
		want    map[string]string
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []string{"a=1", "b="}, want: map[string]string{"a": "1", "b": ""}},
		{in: []string{"k=v=w"}, want: map[string]string{"k": "v=w"}},
		{in: []string{" spaced =x"}, want: map[string]string{"spaced": "x"}},
		{in: []string{"novalue"}, wantErr: "want key=value"},
		{in: []string{"=v"}, wantErr: "want key=value"},
		{in: []string{"Owner=a", "owner=b"}, wantErr: "same name"},
	}
	for _, tt := range tests {
		got, err := metadataPairs(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%q: %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func FuzzMetadataPairs(f *testing.F) {
	for _, s := range []string{"a=1", "k=v=w", "=x", "noeq", "A=1\x00a=2", " x = y "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		pairs := strings.Split(joined, "\x00")
		got, err := metadataPairs(pairs)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for k := range got {
			if k == "" || seen[strings.ToLower(k)] {
				t.Fatalf("%q gave key %q twice or empty", pairs, k)
			}
			seen[strings.ToLower(k)] = true
		}
		for _, p := range pairs {
			k, v, _ := strings.Cut(p, "=")
			if got[strings.TrimSpace(k)] != v {
				t.Fatalf("%q: %q lost its value", pairs, p)
			}
		}
	})
}

// The ends of a copy decide which flags make sense; the others are refused
// with the flag's name, never ignored.
func TestEndsRefuseFlagsOfOtherEnds(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	az := "https://acct.blob.core.windows.net/cont?sv=1&sig=x"
	tests := []struct {
		args []string
		want string // "" = accepted
	}{
		{[]string{dir, "s3://bkt/p"}, ""},
		{[]string{dir, az}, ""},
		{[]string{"s3://src", "s3://bkt", "--acl", "private", "--storage-class", "STANDARD_IA", "--copy-object-max-size", "1GiB"}, ""},
		{[]string{dir, "s3://bkt", "--sse-c-key", "k"}, "--sse-c-key"},
		{[]string{dir, "s3://bkt", "--source-inventory", "m.json"}, "--source-inventory"},
		{[]string{"s3://src", az, "--acl", "private"}, "--acl"},
		{[]string{"s3://src", az, "--copy-object-max-size", "1GiB"}, "--copy-object-max-size"},
		{[]string{"s3://src", "s3://bkt", "--blob-tier", "Cool"}, "--blob-tier"},
		{[]string{"s3://src", "s3://bkt", "--rename-invalid-keys"}, "--rename-invalid-keys"},
		{[]string{"s3://", "s3://bkt"}, "one bucket at a time"},
		{[]string{"s3://src", "s3://"}, "names no bucket"},
		{[]string{file, "s3://bkt"}, "is a file"},
		{[]string{filepath.Join(dir, "missing"), "s3://bkt"}, "no such file"},
		{[]string{dir, "s3://bkt", "--metadata", "x"}, "want key=value"},
	}
	for _, tt := range tests {
		_, err := parseCopy(tt.args, func(string) string { return "" }, new(strings.Builder))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: error %v, want one naming %q", tt.args, err, tt.want)
		}
	}
}

func TestSourceURL(t *testing.T) {
	for _, tt := range []struct{ bucket, key, want string }{
		{"photos", "a/b.jpg", "s3://photos/a/b.jpg"},
		{"photos", "a//b/", "s3://photos/a//b/"},
		{"/data/export", "a/b.jpg", "/data/export/a/b.jpg"},
		{"/data/export", "sub/x y", "/data/export/sub/x y"},
	} {
		if got := sourceURL(tt.bucket, tt.key); got != tt.want {
			t.Errorf("sourceURL(%q, %q) = %q, want %q", tt.bucket, tt.key, got, tt.want)
		}
		root := ""
		if strings.HasPrefix(tt.bucket, "/") {
			root = tt.bucket
		}
		if b, k, ok := splitSourceURL(root, tt.want); !ok || b != tt.bucket || k != tt.key {
			t.Errorf("splitSourceURL(%q, %q) = %q, %q, %v", root, tt.want, b, k, ok)
		}
	}
}
