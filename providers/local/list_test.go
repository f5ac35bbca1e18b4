package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// trickyKeys sort differently byte-wise than in a naive directory walk,
// a locale or a case-insensitive order.
var trickyKeys = []string{
	"a-c", "a/b", "a.b", "a0", "a b", "a/b-c", "a/c/d", "a/b.c", "a/b0", "a/c-d", "a/c.d",
	"b/a", "b-a", "b.a", "b0", "b/", "empty/", "empty-dir/", "e/", "e/f/",
	"caf\u00e9", "cafe\u0301", "cafe", "cafe-/x", "\u65e5\u672c/\u8a9e.txt", "emoji-\U0001F600",
	"100%", "100%2F/x", "%41", "1+1", "1+1x/y", "1 1", "~", "_u", "Z", "z",
	"d/e/f/g/h/i/j/k/l/m/n", "d/e/f/g/h/i/j/k/l/m-n", "d/e/f/g/h/i/j/k/l/m.n", "d/e-f",
	"bad\xffutf8", "bad\xfe",
}

func TestListOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []string
	}{
		{"tricky", trickyKeys},
		// The keys of the conformance suite's List test (skipped there for
		// the ETag it requires).
		{"suite", []string{"m", "b/2", "B", "a", "b/10", "b/1", "z", "_u", "\u00e9", "a0", "Z", "~"}},
		{"siblings", []string{"x/a-c", "x/a/c", "x/a.b", "x/a0", "x/a b", "x/a/b/c-d", "x/a/b/c/d"}},
		{"one", []string{"only"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now().Add(-time.Minute)
			root := build(t, c.keys...)
			want := files(c.keys...)
			if !sort.StringsAreSorted(want) {
				t.Fatal("files() is not sorted")
			}
			objs := listAll(t, New(Options{}), root, "", 0)
			checkKeys(t, "List", keysOf(objs), want)
			for _, o := range objs {
				if o.Size != int64(len(o.Key)) { // build writes the key as data
					t.Errorf("%q: Size %d, want %d", o.Key, o.Size, len(o.Key))
				}
				if o.LastModified.Before(start) {
					t.Errorf("%q: LastModified %v, want about now", o.Key, o.LastModified)
				}
				if o.ETag != "" || o.StorageClass != "" || o.VersionID != "" || o.ListedMD5 != nil {
					t.Errorf("%q: %+v, want no ETag, class, version or MD5", o.Key, o)
				}
			}
		})
	}
}

func TestListEmpty(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []string
		want []string
	}{
		{"empty root", nil, nil},
		{"empty dirs only", []string{"a/", "b/c/", "b/d/e/"}, nil},
		{"zero-byte files", []string{"a/", "b/c/"}, []string{"b/c/z0", "z1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := build(t, c.keys...)
			for _, k := range c.want {
				put(t, root, k, "")
			}
			s := New(Options{})
			p, err := s.List(t.Context(), root, providers.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Next != "" {
				t.Errorf("Next %q, want none", p.Next)
			}
			checkKeys(t, "List", keysOf(p.Objects), c.want)
			for _, o := range p.Objects {
				if o.Size != 0 {
					t.Errorf("%q: Size %d, want 0", o.Key, o.Size)
				}
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	root := build(t, trickyKeys...)
	want := files(trickyKeys...)
	s := New(Options{})
	for _, max := range []int{1, 2, 3, 7, len(want) - 1, len(want), len(want) + 1, 0} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			checkKeys(t, "paged List", keysOf(listAll(t, s, root, "", max)), want)
		})
	}
	t.Run("full last page has no Next", func(t *testing.T) {
		p, err := s.List(t.Context(), root, providers.ListOptions{MaxResults: len(want)})
		if err != nil || len(p.Objects) != len(want) || p.Next != "" {
			t.Errorf("List max %d = %d objects, Next %q, %v; want all, no Next", len(want), len(p.Objects), p.Next, err)
		}
	})
	t.Run("token reuse", func(t *testing.T) {
		// Every token, used again later (by a fresh Source, as after a
		// restart), gives the rest of the listing.
		var tokens []string
		opts := providers.ListOptions{MaxResults: 4}
		var got []string
		for {
			p, err := s.List(t.Context(), root, opts)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, keysOf(p.Objects)...)
			if p.Next == "" {
				break
			}
			tokens = append(tokens, p.Next)
			opts.Token = p.Next
		}
		for i, tok := range tokens {
			fresh := New(Options{})
			var rest []string
			opts := providers.ListOptions{MaxResults: 3, Token: tok}
			for {
				p, err := fresh.List(t.Context(), root, opts)
				if err != nil {
					t.Fatal(err)
				}
				rest = append(rest, keysOf(p.Objects)...)
				if p.Next == "" {
					break
				}
				opts.Token = p.Next
			}
			checkKeys(t, fmt.Sprintf("rest after token %d", i), rest, got[4*(i+1):])
		}
	})
	t.Run("token survives changes", func(t *testing.T) {
		root := build(t, "a/1", "b/1", "b/2", "c/1")
		s := New(Options{})
		p, err := s.List(t.Context(), root, providers.ListOptions{MaxResults: 2})
		if err != nil || p.Next == "" {
			t.Fatalf("first page: %v, Next %q", err, p.Next)
		}
		checkKeys(t, "first page", keysOf(p.Objects), []string{"a/1", "b/1"})
		// The last key returned vanishes and keys appear on either side of
		// the token: only those after it are listed.
		if err := os.Remove(filepath.Join(root, "b", "1")); err != nil {
			t.Fatal(err)
		}
		put(t, root, "a/0", "x")
		put(t, root, "b/0", "x")
		put(t, root, "b/1a", "x")
		put(t, root, "bb/1", "x")
		touchDirs(t, root, "", "a", "b")
		rest := listFrom(t, s, root, p.Next, 2)
		checkKeys(t, "after the token", rest, []string{"b/1a", "b/2", "bb/1", "c/1"})
	})
	t.Run("malformed token", func(t *testing.T) {
		for _, tok := range []string{"!!", "bm90LWxvY2Fs"} {
			_, err := s.List(t.Context(), root, providers.ListOptions{Token: tok})
			checkKind(t, "List with token "+tok, err, providers.KindInvalid)
		}
	})
}

// listFrom lists root from token to the end, max a page.
func listFrom(t *testing.T, s *Source, root, token string, max int) []string {
	t.Helper()
	var out []string
	opts := providers.ListOptions{MaxResults: max, Token: token}
	for {
		p, err := s.List(t.Context(), root, opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, keysOf(p.Objects)...)
		if p.Next == "" {
			return out
		}
		opts.Token = p.Next
	}
}

// touchDirs gives directories under root a modification time of their
// own, so a change within one clock tick of an earlier read cannot go
// unseen by the cache.
func touchDirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for i, d := range dirs {
		at := time.Now().Add(time.Duration(i+1) * time.Hour)
		if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(d)), at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListPrefix(t *testing.T) {
	keys := []string{
		"logs/2024-01.txt", "logs/2024/a", "logs/2024/b/c", "logs/2024.old", "logs/2025/a", "logs/20240",
		"logs-x", "logs.txt", "log", "other/logs/2024", "a/b", "a-b", "a.b",
	}
	root := build(t, keys...)
	all := files(keys...)
	s := New(Options{})
	for _, prefix := range []string{
		"", "logs/2024", "logs/2024/", "logs/2024/b", "logs/2024/b/c", "logs/", "logs", "log", "lo",
		"logs/2024-", "a", "a/", "a/b", "other/", "nomatch", "logs/zz", "~", "zzz/",
	} {
		var want []string
		for _, k := range all {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		for _, max := range []int{1, 2, 3, 0} {
			got := keysOf(listAll(t, s, root, prefix, max))
			checkKeys(t, fmt.Sprintf("prefix %q max %d", prefix, max), got, want)
		}
	}
	// A token from before the prefix's keys starts at the prefix; one past
	// them gives an empty last page.
	for _, c := range []struct {
		prefix, after string
		want          []string
	}{
		{"logs/2024/", "a", []string{"logs/2024/a", "logs/2024/b/c"}},
		{"logs/2024/", "logs/2024/a", []string{"logs/2024/b/c"}},
		{"logs/2024/", "logs/2025", nil},
		{"logs/2024", "logs/2024.old", []string{"logs/2024/a", "logs/2024/b/c", "logs/20240"}},
	} {
		p, err := s.List(t.Context(), root, providers.ListOptions{Prefix: c.prefix, Token: encodeToken(c.after)})
		if err != nil {
			t.Fatal(err)
		}
		checkKeys(t, fmt.Sprintf("prefix %q after %q", c.prefix, c.after), keysOf(p.Objects), c.want)
		if p.Next != "" {
			t.Errorf("prefix %q after %q: Next %q, want none", c.prefix, c.after, p.Next)
		}
	}
}

// countReads makes s count its directory reads.
func countReads(s *Source) *atomic.Int64 {
	var n atomic.Int64
	read := s.readDir
	s.readDir = func(path string) (*dirList, error) {
		n.Add(1)
		return read(path)
	}
	return &n
}

func TestListReadsEachDirectoryOnce(t *testing.T) {
	flat := t.TempDir()
	for i := range 1200 {
		if err := os.WriteFile(filepath.Join(flat, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var deep []string
	for c := 'a'; c <= 'z'; c++ {
		for i := range 40 {
			deep = append(deep, fmt.Sprintf("%c/%03d", c, i))
		}
	}
	deepRoot := build(t, deep...)
	for _, c := range []struct {
		name      string
		root      string
		n, max    int
		wantReads int64
	}{
		{"flat", flat, 1200, 50, 1},
		{"26 folders", deepRoot, 26 * 40, 7, 27},
		{"26 folders, pages of 1", deepRoot, 26 * 40, 1, 27},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{})
			reads := countReads(s)
			if got := len(listAll(t, s, c.root, "", c.max)); got != c.n {
				t.Fatalf("listed %d, want %d", got, c.n)
			}
			if reads.Load() != c.wantReads {
				t.Errorf("%d directory reads, want %d", reads.Load(), c.wantReads)
			}
			// A new listing reads afresh what its first page needs (the
			// root and the first folder); later pages find the rest
			// unchanged.
			listAll(t, s, c.root, "", c.max)
			if again := reads.Load() - c.wantReads; again != min(c.wantReads, 2) {
				t.Errorf("a second listing made %d directory reads, want %d", again, min(c.wantReads, 2))
			}
		})
	}
	t.Run("prefix skips other folders", func(t *testing.T) {
		s := New(Options{})
		reads := countReads(s)
		if got := len(listAll(t, s, deepRoot, "q/", 5)); got != 40 {
			t.Fatalf("listed %d, want 40", got)
		}
		if reads.Load() != 2 {
			t.Errorf("%d directory reads, want 2 (the root and q)", reads.Load())
		}
	})
	t.Run("small cache", func(t *testing.T) {
		s := New(Options{DirCacheEntries: 10})
		reads := countReads(s)
		checkKeys(t, "List", keysOf(listAll(t, s, deepRoot, "", 7)), files(deep...))
		// The root and a folder cannot both stay: a page reads the root,
		// its folder and, peeking, maybe the next one.
		pages := int64(len(deep)+6) / 7
		if r := reads.Load(); r <= 27 || r > 3*pages {
			t.Errorf("%d directory reads, want between 28 and %d", r, 3*pages)
		}
	})
}

func TestListCacheSeesChanges(t *testing.T) {
	root := build(t, "a/1", "a/2", "b/1", "b/2", "c/1")
	s := New(Options{})
	p, err := s.List(t.Context(), root, providers.ListOptions{MaxResults: 1})
	if err != nil {
		t.Fatal(err)
	}
	// While the listing is in a, b and c change: the cached entries of
	// the root (read for the first page) must not hide them.
	put(t, root, "b/0", "x")
	put(t, root, "bb/1", "x")
	if err := os.Remove(filepath.Join(root, "c", "1")); err != nil {
		t.Fatal(err)
	}
	touchDirs(t, root, "", "b", "c")
	got := append(keysOf(p.Objects), listFrom(t, s, root, p.Next, 1)...)
	checkKeys(t, "listing across changes", got, []string{"a/1", "a/2", "b/0", "b/1", "b/2", "bb/1"})
}

func TestListErrors(t *testing.T) {
	root := build(t, "d/f", "g")
	file := filepath.Join(root, "g")
	missing := filepath.Join(root, "nope")
	s := New(Options{})
	for _, c := range []struct {
		name string
		root string
		kind providers.Kind
	}{
		{"missing root", missing, providers.KindNotFound},
		{"missing parent", filepath.Join(missing, "x"), providers.KindNotFound},
		{"root is a file", file, providers.KindInvalid},
		{"path through a file", filepath.Join(file, "x"), providers.KindNotFound},
		{"empty root", "", providers.KindInvalid},
	} {
		_, err := s.List(t.Context(), c.root, providers.ListOptions{})
		checkKind(t, c.name, err, c.kind)
		if err != nil && c.root != "" && !strings.Contains(err.Error(), c.root) {
			t.Errorf("%s: %q does not name %s", c.name, err, c.root)
		}
	}

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.List(ctx, root, providers.ListOptions{})
		checkKind(t, "List with a canceled ctx", err, providers.KindCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v does not match context.Canceled", err)
		}
	})
	t.Run("canceled between directories", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s := New(Options{})
		read := s.readDir
		s.readDir = func(path string) (*dirList, error) {
			defer cancel() // after the first directory
			return read(path)
		}
		_, err := s.List(ctx, root, providers.ListOptions{})
		checkKind(t, "List canceled after the root was read", err, providers.KindCanceled)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "d")) {
			t.Errorf("%v does not name the directory it stopped at", err)
		}
	})
	t.Run("unreadable directory", func(t *testing.T) {
		// Injected, so it runs as root too.
		s := New(Options{})
		read := s.readDir
		s.readDir = func(path string) (*dirList, error) {
			if filepath.Base(path) == "d" {
				return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
			}
			return read(path)
		}
		_, err := s.List(t.Context(), root, providers.ListOptions{})
		checkKind(t, "List of an unreadable directory", err, providers.KindPermission)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "d")) {
			t.Errorf("%v does not name the directory", err)
		}
		// Outside the prefix it is never read.
		p, err := s.List(t.Context(), root, providers.ListOptions{Prefix: "g"})
		if err != nil || len(p.Objects) != 1 {
			t.Errorf("List prefix g = %q, %v; want [g]", keysOf(p.Objects), err)
		}
	})
	t.Run("unreadable directory for real", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: permissions are not enforced")
		}
		root := build(t, "a", "locked/f", "z")
		locked := filepath.Join(root, "locked")
		if err := os.Chmod(locked, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(locked, 0o755) })
		_, err := New(Options{}).List(t.Context(), root, providers.ListOptions{})
		checkKind(t, "List of an unreadable directory", err, providers.KindPermission)
		if err == nil || !strings.Contains(err.Error(), locked) {
			t.Errorf("%v does not name %s", err, locked)
		}
	})
}

func TestListVanished(t *testing.T) {
	root := build(t, "a", "b/1", "e")
	var sk skips
	s := New(Options{Skipped: sk.hook(root)})
	read := s.readDir
	s.readDir = func(path string) (*dirList, error) {
		l, err := read(path)
		if path == root && err == nil {
			// Readdir saw file c and directory d, gone by the time they
			// are looked at.
			ents := append(slices.Clone(l.ents), entry{key: "c", kind: kindFile}, entry{key: "d/", kind: kindDir})
			slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(a.key, b.key) })
			l = &dirList{ents: ents}
		}
		return l, err
	}
	for _, max := range []int{1, 2, 0} {
		sk = skips{}
		got := keysOf(listAll(t, s, root, "", max))
		checkKeys(t, fmt.Sprintf("List max %d", max), got, []string{"a", "b/1", "e"})
		for _, k := range []string{"c", "d"} {
			if !errors.Is(sk.got[k], fs.ErrNotExist) {
				t.Errorf("max %d: %s reported as %v, want not exist", max, k, sk.got[k])
			}
		}
		if sk.n != 2 {
			t.Errorf("max %d: %d reports, want 2 (each once): %v", max, sk.n, sk.got)
		}
	}
}

func TestDirCacheBudget(t *testing.T) {
	c := newDirCache(5)
	fi, err := os.Stat(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	list := func(n int) *dirList { return &dirList{ents: make([]entry, n)} }
	c.put("a", fi, list(3))
	c.put("b", fi, list(2))
	if c.get("a", fi) == nil || c.get("b", fi) == nil {
		t.Fatal("a and b fit the budget")
	}
	c.put("c", fi, list(4)) // evicts the least recent (a), then b
	if c.get("a", fi) != nil || c.get("b", fi) != nil || c.get("c", fi) == nil {
		t.Errorf("after c: a %v b %v c %v; want only c", c.get("a", fi) != nil, c.get("b", fi) != nil, c.get("c", fi) != nil)
	}
	c.put("huge", fi, list(100)) // over budget alone: still kept
	if c.get("huge", fi) == nil || c.get("c", fi) != nil || c.total != 100 {
		t.Errorf("huge: kept %v, c kept %v, total %d", c.get("huge", fi) != nil, c.get("c", fi) != nil, c.total)
	}
	other, err := os.Stat(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.get("huge", other) != nil || c.total != 0 {
		t.Errorf("a different directory at the same path was served from the cache")
	}
}

func TestListSorted(t *testing.T) {
	// The walk's order equals sort.Strings of the keys even when
	// directories and files share every prefix.
	var keys []string
	alpha := []string{"a", "-", ".", " ", "0", "\u00e9"}
	for _, x := range alpha {
		for _, y := range alpha {
			keys = append(keys, "k"+x+y, "k"+x+"/"+y, "k"+x+y+"/"+x)
		}
	}
	want := files(keys...)
	// Some keys are both a file and a directory: keep the files.
	var ok []string
	dirs := map[string]bool{}
	for _, k := range want {
		if i := strings.LastIndex(k, "/"); i >= 0 {
			dirs[k[:i]] = true
		}
	}
	for _, k := range want {
		if !dirs[k] && validKey(k) { // not "k./." either
			ok = append(ok, k)
		}
	}
	root := build(t, ok...)
	got := keysOf(listAll(t, New(Options{}), root, "", 5))
	if !slices.IsSorted(got) {
		t.Errorf("listing is not sorted: %q", got)
	}
	checkKeys(t, "List", got, ok)
}
