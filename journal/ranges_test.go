package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var threeRanges = []ListRange{{Until: "g"}, {After: "g", Until: "p~"}, {After: "p~"}}

// TestRecordRanges: a partitioned listing's ranges and each range's
// progress are recorded with its pages, survive a reopen, and make the
// route Done only when every range is.
func TestRecordRanges(t *testing.T) {
	j, dir := newJournal(t)
	id := j.Job().ID
	if err := j.RecordRanges(testRoute, []ListRange{{Until: "g", Token: "x", Done: true}, threeRanges[1], threeRanges[2]}); err != nil {
		t.Fatal(err)
	}
	rs, err := j.Route(testRoute)
	if err != nil || !reflect.DeepEqual(rs, RouteState{Ranges: threeRanges}) {
		t.Fatalf("Route after RecordRanges = %+v, %v (Token and Done of the ranges given are ignored)", rs, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(j.RecordRangePage(testRoute, 1, entries("h1", "h2"), "tok-1a"))
	must(j.RecordRangePage(testRoute, 0, entries("a", "b"), ""))
	must(j.RecordRangePage(testRoute, 2, entries("q"), "tok-2a"))
	must(j.RecordRangePage(testRoute, 1, entries("h2", "h3"), "tok-1b")) // h2 again: kept as it is
	j.Finish(testRoute, Entry{Key: "h2", State: Copied})
	must(j.Flush())
	want := RouteState{Pages: 4, Objects: 7, Ranges: []ListRange{
		{Until: "g", Done: true}, {After: "g", Until: "p~", Token: "tok-1b"}, {After: "p~", Token: "tok-2a"}}}
	if rs, err := j.Route(testRoute); err != nil || !reflect.DeepEqual(rs, want) {
		t.Fatalf("Route = %+v, %v; want %+v", rs, err, want)
	}

	// Wrong uses are refused and leave the journal working.
	for name, err := range map[string]error{
		"RecordPage on a ranged route":      j.RecordPage(testRoute, entries("z"), ""),
		"RecordRangePage of a done range":   j.RecordRangePage(testRoute, 0, entries("c"), ""),
		"RecordRangePage of range 3":        j.RecordRangePage(testRoute, 3, nil, ""),
		"RecordRangePage of range -1":       j.RecordRangePage(testRoute, -1, nil, ""),
		"RecordRangePage, route not ranged": j.RecordRangePage("other", 0, nil, ""),
		"RecordRanges again":                j.RecordRanges(testRoute, threeRanges),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if rs, err := j.Route(testRoute); err != nil || !reflect.DeepEqual(rs, want) {
		t.Fatalf("Route after refused calls = %+v, %v", rs, err)
	}

	// Reopened: the same state; finishing the ranges finishes the route.
	must(j.Close())
	j, err = Open(dir, id)
	must(err)
	defer j.Close()
	if rs, err := j.Route(testRoute); err != nil || !reflect.DeepEqual(rs, want) {
		t.Fatalf("Route after reopen = %+v, %v", rs, err)
	}
	must(j.RecordRangePage(testRoute, 2, entries("r"), ""))
	if rs, _ := j.Route(testRoute); rs.Done {
		t.Fatal("route done while range 1 is not")
	}
	must(j.RecordRangePage(testRoute, 1, nil, ""))
	if rs, _ := j.Route(testRoute); !rs.Done || rs.Pages != 6 || rs.Objects != 8 {
		t.Fatalf("Route = %+v, want done after 6 pages, 8 objects", rs)
	}
	got, _ := scan(t, j, testRoute)
	if len(got) != 7 || got["h2"].State != Copied || got["r"].State != Pending {
		t.Errorf("entries %v", got)
	}
	checkCounts(t, j, testRoute)
}

func TestRecordRangesValidation(t *testing.T) {
	j, _ := newJournal(t)
	for name, rgs := range map[string][]ListRange{
		"none":                  nil,
		"one":                   {{}},
		"first has After":       {{After: "a", Until: "b"}, {After: "b"}},
		"last has Until":        {{Until: "b"}, {After: "b", Until: "c"}},
		"gap":                   {{Until: "b"}, {After: "c"}},
		"empty boundary":        {{Until: ""}, {After: ""}},
		"not increasing":        {{Until: "m"}, {After: "m", Until: "c"}, {After: "c"}},
		"second range is empty": {{Until: "m"}, {After: "m", Until: "m"}, {After: "m"}},
		"bound not UTF-8":       {{Until: "\xc3"}, {After: "\xc3"}},
	} {
		if err := j.RecordRanges(testRoute, rgs); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := j.RecordPage("listed", entries("a"), ""); err != nil {
		t.Fatal(err)
	}
	if err := j.RecordRanges("listed", threeRanges); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordRanges of a route listed to its end: %v, want ErrInvalid", err)
	}
	if err := j.RecordRanges(testRoute, threeRanges); err != nil {
		t.Errorf("valid ranges after refused ones: %v", err)
	}
}

// TestRecordRangePageConcurrent: ranges record their pages from their own
// goroutines; every page and every key is there after.
func TestRecordRangePageConcurrent(t *testing.T) {
	j, _ := newJournal(t)
	const ranges, pages, per = 8, 20, 25
	rgs := make([]ListRange, ranges)
	for i := range rgs {
		if i > 0 {
			rgs[i].After = fmt.Sprintf("r%d", i)
			rgs[i-1].Until = rgs[i].After
		}
	}
	if err := j.RecordRanges(testRoute, rgs); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for r := range ranges {
		wg.Go(func() {
			for p := range pages {
				es := make([]Entry, per)
				for i := range es {
					es[i] = Entry{Key: fmt.Sprintf("r%d/%03d/%03d", r, p, i)}
				}
				next := fmt.Sprintf("r%d-tok%d", r, p+1)
				if p == pages-1 {
					next = ""
				}
				if err := j.RecordRangePage(testRoute, r, es, next); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rs, err := j.Route(testRoute)
	if err != nil || !rs.Done || rs.Pages != ranges*pages || rs.Objects != ranges*pages*per {
		t.Fatalf("Route = %+v, %v", rs, err)
	}
	if c, _ := j.Counts(testRoute); c[Pending] != ranges*pages*per {
		t.Errorf("counts %v", c)
	}
}

func storeVersion(t *testing.T, dir, id string) []byte {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, id, dbName), 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	_ = db.View(func(tx *bolt.Tx) error {
		v = append(v, tx.Bucket(bucketMeta).Get(keyVersion)...)
		return nil
	})
	return v
}

func setStoreVersion(t *testing.T, dir, id string, v byte) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, id, dbName), 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte{v}) }); err != nil {
		t.Fatal(err)
	}
}

// TestFormatVersions: a store stays at format 1 (what builds before ranges
// wrote and read) until a route is listed in ranges, which makes it 2 so
// those builds refuse it rather than list the route again from the start;
// Open reads both and refuses others.
func TestFormatVersions(t *testing.T) {
	j, dir := newJournal(t)
	id := j.Job().ID
	if err := j.RecordPage("one stream", entries("a"), "tok"); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if v := storeVersion(t, dir, id); len(v) != 1 || v[0] != 1 {
		t.Fatalf("version %v after a one-stream page, want 1", v)
	}
	j, err := Open(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := j.Route("one stream"); err != nil || rs.Token != "tok" || rs.Ranges != nil {
		t.Fatalf("Route = %+v, %v", rs, err)
	}
	if err := j.RecordRanges(testRoute, threeRanges); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if v := storeVersion(t, dir, id); len(v) != 1 || v[0] != 2 {
		t.Fatalf("version %v after RecordRanges, want 2", v)
	}
	j, err = Open(dir, id)
	if err != nil {
		t.Fatalf("Open of a format 2 store: %v", err)
	}
	if rs, err := j.Route(testRoute); err != nil || len(rs.Ranges) != 3 {
		t.Fatalf("Route = %+v, %v", rs, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	setStoreVersion(t, dir, id, 3)
	if _, err := Open(dir, id); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open of a format 3 store: %v, want ErrCorrupt", err)
	}
}

// TestRecordRangesAfterOneStream: a listing begun as one stream goes on in
// ranges, the first range from the stream's token.
func TestRecordRangesAfterOneStream(t *testing.T) {
	j, _ := newJournal(t)
	if err := j.RecordPage(testRoute, entries("a", "b"), "tok-b"); err != nil {
		t.Fatal(err)
	}
	if err := j.RecordRanges(testRoute, threeRanges); err != nil {
		t.Fatal(err)
	}
	want := RouteState{Pages: 1, Objects: 2, Ranges: []ListRange{{Until: "g", Token: "tok-b"}, threeRanges[1], threeRanges[2]}}
	if rs, err := j.Route(testRoute); err != nil || !reflect.DeepEqual(rs, want) {
		t.Fatalf("Route = %+v, %v; want %+v", rs, err, want)
	}
	if err := j.RecordRangePage(testRoute, 0, entries("c"), ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := scan(t, j, testRoute); len(got) != 3 {
		t.Errorf("entries %v", got)
	}
}
