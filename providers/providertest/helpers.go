package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

// AwkwardKeys returns object keys that break naive URL, path and ordering
// code: spaces, '+', '%', an escaped slash, unicode, empty and dot path
// segments, query and fragment characters, a 1024-byte key and a trailing
// '/'. No key is a path prefix of another's directory, so a POSIX-backed
// server can hold them all at once. Every call returns a fresh slice.
func AwkwardKeys() []string {
	return []string{
		"with space",
		"two  spaces",
		"plus+sign",
		"percent%sign",
		"encoded%2Fslash",
		"percent%25twice",
		"caf\u00e9",
		"\u65e5\u672c/\u8a9e.txt",
		"emoji-\U0001F600",
		"a//b",
		"../x",
		"./y",
		"q?mark",
		"hash#frag",
		"amp&eq=sign;semi",
		"tilde~star*paren(1)",
		"UPPER-lower",
		"quote'single\"double",
		"dots...mid",
		"trailing-dot.",
		"trailing-slash/",
		LongKey(),
	}
}

// LongKey returns a 1024-byte key (S3's limit, within Azure's 1024
// characters) made of segments of 99 bytes, so no path component exceeds a
// file system's 255-byte name limit.
func LongKey() string {
	var b strings.Builder
	for b.Len() < 1000 {
		b.WriteString(strings.Repeat("k", 99))
		b.WriteByte('/')
	}
	b.WriteString(strings.Repeat("z", 1024-b.Len()))
	return b.String()
}

// DestinationSafe reports whether a destination can hold name: Azure
// refuses or mangles names ending in '.' or '/'.
func DestinationSafe(name string) bool {
	return !strings.HasSuffix(name, ".") && !strings.HasSuffix(name, "/")
}

// maxPages bounds a listing loop so a provider whose tokens never end fails
// instead of hanging.
const maxPages = 100000

// ListAll lists every object of bucket under prefix, following tokens. It
// fails if a token repeats or the listing goes on past 100,000 pages.
func ListAll(ctx context.Context, src providers.Source, bucket, prefix string) ([]providers.Object, error) {
	return listAll(ctx, prefix, 0, func(o providers.ListOptions) (providers.Page, error) {
		return src.List(ctx, bucket, o)
	})
}

// ListAllBlobs lists every committed blob of container under prefix.
func ListAllBlobs(ctx context.Context, dst providers.Destination, container, prefix string) ([]providers.Object, error) {
	return listAll(ctx, prefix, 0, func(o providers.ListOptions) (providers.Page, error) {
		return dst.ListBlobs(ctx, container, o)
	})
}

func listAll(ctx context.Context, prefix string, max int, list func(providers.ListOptions) (providers.Page, error)) ([]providers.Object, error) {
	var out []providers.Object
	seen := map[string]bool{}
	opts := providers.ListOptions{Prefix: prefix, MaxResults: max}
	for range maxPages {
		p, err := list(opts)
		if err != nil {
			return out, err
		}
		out = append(out, p.Objects...)
		if p.Next == "" {
			return out, nil
		}
		if seen[p.Next] {
			return out, fmt.Errorf("listing token %q repeated", p.Next)
		}
		seen[p.Next] = true
		opts.Token = p.Next
	}
	return out, errors.New("listing did not end")
}

// keysOf returns the keys of objs in their order.
func keysOf(objs []providers.Object) []string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = o.Key
	}
	return ks
}

// sortedUnique returns keys sorted by bytes, duplicates removed.
func sortedUnique(keys []string) []string {
	ks := slices.Clone(keys)
	slices.Sort(ks)
	return slices.Compact(ks)
}

// data returns n deterministic, non-repeating-looking bytes for seed, so a
// wrong range or a swapped block never compares equal. Other packages'
// tests use it for their payloads too.
func Data(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed*2654435761 + 12345
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// checkBytes fails t when got is not want, describing the first difference.
func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

// checkKeys fails t when got is not exactly want (both in order).
func checkKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: got %d keys, want %d\n got: %q\nwant: %q", what, len(got), len(want), got, want)
}

// checkKind fails t unless err is a *providers.Error of kind k that
// errors.Is matches with k's sentinel.
func checkKind(t *testing.T, what string, err error, k providers.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v", what, k)
		return
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T) is not a *providers.Error", what, err, err)
		return
	}
	if got := providers.KindOf(err); got != k {
		t.Errorf("%s: kind %v, want %v (error: %v)", what, got, k, err)
		return
	}
	if !errors.Is(err, &providers.Error{Kind: k}) {
		t.Errorf("%s: errors.Is(err, kind %v sentinel) is false", what, k)
	}
}

// checkCanceled fails t unless err is KindCanceled and matches cause.
func checkCanceled(t *testing.T, what string, err, cause error) {
	t.Helper()
	checkKind(t, what, err, providers.KindCanceled)
	if err != nil && !errors.Is(err, cause) {
		t.Errorf("%s: errors.Is(err, %v) is false (error: %v)", what, cause, err)
	}
}

// canceledCtx returns an already canceled context.
func canceledCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// expiredCtx returns a context whose deadline has passed.
func expiredCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), -1)
	t.Cleanup(cancel)
	return ctx
}

// lowerKeys returns m with lowercased keys: S3 lowercases metadata names
// and some Azure clients canonicalize their case, so names compare without
// case.
func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// checkProps fails t when got's five content headers or metadata differ
// from want's.
func checkProps(t *testing.T, what string, got, want providers.Properties) {
	t.Helper()
	pairs := []struct{ name, got, want string }{
		{"ContentType", got.ContentType, want.ContentType},
		{"ContentEncoding", got.ContentEncoding, want.ContentEncoding},
		{"ContentDisposition", got.ContentDisposition, want.ContentDisposition},
		{"ContentLanguage", got.ContentLanguage, want.ContentLanguage},
		{"CacheControl", got.CacheControl, want.CacheControl},
	}
	for _, p := range pairs {
		if p.got != p.want {
			t.Errorf("%s: %s = %q, want %q", what, p.name, p.got, p.want)
		}
	}
	if g, w := lowerKeys(got.Metadata), lowerKeys(want.Metadata); !maps.Equal(g, w) {
		t.Errorf("%s: metadata = %v, want %v", what, got.Metadata, want.Metadata)
	}
}

// sampleTags are tags valid for S3 object tags and Azure blob index tags
// alike, one value with a space.
func sampleTags() map[string]string {
	return map[string]string{"project": "x", "team": "data eng"}
}

// checkTags fails t when got and want differ (nil and empty are equal).
func checkTags(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: tags = %q, want %q", what, got, want)
	}
}

// fullProps are properties with all five content headers and metadata
// whose names are lowercase C# identifiers (valid for S3 and Azure alike).
func fullProps() providers.Properties {
	return providers.Properties{
		ContentType:        "text/plain; charset=utf-8",
		ContentEncoding:    "br",
		ContentDisposition: `attachment; filename="report 1.txt"`,
		ContentLanguage:    "en-GB",
		CacheControl:       "max-age=60, private",
		Metadata:           map[string]string{"color": "blue", "origin_key": "a/b c+d", "n2": "x=y"},
	}
}

// missingName returns a name derived from an existing bucket or container
// name that is still valid for S3 and Azure and does not exist.
func missingName(existing string) string {
	if len(existing) <= 61 {
		return existing + "nx"
	}
	return existing[:61] + "nx"
}

// rng is providers.Range{Offset: off, Count: n}.
func rng(off, n int64) providers.Range { return providers.Range{Offset: off, Count: n} }
