package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

// keySource lists a sorted slice of keys, pageSize at a time; its tokens
// are indexes, and it can start after any string.
type keySource struct {
	keys     []string
	pageSize int
	requests atomic.Int64
}

func (s *keySource) page(prefix string, from, max int) providers.Page {
	s.requests.Add(1)
	if max == 0 {
		max = s.pageSize
	}
	var p providers.Page
	i := from
	for ; i < len(s.keys) && len(p.Objects) < max; i++ {
		if !strings.HasPrefix(s.keys[i], prefix) {
			if s.keys[i] > prefix {
				break
			}
			continue
		}
		p.Objects = append(p.Objects, providers.Object{Key: s.keys[i]})
	}
	for ; i < len(s.keys); i++ {
		if strings.HasPrefix(s.keys[i], prefix) {
			p.Next = strconv.Itoa(i)
			break
		}
		if s.keys[i] > prefix {
			break
		}
	}
	return p
}

func (s *keySource) List(_ context.Context, _ string, o providers.ListOptions) (providers.Page, error) {
	from := 0
	if o.Token != "" {
		from, _ = strconv.Atoi(o.Token)
	}
	return s.page(o.Prefix, from, o.MaxResults), nil
}

func (s *keySource) Stat(context.Context, string, string) (providers.ObjectInfo, error) {
	return providers.ObjectInfo{}, providers.ErrNotFound
}

func (s *keySource) ListAfter(_ context.Context, _ string, o providers.ListOptions, after string) (providers.Page, error) {
	return s.page(o.Prefix, sort.SearchStrings(s.keys, after+"\x00"), o.MaxResults), nil
}

// sequentialOnly hides ListAfter.
type sequentialOnly struct{ *keySource }

func (s sequentialOnly) List(ctx context.Context, b string, o providers.ListOptions) (providers.Page, error) {
	return s.keySource.List(ctx, b, o)
}

func TestListPartitioned(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "z", "0", "9", "/", " ", "~", "\x01", "é", "日", "\U0010FFFF", "-", "A"}
	seen := map[string]bool{}
	var keys []string
	for len(keys) < 5000 {
		var b strings.Builder
		for range 1 + r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		if k := b.String(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range 3000 { // a dense, deep branch
		keys = append(keys, fmt.Sprintf("logs/2024/%05d", i))
	}
	sort.Strings(keys)
	for _, prefix := range []string{"", "logs/", "a", "nothing"} {
		for _, parts := range []int{1, 4, 16} {
			for _, seq := range []bool{false, true} {
				ks := &keySource{keys: keys, pageSize: 100}
				var src providers.Source = ks
				if seq {
					src = sequentialOnly{ks}
				}
				got := map[string]int{}
				err := ListPartitioned(context.Background(), src, "b", prefix, parts, func(p providers.Page) error {
					for _, o := range p.Objects {
						got[o.Key]++
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				for _, k := range keys {
					if strings.HasPrefix(k, prefix) {
						want++
						if got[k] != 1 {
							t.Fatalf("prefix %q parts %d: key %q listed %d times", prefix, parts, k, got[k])
						}
					}
				}
				if len(got) != want {
					t.Fatalf("prefix %q parts %d: %d keys, want %d", prefix, parts, len(got), want)
				}
			}
		}
	}
}

func TestListPartitionedStopsOnError(t *testing.T) {
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%c/%04d", 'a'+i%20, i)
	}
	sort.Strings(keys)
	stop := fmt.Errorf("stop")
	n := 0
	err := ListPartitioned(context.Background(), &keySource{keys: keys, pageSize: 50}, "b", "", 8, func(p providers.Page) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err %v", err)
	}
}

// lowSplit makes listings split after n pages for the test.
func lowSplit(t *testing.T, n int64) {
	t.Helper()
	old := splitAfterPages
	splitAfterPages = n
	t.Cleanup(func() { splitAfterPages = old })
}

// skewedKeys are n keys (n >= 500) with most of them under one deep
// prefix, a few hundred under a second, and the rest spread over the
// alphabet, multi-byte characters included. Sorted.
func skewedKeys(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	alphabet := []string{"a", "b", "z", "0", "9", "/", " ", "~", "é", "日", "-", "A", "x/"}
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range n * 3 / 4 {
		add(fmt.Sprintf("logs/2024/%02d/%06d.gz", i%12, i))
	}
	for i := range n / 8 {
		add(fmt.Sprintf("img/%03d/x.jpg", i))
	}
	for len(keys) < n {
		var b strings.Builder
		for range 1 + r.IntN(6) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		b.WriteString("k") // no folder markers
		add(b.String())
	}
	sort.Strings(keys)
	return keys
}

// listingSource is a memory source that counts its listing pages in
// flight (probes, one-key ListAfter calls, apart) and holds each a moment
// so they overlap.
type listingSource struct {
	*memory.Store
	inFlight, maxInFlight atomic.Int64
	rangeStarts           atomic.Int64 // ListAfter calls for pages, not probes
}

func (s *listingSource) hold() func() {
	n := s.inFlight.Add(1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	time.Sleep(200 * time.Microsecond)
	return func() { s.inFlight.Add(-1) }
}

func (s *listingSource) List(ctx context.Context, b string, o providers.ListOptions) (providers.Page, error) {
	defer s.hold()()
	return s.Store.List(ctx, b, o)
}

func (s *listingSource) ListAfter(ctx context.Context, b string, o providers.ListOptions, after string) (providers.Page, error) {
	if o.MaxResults != 1 {
		s.rangeStarts.Add(1)
		defer s.hold()()
	}
	return s.Store.ListAfter(ctx, b, o, after)
}

// keyResults records the keys of every result, and how often each came.
type keyResults struct {
	mu    sync.Mutex
	keys  map[string]int
	order []string
}

func (c *keyResults) add(r ObjectResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[string]int{}
	}
	c.keys[r.Key]++
	c.order = append(c.order, r.Key)
}

func (c *keyResults) exactlyOnce(t *testing.T, keys []string, prefix string) {
	t.Helper()
	want := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		want++
		if n := c.keys[k]; n != 1 {
			t.Fatalf("key %q dispatched %d times", k, n)
		}
	}
	if len(c.keys) != want {
		t.Fatalf("%d keys dispatched, want %d", len(c.keys), want)
	}
}

func putKeys(s *memory.Store, keys []string) {
	for i, k := range keys {
		s.Put("bkt", k, payload(1+i%7, byte(i)), providers.Properties{})
	}
}

// TestParallelListing: a listing past splitAfterPages pages goes on in
// ranges; every key (skewed prefixes, multi-byte characters) is dispatched
// exactly once, with a prefix or without, and no more listing pages are
// held at once than ListParallelism.
func TestParallelListing(t *testing.T) {
	lowSplit(t, 3)
	keys := skewedKeys(3000, 1)
	for _, tc := range []struct {
		prefix string
		parts  int
	}{{"", 0}, {"", 4}, {"logs/", 0}, {"logs/2024/", 3}, {"img/", 16}, {"x", 2}} {
		t.Run(fmt.Sprintf("prefix=%q/parts=%d", tc.prefix, tc.parts), func(t *testing.T) {
			store := memory.New(memory.Options{PageSize: 10})
			putKeys(store, keys)
			src := &listingSource{Store: store}
			var got keyResults
			c, err := New(src, memory.New(memory.Options{}), Options{Routes: []Route{{Bucket: "bkt", Prefix: tc.prefix, Container: "c"}},
				DryRun: true, Retry: fastRetry(), ListParallelism: tc.parts, OnResult: got.add})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got.exactlyOnce(t, keys, tc.prefix)
			if sum.Objects != int64(len(got.keys)) || sum.Planned != sum.Objects {
				t.Errorf("summary: %d objects, %d planned; %d keys", sum.Objects, sum.Planned, len(got.keys))
			}
			parts := tc.parts
			if parts == 0 {
				parts = DefaultListParallelism
			}
			if len(got.keys) > 1000 && src.rangeStarts.Load() == 0 {
				t.Error("a long listing was not split")
			}
			if m := src.maxInFlight.Load(); m > int64(parts) {
				t.Errorf("%d listing pages at once, ListParallelism %d", m, parts)
			}
			if sum.Estimate.S3List != int64(store.Calls("List")+store.Calls("ListAfter")) {
				t.Errorf("estimate counts %d listing requests, the source saw %d", sum.Estimate.S3List, store.Calls("List")+store.Calls("ListAfter"))
			}
			t.Logf("%d keys: %d List, %d ListAfter (%d of them starting ranges, the others probes), %d pages at most at once",
				len(got.keys), store.Calls("List"), store.Calls("ListAfter"), src.rangeStarts.Load(), src.maxInFlight.Load())
		})
	}
}

// TestListParallelismOne: ListParallelism 1 is the one sequential stream
// of before: every page once, in key order, no ListAfter, journaled with
// one token.
func TestListParallelismOne(t *testing.T) {
	lowSplit(t, 3)
	keys := skewedKeys(1000, 2)
	store := memory.New(memory.Options{PageSize: 10})
	putKeys(store, keys)
	j := newJournal(t)
	var got keyResults
	route := Route{Bucket: "bkt", Container: "c"}
	c, err := New(store, memory.New(memory.Options{}), Options{Routes: []Route{route}, DryRun: true, Retry: fastRetry(),
		ListParallelism: 1, Concurrency: 1, Journal: j, OnResult: got.add})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got.exactlyOnce(t, keys, "")
	if !slices.Equal(got.order, keys) {
		t.Error("objects not dispatched in key order")
	}
	if n, a := store.Calls("List"), store.Calls("ListAfter"); n != len(keys)/10 || a != 0 {
		t.Errorf("%d List and %d ListAfter calls, want %d and 0", n, a, len(keys)/10)
	}
	st, _ := j.Route(route.String())
	if !st.Done || st.Ranges != nil || st.Pages != int64(len(keys)/10) {
		t.Errorf("journal route state %+v", st)
	}
}

// noRanges is a Journal that cannot record ranges.
type noRanges struct{ Journal }

// TestParallelListingNeedsItsJournal: with a journal that cannot record
// ranges, the listing stays one stream.
func TestParallelListingNeedsItsJournal(t *testing.T) {
	lowSplit(t, 3)
	keys := skewedKeys(800, 3)
	store := memory.New(memory.Options{PageSize: 10})
	putKeys(store, keys)
	var got keyResults
	c, err := New(store, memory.New(memory.Options{}), Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, DryRun: true,
		Retry: fastRetry(), Journal: noRanges{newJournal(t)}, OnResult: got.add})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got.exactlyOnce(t, keys, "")
	if a := store.Calls("ListAfter"); a != 0 {
		t.Errorf("%d ListAfter calls", a)
	}
}

// TestSyncListsOneStream: a sync compares two ordered listings: never in
// ranges.
func TestSyncListsOneStream(t *testing.T) {
	lowSplit(t, 2)
	r := newRig(t, nil)
	keys := skewedKeys(600, 4)
	putKeys(r.src, keys)
	c, err := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Sync: true, PageSize: 10, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != int64(len(keys)) {
		t.Fatalf("sync: %+v, %v", sum, err)
	}
	if a := r.src.Calls("ListAfter"); a != 0 {
		t.Errorf("a sync made %d ListAfter calls", a)
	}
}

// TestParallelListingResume: runs killed (ctx canceled) after a random
// number of listing requests — in the one stream, among the probes, in
// the ranges — and resumed from the journal, with ListParallelism
// changing between runs, copy every key exactly once overall: a key
// appears again only as in doubt (found at the destination, not copied)
// or interrupted.
func TestParallelListingResume(t *testing.T) {
	lowSplit(t, 3)
	keys := skewedKeys(1200, 5)
	rnd := rand.New(rand.NewPCG(5, 5))
	for scenario := range 10 {
		t.Run(fmt.Sprint(scenario), func(t *testing.T) {
			var lists atomic.Int64
			var killAt atomic.Int64
			var cancel atomic.Pointer[context.CancelFunc]
			src := memory.New(memory.Options{PageSize: 10, Fault: func(op, _ string) error {
				if (op == "List" || op == "ListAfter") && lists.Add(1) == killAt.Load() {
					(*cancel.Load())()
				}
				return nil
			}})
			srv := httptest.NewServer(src.Handler())
			t.Cleanup(srv.Close)
			src.SetBaseURL(srv.URL)
			dst := memory.New(memory.Options{Client: srv.Client()})
			putKeys(src, keys)
			j := newJournal(t)
			route := Route{Bucket: "bkt", Container: "c"}
			copies := map[string]int{} // copied, not found
			var mu sync.Mutex
			var runs []string
			for run := 0; ; run++ {
				if run > 10 {
					t.Fatalf("not done after %d runs: %v", run, runs)
				}
				kill := int64(0)
				if run < 3 {
					kill = lists.Load() + 1 + rnd.Int64N(150)
				}
				killAt.Store(kill)
				parts := []int{0, 1, 4, 16}[rnd.IntN(4)]
				ctx, cf := context.WithCancel(context.Background())
				cancel.Store(&cf)
				c, err := New(src, dst, Options{Routes: []Route{route}, Retry: fastRetry(), Concurrency: 8, Journal: j,
					JobStarted: time.Now().Add(-time.Minute), ListParallelism: parts, OnResult: func(r ObjectResult) {
						if r.Outcome == Copied && !r.Found {
							mu.Lock()
							copies[r.Key]++
							mu.Unlock()
						}
						if r.Outcome == Failed {
							t.Errorf("%s failed: %s", r.Key, r.Reason)
						}
					}})
				if err != nil {
					t.Fatal(err)
				}
				sum, err := c.Run(ctx)
				cf()
				st, _ := j.Route(route.String())
				runs = append(runs, fmt.Sprintf("parts %d kill at %d: %d listed, err %v, %d ranges, done %v", parts, kill, sum.Objects, err, len(st.Ranges), st.Done))
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("run %d: %v", run, err)
				}
			}
			t.Log(strings.Join(runs, "; "))
			for _, k := range keys {
				if copies[k] != 1 {
					t.Fatalf("%q copied %d times", k, copies[k])
				}
				if _, _, ok := dst.Get("c", k); !ok {
					t.Fatalf("%q missing at the destination", k)
				}
			}
			if len(copies) != len(keys) {
				t.Fatalf("%d keys copied, want %d", len(copies), len(keys))
			}
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			if c, _ := j.Counts(route.String()); c[journal.Copied] != int64(len(keys)) || len(c) != 1 {
				t.Errorf("journal counts %v", c)
			}
			if st, _ := j.Route(route.String()); !st.Done {
				t.Errorf("route state %+v", st)
			}
		})
	}
}
