package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// build creates, under a new temporary root, one file per key with data
// "<key>" (so sizes differ), and a directory for each key ending in '/'.
// It returns the root.
func build(t testing.TB, keys ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, k := range keys {
		put(t, root, k, k)
	}
	return root
}

// put writes data as file key under root, or makes directory key when it
// ends in '/'.
func put(t testing.TB, root, key, data string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(key))
	if strings.HasSuffix(key, "/") {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// files returns the keys of keys that are files (not ending in '/'), sorted.
func files(keys ...string) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasSuffix(k, "/") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listAll lists root under prefix page by page, max a page, checking the
// page size, that Next is set exactly when a page is not the last, and
// that tokens never repeat.
func listAll(t testing.TB, s *Source, root, prefix string, max int) []providers.Object {
	t.Helper()
	objs, err := listAllErr(t.Context(), s, root, prefix, max)
	if err != nil {
		t.Fatalf("List %s prefix %q max %d: %v", root, prefix, max, err)
	}
	return objs
}

func listAllErr(ctx context.Context, s *Source, root, prefix string, max int) ([]providers.Object, error) {
	var out []providers.Object
	seen := map[string]bool{}
	opts := providers.ListOptions{Prefix: prefix, MaxResults: max}
	for {
		p, err := s.List(ctx, root, opts)
		if err != nil {
			return out, err
		}
		limit := max
		if limit <= 0 {
			limit = DefaultPageSize
		}
		if len(p.Objects) > limit {
			return out, errors.New("page larger than MaxResults")
		}
		out = append(out, p.Objects...)
		if p.Next == "" {
			return out, nil
		}
		if seen[p.Next] {
			return out, errors.New("token repeated")
		}
		seen[p.Next] = true
		opts.Token = p.Next
	}
}

func keysOf(objs []providers.Object) []string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = o.Key
	}
	return ks
}

func checkKeys(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// checkKind fails t unless err is a *providers.Error of kind k.
func checkKind(t testing.TB, what string, err error, k providers.Kind) {
	t.Helper()
	var pe *providers.Error
	switch {
	case err == nil:
		t.Errorf("%s: no error, want %v", what, k)
	case !errors.As(err, &pe):
		t.Errorf("%s: %v (%T) is not a *providers.Error", what, err, err)
	case providers.KindOf(err) != k:
		t.Errorf("%s: kind %v, want %v (%v)", what, providers.KindOf(err), k, err)
	}
}

// skips records what a Source reports to Options.Skipped.
type skips struct {
	mu  sync.Mutex
	got map[string]error // by path relative to the root, slash-separated
	n   int
}

func (s *skips) hook(root string) func(string, error) {
	return func(path string, why error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rel, err := filepath.Rel(root, path)
		if err != nil {
			rel = path
		}
		if s.got == nil {
			s.got = map[string]error{}
		}
		s.got[filepath.ToSlash(rel)] = why
		s.n++
	}
}

// TestConformance runs the shared source suite. Two of its parts cannot
// apply to a folder and are skipped from NewBucket, which each subtest
// calls first:
//   - List requires every listed object to have an ETag; a file's is not
//     known without reading it, so a local listing leaves it empty. The
//     rest of what List checks (byte order of the same keys, sizes,
//     modification times, an empty root) is checked by TestListOrder and
//     TestListEmpty.
//   - StatProperties seeds content headers and user metadata, which a
//     folder cannot hold (and requires an ETag); TestStat covers Stat.
//
// Of AwkwardKeys, four are not file paths: "a//b" and "./y" name the same
// files as "a/b" and "y", "../x" lies outside the root, and
// "trailing-slash/" can only be a directory, never a listed object.
func TestConformance(t *testing.T) {
	unfit := map[string]string{
		"List":           "a local listing has no ETag (not known without reading the file)",
		"StatProperties": "a folder stores no content headers, metadata or ETag",
	}
	providertest.TestSource(t, providertest.SourceHarness{
		Source: New(Options{}),
		NewBucket: func(t *testing.T, objs []providertest.SeedObject) string {
			if why, ok := unfit[filepath.Base(t.Name())]; ok {
				t.Skip(why)
			}
			root := t.TempDir()
			for _, o := range objs {
				put(t, root, o.Key, string(o.Data))
			}
			return root
		},
		SkipKey: func(key string) bool {
			return key == "a//b" || key == "./y" || key == "../x" || strings.HasSuffix(key, "/")
		},
	})
}
