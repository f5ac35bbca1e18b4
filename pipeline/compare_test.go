package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

// seen is what Compare reported for one name.
type seen struct{ src, dst bool }

// collect runs Compare and returns every name with its sides, failing on a
// name reported twice, and the merged (unencoded) names in call order.
func collect(t *testing.T, src, dst *memory.Store, r Route, o CompareOptions) (map[string]seen, []string) {
	t.Helper()
	got := map[string]seen{}
	var order []string
	err := Compare(context.Background(), src, dst, r, o, func(p Pair) error {
		if _, dup := got[p.Name]; dup {
			t.Errorf("%q reported twice", p.Name)
		}
		if p.Src == nil && p.Dst == nil {
			t.Errorf("%q: a pair with neither side", p.Name)
		}
		if p.Dst != nil && p.Dst.Key != p.Name {
			t.Errorf("%q: destination object %q", p.Name, p.Dst.Key)
		}
		if p.Src != nil {
			if name, _, _ := BlobNameFor(r, p.Src.Key, o.Names); name != p.Name {
				t.Errorf("%q: source key %q maps to %q", p.Name, p.Src.Key, name)
			}
		}
		got[p.Name] = seen{p.Src != nil, p.Dst != nil}
		order = append(order, p.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, order
}

// reference is the expected result, computed with whole listings in memory.
func reference(t *testing.T, src, dst *memory.Store, r Route, o CompareOptions) map[string]seen {
	t.Helper()
	want := map[string]seen{}
	for _, k := range allKeys(t, src, r.Bucket, r.Prefix) {
		if name, _, skip := BlobNameFor(r, k, o.Names); skip == "" {
			want[name] = seen{src: true}
		}
	}
	for _, n := range allKeys(t, dst, r.Container, naming.JoinBlobName(r.DestPrefix, "")) {
		s := want[n]
		s.dst = true
		want[n] = s
	}
	return want
}

func allKeys(t *testing.T, s *memory.Store, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	token := ""
	for {
		p, err := s.List(context.Background(), bucket, providers.ListOptions{Prefix: prefix, Token: token})
		if providers.KindOf(err) == providers.KindNotFound {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			keys = append(keys, o.Key)
		}
		if p.Next == "" {
			return keys
		}
		token = p.Next
	}
}

// copyNames puts every source key of r that a copy would write (and for
// which keep says so) at the destination under its blob name.
func copyNames(t *testing.T, src, dst *memory.Store, r Route, names NameOptions, keep func(key string) bool) {
	t.Helper()
	for _, k := range allKeys(t, src, r.Bucket, r.Prefix) {
		name, _, skip := BlobNameFor(r, k, names)
		if skip == "" && keep(k) {
			data, info, _ := src.Get(r.Bucket, k)
			dst.Put(r.Container, name, data, info.Properties)
		}
	}
}

func TestBlobNameFor(t *testing.T) {
	r := Route{Prefix: "data/", DestPrefix: "/moved//here/"}
	tests := []struct {
		key     string
		o       NameOptions
		name    string
		renamed bool
		skip    string
	}{
		{"data/a.txt", NameOptions{}, "moved/here/a.txt", false, ""},
		{"data//b", NameOptions{}, "moved/here//b", false, ""},
		{"data/", NameOptions{}, "", false, skipFolderMarker},
		{"data/", NameOptions{KeepFolderMarkers: true}, "", false, skipFolderMarker},
		{"data/dir/", NameOptions{}, "", false, skipFolderMarker},
		{"data/dir/", NameOptions{KeepFolderMarkers: true}, "moved/here/dir/", false, ""},
		{"data/bad.", NameOptions{}, "moved/here/bad.", false, skipBlobName},
		{"data/bad.", NameOptions{RenameInvalidKeys: true}, "moved/here/bad．", true, ""},
		{"data/a\\b", NameOptions{RenameInvalidKeys: true}, "moved/here/a＼b", true, ""},
		{"data/plain", NameOptions{RenameInvalidKeys: true}, "moved/here/plain", false, ""},
	}
	for _, tc := range tests {
		name, renamed, skip := BlobNameFor(r, tc.key, tc.o)
		if name != tc.name || renamed != tc.renamed || !strings.HasPrefix(skip, tc.skip) || (skip == "") != (tc.skip == "") {
			t.Errorf("BlobNameFor(%q, %+v) = %q, %v, %q; want %q, %v, %q", tc.key, tc.o, name, renamed, skip, tc.name, tc.renamed, tc.skip)
		}
	}
}

func TestCompareMergesListings(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	r := Route{Bucket: "bkt", Prefix: "data/", Container: "cont", DestPrefix: "moved"}
	for _, k := range []string{"data/a", "data/b", "data/c/d", "data/c/", "data/e", "data/g", "other/x", "data0"} {
		src.Put("bkt", k, []byte(k), providers.Properties{})
	}
	// At the destination: a and c/d copied, b missing, f and h extra, and
	// blobs outside the destination prefix that do not count.
	for _, n := range []string{"moved/a", "moved/c/d", "moved/e", "moved/f", "moved/h", "elsewhere/a", "movedx"} {
		dst.Put("cont", n, []byte("x"), providers.Properties{})
	}
	for _, pageSize := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprint("page size ", pageSize), func(t *testing.T) {
			var skipped []string
			o := CompareOptions{PageSize: pageSize, OnSkip: func(o providers.Object, why string) { skipped = append(skipped, o.Key) }}
			got, order := collect(t, src, dst, r, o)
			want := map[string]seen{
				"moved/a": {true, true}, "moved/b": {true, false}, "moved/c/d": {true, true}, "moved/e": {true, true},
				"moved/f": {false, true}, "moved/g": {true, false}, "moved/h": {false, true},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			if !slices.IsSorted(order) {
				t.Errorf("names not in ascending order: %q", order)
			}
			if !slices.Equal(skipped, []string{"data/c/"}) {
				t.Errorf("skipped %q, want the folder marker", skipped)
			}
		})
	}
}

func TestCompareMissingContainerAndBucket(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	src.Put("bkt", "a", []byte("a"), providers.Properties{})
	missing := 0
	got, _ := collect(t, src, dst, Route{Bucket: "bkt", Container: "nope"}, CompareOptions{OnMissingContainer: func() { missing++ }})
	if len(got) != 1 || got["a"] != (seen{src: true}) || missing != 1 {
		t.Errorf("got %v, missing-container calls %d", got, missing)
	}
	err := Compare(context.Background(), src, dst, Route{Bucket: "no-bucket", Container: "c"}, CompareOptions{}, func(Pair) error { return nil })
	var se *SetupError
	if !errors.As(err, &se) || !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("missing bucket: %v, want a *SetupError wrapping NotFound", err)
	}
}

func TestCompareRetriesPages(t *testing.T) {
	fails := map[string]int{}
	fault := func(op, where string) error {
		if op == "List" || op == "ListBlobs" {
			fails[op]++
			if fails[op]%2 == 1 { // every other call fails
				return &providers.Error{Kind: providers.KindTransient, Op: op, Msg: "injected"}
			}
		}
		return nil
	}
	src, dst := memory.New(memory.Options{Fault: fault}), memory.New(memory.Options{Fault: fault})
	for i := range 10 {
		src.Put("bkt", fmt.Sprintf("k%02d", i), []byte{byte(i)}, providers.Properties{})
		dst.Put("cont", fmt.Sprintf("k%02d", i), []byte{byte(i)}, providers.Properties{})
	}
	got, _ := collect(t, src, dst, Route{Bucket: "bkt", Container: "cont"}, CompareOptions{PageSize: 3, Retry: fastRetry()})
	if len(got) != 10 {
		t.Errorf("%d names, want 10", len(got))
	}
	// Exhausted retries stop the comparison with the error.
	src2 := memory.New(memory.Options{Fault: func(op, _ string) error {
		if op == "List" {
			return &providers.Error{Kind: providers.KindTransient, Op: op, Msg: "down"}
		}
		return nil
	}})
	src2.CreateBucket("bkt", "")
	err := Compare(context.Background(), src2, dst, Route{Bucket: "bkt", Container: "cont"}, CompareOptions{Retry: fastRetry()}, func(Pair) error { return nil })
	if providers.KindOf(err) != providers.KindTransient {
		t.Errorf("err %v, want the transient listing error", err)
	}
}

func TestCompareStopsOnCallbackError(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	for i := range 5 {
		src.Put("bkt", fmt.Sprint(i), nil, providers.Properties{})
	}
	dst.CreateBucket("cont", "")
	stop := errors.New("stop")
	n := 0
	err := Compare(context.Background(), src, dst, Route{Bucket: "bkt", Container: "cont"}, CompareOptions{PageSize: 1}, func(Pair) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("err %v after %d calls, want stop after 2", err, n)
	}
}

// encodedKeys are keys whose encoded blob names sort elsewhere than the
// keys: later ("\", a trailing ".", control characters) and earlier (an
// invalid byte, a literal "＼").
var encodedKeys = []string{
	"a\\b", "a.", "a/b.", "a\x01", "a\xff", "\xffz", "a＼", "a__0xb", "b\\", "z.", "a", "ab", "a_", "b", "zz",
}

func TestCompareEncodedNames(t *testing.T) {
	names := NameOptions{RenameInvalidKeys: true}
	for _, dp := range []string{"", "p"} {
		r := Route{Bucket: "bkt", Prefix: "in/", Container: "cont", DestPrefix: dp}
		src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
		for _, k := range encodedKeys {
			src.Put("bkt", "in/"+k, []byte(k), providers.Properties{})
		}
		// Every other key copied; marked extras: one some key would encode
		// to, one no key encodes to ("__0xZZ" decodes to itself, which
		// encodes differently); and a plain extra.
		i := 0
		copyNames(t, src, dst, r, names, func(string) bool { i++; return i%2 == 1 })
		lp := naming.JoinBlobName(dp, "")
		for _, n := range []string{"c＼d", "__0xZZ", "zzz", "a__0x5f___0x1__"} {
			dst.Put("cont", lp+n, []byte("x"), providers.Properties{})
		}
		want := reference(t, src, dst, r, CompareOptions{Names: names})
		for _, pageSize := range []int{0, 1, 2, 5} {
			got, order := collect(t, src, dst, r, CompareOptions{Names: names, PageSize: pageSize})
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("prefix %q, page size %d:\ngot  %v\nwant %v", dp, pageSize, got, want)
			}
			var plain []string
			for _, n := range order {
				rel := strings.TrimPrefix(n, lp)
				if !strings.ContainsAny(rel, "．＼") && !strings.Contains(rel, "__0x") {
					plain = append(plain, n)
				}
			}
			if !slices.IsSorted(plain) {
				t.Errorf("unencoded names out of order: %q", plain)
			}
		}
	}
}

// TestCompareRandom checks Compare against a whole-listing reference on
// random keys drawn from an alphabet rich in what the encoding changes.
func TestCompareRandom(t *testing.T) {
	alphabet := []string{"a", "b", "/", ".", "\\", "_", "__0x", "\x01", "\xff", "＼", "．", "é", "z"}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 60 {
		names := NameOptions{RenameInvalidKeys: round%3 != 0, KeepFolderMarkers: round%4 == 0}
		r := Route{Bucket: "bkt", Container: "cont"}
		if round%2 == 0 {
			r.Prefix, r.DestPrefix = "p/", "q/r"
		}
		src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
		src.CreateBucket("bkt", "")
		dst.CreateBucket("cont", "")
		for range 40 {
			var b strings.Builder
			b.WriteString(r.Prefix)
			for range 1 + rng.IntN(4) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			src.Put("bkt", b.String(), nil, providers.Properties{})
		}
		copyNames(t, src, dst, r, names, func(string) bool { return rng.IntN(3) != 0 })
		lp := naming.JoinBlobName(r.DestPrefix, "")
		for range 10 {
			var b strings.Builder
			b.WriteString(lp)
			for range 1 + rng.IntN(4) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			if n := b.String(); strings.ToValidUTF8(n, "") == n {
				dst.Put("cont", n, nil, providers.Properties{})
			}
		}
		o := CompareOptions{Names: names, PageSize: 1 + rng.IntN(5)}
		want := reference(t, src, dst, r, o)
		got, _ := collect(t, src, dst, r, o)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d (%+v, %+v):\ngot  %+q\nwant %+q", round, names, r, fmt.Sprint(got), fmt.Sprint(want))
		}
	}
}

// TestCompareSideSetStaysSmall: with many encoded keys spread through a
// bucket, the side set holds only the names between the two listings'
// positions, not all of them.
func TestCompareSideSetStaysSmall(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	r := Route{Bucket: "bkt", Container: "cont"}
	names := NameOptions{RenameInvalidKeys: true}
	for i := range 2000 {
		k := fmt.Sprintf("k%05d", i)
		switch i % 10 {
		case 0:
			k += "." // "k00010." encodes to "k00010．"
		case 5:
			k += "\\x" // "k00015\\x" encodes to "k00015＼x"
		}
		src.Put("bkt", k, nil, providers.Properties{})
	}
	copyNames(t, src, dst, r, names, func(string) bool { return true })
	c := 0
	maxPending := 0
	var cmp *comparer
	fn := func(p Pair) error {
		c++
		if cmp != nil {
			maxPending = max(maxPending, len(cmp.pendSrc)+len(cmp.pendDst))
		}
		if p.Src == nil || p.Dst == nil {
			t.Errorf("%q: unpaired", p.Name)
		}
		return nil
	}
	cmp = &comparer{r: r, o: CompareOptions{Names: names, PageSize: 50, Retry: fastRetry()}, fn: fn,
		pendSrc: map[string]*providers.Object{}, pendDst: map[string]*providers.Object{}}
	sum := func() { maxPending = max(maxPending, len(cmp.pendSrc)+len(cmp.pendDst)) }
	cmp.src = lister{retry: fastRetry(), list: func(ctx context.Context, tok string) (providers.Page, error) {
		sum()
		return src.List(ctx, "bkt", providers.ListOptions{Token: tok, MaxResults: 50})
	}}
	cmp.dst = lister{retry: fastRetry(), list: func(ctx context.Context, tok string) (providers.Page, error) {
		sum()
		return dst.ListBlobs(ctx, "cont", providers.ListOptions{Token: tok, MaxResults: 50})
	}}
	if err := cmp.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c != 2000 {
		t.Errorf("%d pairs, want 2000", c)
	}
	t.Logf("side set at most %d names", maxPending)
	if maxPending > 5 {
		t.Errorf("side set grew to %d names", maxPending)
	}
}
