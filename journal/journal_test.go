package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRoute = "src-bucket/photos/ -> dst-container/photos/"

func newJournal(t testing.TB) (*Journal, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "jobs")
	j, err := Create(dir, Job{Command: "copy", Args: []string{"copy", "s3://a", "az://b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j, dir
}

// scan reads every committed entry of a route through Each.
func scan(t testing.TB, j *Journal, route string) (map[string]Entry, map[State]int64) {
	t.Helper()
	m := map[string]Entry{}
	counts := map[State]int64{}
	var last string
	err := j.Each(route, nil, func(e Entry) error {
		if len(m) > 0 && e.Key <= last {
			t.Errorf("Each: %q after %q: not in key order", e.Key, last)
		}
		last = e.Key
		m[e.Key] = e
		counts[e.State]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, counts
}

func checkCounts(t testing.TB, j *Journal, route string) {
	t.Helper()
	_, scanned := scan(t, j, route)
	got, err := j.Counts(route)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, scanned) {
		t.Errorf("Counts(%q) = %v, scan gives %v", route, got, scanned)
	}
}

func entries(keys ...string) []Entry {
	es := make([]Entry, len(keys))
	for i, k := range keys {
		es[i] = Entry{Key: k, Size: int64(i * 10), ETag: fmt.Sprintf(`"etag-%d"`, i)}
	}
	return es
}

func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 21, 5, 48, 12, 0, time.FixedZone("x", 3600))
	id := NewID(now)
	if !regexp.MustCompile(`^20261121T044812-[0-9a-f]{6}$`).MatchString(id) {
		t.Errorf("NewID = %q", id)
	}
	if NewID(now) == id {
		t.Errorf("two ids in the same second are equal: %q", id)
	}
	if later := NewID(now.Add(time.Second)); later <= id {
		t.Errorf("ids do not sort by time: %q <= %q", later, id)
	}
	if err := validID(id); err != nil {
		t.Error(err)
	}
}

func TestState(t *testing.T) {
	for s, want := range map[State]string{Pending: "pending", Copied: "copied", Skipped: "skipped", Failed: "failed", 0: "State(0)", 9: "State(9)"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", s, s.String(), want)
		}
	}
	b, err := json.Marshal(map[State]int64{Copied: 3, Failed: 1})
	if err != nil || string(b) != `{"copied":3,"failed":1}` {
		t.Errorf("json = %s, %v", b, err)
	}
	var m map[State]int64
	if err := json.Unmarshal(b, &m); err != nil || m[Copied] != 3 || m[Failed] != 1 {
		t.Errorf("unmarshal = %v, %v", m, err)
	}
}

func TestEntryEncoding(t *testing.T) {
	for _, e := range []Entry{
		{Key: "k", State: Pending},
		{Key: "k", Size: -1, ETag: `"abc-2"`, State: Failed, Blob: "a/b", Attempts: 7, Reason: "403 AccessDenied"},
		{Key: "k", Size: 1 << 62, State: Copied, Blob: strings.Repeat("é", 600)},
	} {
		got, err := decodeEntry([]byte(e.Key), encodeEntry(e))
		if err != nil || got != e {
			t.Errorf("round trip of %+v = %+v, %v", e, got, err)
		}
	}
	for _, b := range [][]byte{nil, {9, 1}, {entryVersion, 1}, {entryVersion, 1, 0, 0, 5, 'a'}} {
		if _, err := decodeEntry([]byte("k"), b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode %v: err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestCreateOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jobs")
	job := Job{
		ID:      "20261121T054812-3fa9c2",
		Command: "sync",
		Args:    []string{"sync", "s3://b", "az://c", "--delete-destination"},
		Options: json.RawMessage(`{"concurrency":8}`),
	}
	j, err := Create(dir, job)
	if err != nil {
		t.Fatal(err)
	}
	got := j.Job()
	if got.ID != job.ID || got.State != JobRunning || got.Created.IsZero() || !reflect.DeepEqual(got.Args, job.Args) || string(got.Options) != string(job.Options) {
		t.Errorf("Job() = %+v", got)
	}
	if j.Dir() != filepath.Join(dir, job.ID) {
		t.Errorf("Dir() = %q", j.Dir())
	}
	for name, want := range map[string]fs.FileMode{dir: 0o700 | fs.ModeDir, j.Dir(): 0o700 | fs.ModeDir, filepath.Join(j.Dir(), dbName): 0o600, filepath.Join(j.Dir(), jobName): 0o600} {
		if st, err := os.Stat(name); err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, st.Mode(), err, want)
		}
	}
	if _, err := Create(dir, job); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), job.ID) {
		t.Errorf("Create twice: err = %v, want ErrExists naming the id", err)
	}
	if err := j.RecordPage(testRoute, entries("a"), ""); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := j.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if _, err := j.Routes(); !errors.Is(err, ErrClosed) {
		t.Errorf("Routes after Close: %v", err)
	}

	j2, err := Open(dir, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if g := j2.Job(); !g.Created.Equal(got.Created) || g.Command != "sync" || !reflect.DeepEqual(g.Args, job.Args) {
		t.Errorf("reopened Job() = %+v, want %+v", g, got)
	}
	if e, ok, err := j2.Get(testRoute, "a"); !ok || err != nil || e.State != Pending {
		t.Errorf("Get after reopen = %+v, %v, %v", e, ok, err)
	}
}

func TestOpenMissing(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"20260101T000000-abcdef", "nope"} {
		_, err := Open(dir, id)
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), id) {
			t.Errorf("Open(%q): err = %v, want ErrNotFound naming the id", id, err)
		}
	}
	for _, id := range []string{"", "..", "a/b", "../etc", "a b"} {
		if _, err := Open(dir, id); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want ErrInvalid", id, err)
		}
		if _, err := Create(dir, Job{ID: id}); id != "" && !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q): err = %v, want ErrInvalid", id, err)
		}
	}
	// A folder without a store is not a job either.
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, "empty"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(empty folder): %v", err)
	}
}

// op is one step of a round-trip case.
type op func(t *testing.T, j *Journal)

func record(route string, objs []Entry, next string) op {
	return func(t *testing.T, j *Journal) {
		t.Helper()
		if err := j.RecordPage(route, objs, next); err != nil {
			t.Fatal(err)
		}
	}
}

func finish(route string, e Entry) op {
	return func(t *testing.T, j *Journal) { j.Finish(route, e) }
}

func flush(t *testing.T, j *Journal) {
	t.Helper()
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
}

var weirdKeys = []string{
	"a//b", "../x", "./", "/leading", "trailing/", "日本語/ファイル.txt", "emoji 🙂", "sp ace", "%2F",
	"\x00nul", "\xff\xfe not utf-8", "a\\b", strings.Repeat("k", 1024), strings.Repeat("é", 1024),
}

func TestRoundTrip(t *testing.T) {
	const r2 = "other-bucket -> other-container/x"
	tests := []struct {
		name       string
		ops        []op
		route      string
		want       map[string]State
		wantRoute  RouteState
		wantRoutes []string
	}{
		{
			name:       "one page",
			ops:        []op{record(testRoute, entries("b", "a"), "tok1")},
			route:      testRoute,
			want:       map[string]State{"a": Pending, "b": Pending},
			wantRoute:  RouteState{Token: "tok1", Pages: 1, Objects: 2},
			wantRoutes: []string{testRoute},
		},
		{
			name: "last page marks the listing done",
			ops: []op{
				record(testRoute, entries("a", "b"), "tok1"),
				record(testRoute, entries("c"), ""),
			},
			route:      testRoute,
			want:       map[string]State{"a": Pending, "b": Pending, "c": Pending},
			wantRoute:  RouteState{Done: true, Pages: 2, Objects: 3},
			wantRoutes: []string{testRoute},
		},
		{
			name: "re-recorded page keeps existing states",
			ops: []op{
				record(testRoute, entries("a", "b"), "tok1"),
				finish(testRoute, Entry{Key: "a", State: Copied, Blob: "a"}),
				finish(testRoute, Entry{Key: "b", State: Failed, Reason: "403"}),
				flush,
				record(testRoute, entries("a", "b", "c"), "tok2"),
			},
			route:      testRoute,
			want:       map[string]State{"a": Copied, "b": Failed, "c": Pending},
			wantRoute:  RouteState{Token: "tok2", Pages: 2, Objects: 5},
			wantRoutes: []string{testRoute},
		},
		{
			name:       "duplicate keys in one page keep the first",
			ops:        []op{record(testRoute, entries("a", "a"), "")},
			route:      testRoute,
			want:       map[string]State{"a": Pending},
			wantRoute:  RouteState{Done: true, Pages: 1, Objects: 2},
			wantRoutes: []string{testRoute},
		},
		{
			name: "last Finish of a key wins within and across batches",
			ops: []op{
				record(testRoute, entries("a", "b", "c"), ""),
				finish(testRoute, Entry{Key: "a", State: Failed, Attempts: 1}),
				finish(testRoute, Entry{Key: "a", State: Copied, Attempts: 2}),
				finish(testRoute, Entry{Key: "b", State: Skipped, Reason: "exists"}),
				flush,
				finish(testRoute, Entry{Key: "b", State: Copied}),
				finish(testRoute, Entry{Key: "c", State: Pending, Attempts: 1}),
				flush,
			},
			route:      testRoute,
			want:       map[string]State{"a": Copied, "b": Copied, "c": Pending},
			wantRoute:  RouteState{Done: true, Pages: 1, Objects: 3},
			wantRoutes: []string{testRoute},
		},
		{
			name: "Finish of an unlisted key creates it and its route",
			ops: []op{
				finish(r2, Entry{Key: "z", State: Copied}),
				flush,
			},
			route:      r2,
			want:       map[string]State{"z": Copied},
			wantRoute:  RouteState{},
			wantRoutes: []string{r2},
		},
		{
			name: "routes are separate",
			ops: []op{
				record(testRoute, entries("a", "b"), "t"),
				record(r2, entries("a"), ""),
				finish(r2, Entry{Key: "a", State: Copied}),
				flush,
			},
			route:      testRoute,
			want:       map[string]State{"a": Pending, "b": Pending},
			wantRoute:  RouteState{Token: "t", Pages: 1, Objects: 2},
			wantRoutes: []string{r2, testRoute},
		},
		{
			name: "awkward keys and route names",
			ops: []op{
				record("a\x00b -> 日本", entries(weirdKeys...), ""),
				finish("a\x00b -> 日本", Entry{Key: weirdKeys[0], State: Copied}),
				flush,
			},
			route: "a\x00b -> 日本",
			want: func() map[string]State {
				m := map[string]State{}
				for _, k := range weirdKeys {
					m[k] = Pending
				}
				m[weirdKeys[0]] = Copied
				return m
			}(),
			wantRoute:  RouteState{Done: true, Pages: 1, Objects: int64(len(weirdKeys))},
			wantRoutes: []string{"a\x00b -> 日本"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, dir := newJournal(t)
			for _, o := range tt.ops {
				o(t, j)
			}
			check := func(j *Journal) {
				t.Helper()
				got, _ := scan(t, j, tt.route)
				gotStates := map[string]State{}
				for k, e := range got {
					gotStates[k] = e.State
				}
				if !reflect.DeepEqual(gotStates, tt.want) {
					t.Errorf("entries = %v, want %v", gotStates, tt.want)
				}
				for k, want := range tt.want {
					e, ok, err := j.Get(tt.route, k)
					if err != nil || !ok || e.State != want || e.Key != k {
						t.Errorf("Get(%q) = %+v, %v, %v", k, e, ok, err)
					}
				}
				if _, ok, err := j.Get(tt.route, "absent"); ok || err != nil {
					t.Errorf("Get(absent) = %v, %v", ok, err)
				}
				checkCounts(t, j, tt.route)
				rs, err := j.Route(tt.route)
				if err != nil || !reflect.DeepEqual(rs, tt.wantRoute) {
					t.Errorf("Route = %+v, %v; want %+v", rs, err, tt.wantRoute)
				}
				routes, err := j.Routes()
				if err != nil || !reflect.DeepEqual(routes, tt.wantRoutes) {
					t.Errorf("Routes = %q, %v; want %q", routes, err, tt.wantRoutes)
				}
			}
			check(j)
			// Everything survives a close and reopen.
			id := j.Job().ID
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			j2, err := Open(dir, id)
			if err != nil {
				t.Fatal(err)
			}
			defer j2.Close()
			check(j2)
		})
	}
}

func TestRecordPageKeepsFields(t *testing.T) {
	j, _ := newJournal(t)
	in := Entry{Key: "a", Size: 42, ETag: `"e"`, State: Copied, Blob: "x/a"}
	if err := j.RecordPage(testRoute, []Entry{in}, ""); err != nil {
		t.Fatal(err)
	}
	e, _, _ := j.Get(testRoute, "a")
	want := in
	want.State = Pending // RecordPage always stores Pending
	if e != want {
		t.Errorf("Get = %+v, want %+v", e, want)
	}
}

func TestInvalidArguments(t *testing.T) {
	j, _ := newJournal(t)
	if err := j.RecordPage("", entries("a"), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty route: %v", err)
	}
	if err := j.RecordPage(testRoute, entries("a", ""), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
	if err := j.SetJob("", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty job state: %v", err)
	}
	// Rejected arguments leave the journal usable.
	if err := j.RecordPage(testRoute, entries("a"), ""); err != nil {
		t.Fatal(err)
	}
	// A bad Finish is reported by the next Flush, and stops the journal.
	j.Finish(testRoute, Entry{Key: "a", State: 0})
	if err := j.Flush(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Flush after a Finish with no state: %v", err)
	}
	if err := j.RecordPage(testRoute, entries("b"), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordPage on a stopped journal: %v", err)
	}
	if err := j.Close(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Close on a stopped journal: %v", err)
	}
}

func TestEachByStateAndStreaming(t *testing.T) {
	j, _ := newJournal(t)
	const n = 3*eachChunk + 17 // several chunks
	for p := 0; p < n; p += 1000 {
		var page []Entry
		for i := p; i < min(p+1000, n); i++ {
			page = append(page, Entry{Key: fmt.Sprintf("obj/%06d", i)})
		}
		if err := j.RecordPage(testRoute, page, ""); err != nil {
			t.Fatal(err)
		}
	}
	stateFor := func(i int) State { return [...]State{Pending, Copied, Skipped, Failed, Copied}[i%5] }
	for i := 0; i < n; i++ {
		if s := stateFor(i); s != Pending {
			j.Finish(testRoute, Entry{Key: fmt.Sprintf("obj/%06d", i), State: s})
		}
	}
	flush(t, j)
	checkCounts(t, j, testRoute)

	for _, states := range [][]State{{Copied}, {Pending, Failed}, {Skipped}, nil} {
		var want []string
		for i := 0; i < n; i++ {
			if len(states) == 0 || contains(states, stateFor(i)) {
				want = append(want, fmt.Sprintf("obj/%06d", i))
			}
		}
		var got []string
		err := j.Each(testRoute, states, func(e Entry) error {
			if len(states) > 0 && !contains(states, e.State) {
				t.Errorf("Each(%v) gave %+v", states, e)
			}
			got = append(got, e.Key)
			return nil
		})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Each(%v): %d keys, %v; want %d", states, len(got), err, len(want))
		}
	}

	// fn's error stops the walk and is returned.
	stop := errors.New("stop")
	calls := 0
	err := j.Each(testRoute, nil, func(Entry) error {
		calls++
		if calls == eachChunk+5 {
			return stop
		}
		return nil
	})
	if err != stop || calls != eachChunk+5 {
		t.Errorf("Each stopping: err %v after %d calls", err, calls)
	}

	// fn runs outside any transaction: finishing entries during a walk works
	// and every entry is visited once.
	seen := map[string]int{}
	err = j.Each(testRoute, []State{Pending}, func(e Entry) error {
		seen[e.Key]++
		e.State = Copied
		j.Finish(testRoute, e)
		return nil
	})
	flush(t, j)
	if err != nil || len(seen) != n/5+1 {
		t.Errorf("Each with Finish: %d entries, %v", len(seen), err)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s visited %d times", k, c)
		}
	}
	if c, _ := j.Counts(testRoute); c[Pending] != 0 {
		t.Errorf("Counts after finishing every pending entry: %v", c)
	}
	checkCounts(t, j, testRoute)

	if err := j.Each("no such route", nil, func(Entry) error { return errors.New("called") }); err != nil {
		t.Errorf("Each of an unknown route: %v", err)
	}
}

func contains(ss []State, s State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestCountsRandom drives random pages and Finishes from several
// goroutines and checks that the incremental counts equal a scan.
func TestCountsRandom(t *testing.T) {
	j, _ := newJournal(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	routes := []string{"r1", "r2", "r3"}
	for p := 0; p < 30; p++ {
		var page []Entry
		for i := 0; i < 50; i++ {
			page = append(page, Entry{Key: fmt.Sprintf("k%03d", rnd.IntN(500))})
		}
		if err := j.RecordPage(routes[p%3], page, fmt.Sprint(p)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		seed := uint64(w)
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(seed, 9))
			for i := 0; i < 3000; i++ {
				j.Finish(routes[rnd.IntN(3)], Entry{Key: fmt.Sprintf("k%03d", rnd.IntN(600)), State: State(1 + rnd.IntN(4))})
				if i%700 == 0 {
					if err := j.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	flush(t, j)
	var total int64
	for _, r := range routes {
		checkCounts(t, j, r)
		c, _ := j.Counts(r)
		for _, n := range c {
			total += n
		}
	}
	if total == 0 {
		t.Error("no entries")
	}
}

// TestFinishBatchesInBackground checks that Finish'ed entries become
// durable without a Flush, within a few batch intervals.
func TestFinishBatchesInBackground(t *testing.T) {
	j, _ := newJournal(t)
	j.Finish(testRoute, Entry{Key: "a", State: Copied})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok, _ := j.Get(testRoute, "a"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a Finish'ed entry was not committed by the background writer")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSetJobAndList(t *testing.T) {
	dir := t.TempDir()
	if jobs, err := List(filepath.Join(dir, "missing")); err != nil || len(jobs) != 0 {
		t.Errorf("List(missing dir) = %v, %v", jobs, err)
	}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for _, d := range []time.Duration{2 * time.Hour, 0, time.Hour} {
		j, err := Create(dir, Job{ID: NewID(base.Add(d)), Created: base.Add(d), Command: "copy"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.Job().ID)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Not jobs: a stray file, a folder without job.json.
	_ = os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o600)
	_ = os.Mkdir(filepath.Join(dir, "stray"), 0o700)

	j, err := Open(dir, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	before := j.Job().Updated
	j.Finish(testRoute, Entry{Key: "a", State: Copied})
	sum := json.RawMessage(`{"copied":1}`)
	if err := j.SetJob(JobDone, sum); err != nil {
		t.Fatal(err)
	}
	// SetJob flushed the Finish'ed entry.
	if e, ok, _ := j.Get(testRoute, "a"); !ok || e.State != Copied {
		t.Errorf("SetJob did not flush: %+v %v", e, ok)
	}
	got := j.Job()
	if got.State != JobDone || string(got.Summary) != string(sum) || !got.Updated.After(before) {
		t.Errorf("Job() after SetJob = %+v", got)
	}

	jobs, err := List(dir) // works while ids[1] is open here
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, jb := range jobs {
		listed = append(listed, jb.ID)
	}
	if want := []string{ids[0], ids[2], ids[1]}; !reflect.DeepEqual(listed, want) {
		t.Errorf("List order = %v, want newest first %v", listed, want)
	}
	if jobs[2].State != JobDone || string(jobs[2].Summary) != string(sum) {
		t.Errorf("List shows %+v, want the SetJob header", jobs[2])
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// The header survives reopen; a lost job.json is rewritten by Open.
	if err := os.Remove(filepath.Join(dir, ids[1], jobName)); err != nil {
		t.Fatal(err)
	}
	j, err = Open(dir, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if g := j.Job(); g.State != JobDone || string(g.Summary) != string(sum) {
		t.Errorf("reopened header = %+v", g)
	}
	_ = j.Close()
	if jb, err := ReadJob(dir, ids[1]); err != nil || jb.State != JobDone {
		t.Errorf("job.json after Open = %+v, %v", jb, err)
	}

	// A damaged job.json: the other jobs are still listed, the error says which.
	if err := os.WriteFile(filepath.Join(dir, ids[2], jobName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	jobs, err = List(dir)
	if len(jobs) != 2 || err == nil || !strings.Contains(err.Error(), ids[2]) {
		t.Errorf("List with a damaged job.json = %d jobs, %v", len(jobs), err)
	}
}

// TestArgsStoredVerbatim pins that the journal does no redaction of its
// own: what the caller passes is what is on disk, so the caller's removal
// of secrets is what counts.
func TestArgsStoredVerbatim(t *testing.T) {
	dir := t.TempDir()
	args := []string{"copy", "s3://b", "az://c", "--azure-key=**redacted**", "--note=AKIAEXAMPLE is not a key", "--s3-secret-key", "**redacted**"}
	opts := json.RawMessage(`{"sas":"**redacted**","endpoint":"http://127.0.0.1:10000"}`)
	j, err := Create(dir, Job{Command: "copy", Args: args, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	id := j.Job().ID
	args[0] = "mutated" // the journal keeps its own copy
	args[0] = "copy"
	if g := j.Job(); !reflect.DeepEqual(g.Args, args) || string(g.Options) != string(opts) {
		t.Errorf("Job() = %q %s", g.Args, g.Options)
	}
	_ = j.Close()
	j, err = Open(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if g := j.Job(); !reflect.DeepEqual(g.Args, args) {
		t.Errorf("Args after reopen = %q, want %q", g.Args, args)
	}
	jobs, _ := List(dir)
	if len(jobs) != 1 || !reflect.DeepEqual(jobs[0].Args, args) {
		t.Errorf("List Args = %+v", jobs)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, id, jobName))
	if !strings.Contains(string(raw), "AKIAEXAMPLE is not a key") {
		t.Errorf("job.json does not hold the args verbatim:\n%s", raw)
	}
}

func TestLockedInProcess(t *testing.T) {
	j, dir := newJournal(t)
	id := j.Job().ID
	start := time.Now()
	_, err := Open(dir, id)
	took := time.Since(start)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), id) {
		t.Errorf("second Open: err = %v, want ErrLocked naming the id", err)
	}
	if took > LockTimeout+2*time.Second {
		t.Errorf("second Open took %v, timeout is %v", took, LockTimeout)
	}
	if jobs, err := List(dir); err != nil || len(jobs) != 1 {
		t.Errorf("List while open = %v, %v", jobs, err)
	}
}
