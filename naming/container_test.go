package naming

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestValidContainerName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		want string // substring of the error
	}{
		{"abc", true, ""},
		{"my-bucket-1", true, ""},
		{strings.Repeat("a", 63), true, ""},
		{"ab", false, "shorter than 3"},
		{strings.Repeat("a", 64), false, "longer than 63"},
		{"Abc", false, `contains 'A'`},
		{"a_b", false, `contains '_'`},
		{"a.b", false, `contains '.'`},
		{"abé", false, `contains 'é'`},
		{"-abc", false, "starts with a hyphen"},
		{"abc-", false, "ends with a hyphen"},
		{"a--b", false, "consecutive hyphens"},
		{"", false, "shorter than 3"},
	} {
		err := ValidContainerName(tc.name)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidContainerName(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidContainerName) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidContainerName(%q) = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

// mapOne maps a set and returns the mapping of bucket.
func mapOne(t *testing.T, buckets []string, o MapOptions, bucket string) Mapping {
	t.Helper()
	for _, m := range MapBuckets(buckets, o) {
		if m.Bucket == bucket {
			return m
		}
	}
	t.Fatalf("no mapping for %q", bucket)
	return Mapping{}
}

func TestMapBucketsSingle(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		bucket, want string
		err          error
	}{
		// AzCopy's examples.
		{"my----bucket", "my-4-bucket", nil},
		{"bucket.name.1", "bucket-name-1", nil},
		{"b---name", "b-3-name", nil},
		{"bucket--name", "bucket-2-name", nil},
		{"bucket-s--s---s", "bucket-s-2-s-3-s", nil},
		{"bucket.compose----name.1---hello", "bucket-compose-4-name-1-3-hello", nil},
		{"192.168.1.10", "192-168-1-10", nil},
		{"a..b", "a-2-b", nil}, // legacy consecutive periods
		// Pass through.
		{"mybucket", "mybucket", nil},
		{"my-bucket", "my-bucket", nil},
		// Hyphen runs of 10 and more.
		{"a----------b", "a-10-b", nil},
		{"a" + strings.Repeat("-", 123) + "b", "a-123-b", nil}, // 125 chars: legacy length
		{"x.-------------y", "x-14-y", nil},
		// Exactly 63 before and after expansion.
		{a(61) + ".b", a(61) + "-b", nil},
		{a(59) + "--b", a(59) + "-2-b", nil}, // 62 → 63
		{a(60) + "--b", "", ErrCannotMap},    // 63 → 64
		{a(63), a(63), nil},
		// Legacy us-east-1 names.
		{"MyBucket", "mybucket", nil},
		{"My_Bucket", "my-bucket", nil},
		{"my__bucket", "my-2-bucket", nil},
		{"_Data_", "data", nil},
		{"A.B_C", "a-b-c", nil},
		{"Ab", "", ErrCannotMap},
		{"___", "", ErrCannotMap},
		// Not S3 names at all.
		{"my bucket", "", ErrCannotMap},
		{"my/bucket", "", ErrCannotMap},
		{"bücket", "", ErrCannotMap},
		{"", "", ErrCannotMap},
		{"ab", "", ErrCannotMap},
		{"-abc", "", ErrCannotMap},
		{"abc.", "", ErrCannotMap},
		{"abc--", "", ErrCannotMap},
		{".abc", "", ErrCannotMap},
	} {
		m := mapOne(t, []string{tc.bucket}, MapOptions{}, tc.bucket)
		if tc.err != nil {
			if !errors.Is(m.Err, tc.err) || m.Container != "" || m.Changed {
				t.Errorf("%q: got %+v, want error %v", tc.bucket, m, tc.err)
			}
			continue
		}
		if m.Err != nil || m.Container != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.bucket, m.Container, m.Err, tc.want)
		}
		if m.Changed != (tc.want != tc.bucket) || m.Changed != (m.Reason != "") {
			t.Errorf("%q: Changed=%v Reason=%q", tc.bucket, m.Changed, m.Reason)
		}
	}
}

func TestMapBucketsLegacyLong(t *testing.T) {
	long := strings.Repeat("Ab_", 85) // 255 characters
	m := mapOne(t, []string{long}, MapOptions{}, long)
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if err := ValidContainerName(m.Container); err != nil || len(m.Container) > 59 {
		t.Fatalf("%q (%d): %v", m.Container, len(m.Container), err)
	}
	if !strings.HasPrefix(m.Container, "ab-ab-ab") || !strings.Contains(m.Reason, "hash") {
		t.Errorf("got %+v", m)
	}
	// Two long names sharing their first 50 characters get different names.
	other := long[:200] + "XYZ"
	ms := MapBuckets([]string{long, other}, MapOptions{})
	if ms[0].Err != nil || ms[1].Err != nil || ms[0].Container == ms[1].Container {
		t.Errorf("got %+v", ms)
	}
	// Deterministic.
	if again := mapOne(t, []string{long}, MapOptions{}, long); again != m {
		t.Errorf("not deterministic: %+v vs %+v", again, m)
	}
	// A long all-lowercase name is legacy too (modern names stop at 63).
	lower := strings.Repeat("abc.", 20)[:79]
	if m := mapOne(t, []string{lower}, MapOptions{}, lower); m.Err != nil || len(m.Container) > 59 {
		t.Errorf("got %+v", m)
	}
}

func TestMapBucketsCollisions(t *testing.T) {
	type want map[string]string // bucket → container, "" = error
	a := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name    string
		buckets []string
		want    want
	}{
		{"azcopy set", []string{"bucket.name", "bucket-name", "bucket-name-2", "bucket-name-3",
			"bucket---name", "bucket-s--s---s", "abcdefghijklmnopqrstuvwxyz-s--s---s-s0123456789",
			"bucket--name", "bucket-2-name", "bucket-2-name-3", "bucket.compose----name.1---hello",
			"a-b---c", "a.b---c"}, want{
			"bucket---name":   "bucket-3-name",
			"bucket-s--s---s": "bucket-s-2-s-3-s",
			"abcdefghijklmnopqrstuvwxyz-s--s---s-s0123456789": "abcdefghijklmnopqrstuvwxyz-s-2-s-3-s-s0123456789",
			"bucket.name":                      "bucket-name-4",
			"bucket--name":                     "bucket-2-name-2",
			"bucket-name":                      "bucket-name",
			"bucket-name-2":                    "bucket-name-2",
			"bucket-name-3":                    "bucket-name-3",
			"bucket-2-name":                    "bucket-2-name",
			"bucket-2-name-3":                  "bucket-2-name-3",
			"bucket.compose----name.1---hello": "bucket-compose-4-name-1-3-hello",
			"a-b---c":                          "a-b-3-c", // sorted first
			"a.b---c":                          "a-b-3-c-2",
		}},
		{"issue 3 rig set", []string{"my.data", "my-data", "a----b", "plain"}, want{
			"my.data": "my-data-2", "my-data": "my-data", "a----b": "a-4-b", "plain": "plain",
		}},
		{"derived vs derived", []string{"x.y", "x--y", "x-2-y", "x.-y"}, want{
			// "x.-y" → "x--y" → "x-2-y": original → suffix.
			"x--y": "x-2-y-2", "x-2-y": "x-2-y", "x.-y": "x-2-y-3", "x.y": "x-y",
		}},
		{"resolved name taken by an earlier resolved name", []string{"p.q", "p..q", "p-2-q"}, want{
			"p-2-q": "p-2-q", "p..q": "p-2-q-2", "p.q": "p-q",
		}},
		{"suffix would collide with an original", []string{"k.k", "k-k", "k-k-2"}, want{
			"k-k": "k-k", "k-k-2": "k-k-2", "k.k": "k-k-3",
		}},
		{"legacy vs modern", []string{"MyBucket", "mybucket", "My.Bucket"}, want{
			"My.Bucket": "my-bucket", "MyBucket": "mybucket-2", "mybucket": "mybucket",
		}},
		{"suffix makes it too long", []string{a(60) + ".b", a(60) + "-b"}, want{
			a(60) + ".b": "", a(60) + "-b": a(60) + "-b",
		}},
		{"suffix exactly 63", []string{a(59) + ".b", a(59) + "-b"}, want{
			a(59) + ".b": a(59) + "-b-2", a(59) + "-b": a(59) + "-b",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := MapBuckets(tc.buckets, MapOptions{})
			checkInvariants(t, ms)
			for _, m := range ms {
				w, ok := tc.want[m.Bucket]
				if !ok {
					t.Errorf("unexpected bucket %q", m.Bucket)
					continue
				}
				if w == "" {
					if m.Err == nil {
						t.Errorf("%q → %q, want error", m.Bucket, m.Container)
					}
					continue
				}
				if m.Err != nil || m.Container != w {
					t.Errorf("%q → %q (%v), want %q", m.Bucket, m.Container, m.Err, w)
				}
			}
			if len(ms) != len(tc.want) {
				t.Errorf("got %d mappings, want %d", len(ms), len(tc.want))
			}
		})
	}
}

func TestMapBucketsSuffixExhausted(t *testing.T) {
	buckets := []string{"x.y", "x-y"}
	for n := 2; n <= 999; n++ {
		buckets = append(buckets, fmt.Sprintf("x-y-%d", n))
	}
	m := mapOne(t, buckets, MapOptions{}, "x.y")
	if !errors.Is(m.Err, ErrCannotMap) || !strings.Contains(m.Err.Error(), "-999") {
		t.Errorf("got %+v", m)
	}
	// One free slot: -999.
	m = mapOne(t, buckets[:len(buckets)-1], MapOptions{}, "x.y")
	if m.Err != nil || m.Container != "x-y-999" {
		t.Errorf("got %+v", m)
	}
}

func TestMapBucketsOverrides(t *testing.T) {
	for _, tc := range []struct {
		name      string
		buckets   []string
		overrides map[string]string
		want      map[string]string // bucket → container or "error:<substring>"
	}{
		{"simple", []string{"my.data"}, map[string]string{"my.data": "data"},
			map[string]string{"my.data": "data"}},
		{"override equal to own name", []string{"data"}, map[string]string{"data": "data"},
			map[string]string{"data": "data"}},
		{"invalid target", []string{"a.b"}, map[string]string{"a.b": "Bad_Name"},
			map[string]string{"a.b": "error:invalid container override"}},
		{"two to the same", []string{"aaa", "bbb", "ccc"}, map[string]string{"aaa": "zzz", "bbb": "zzz"},
			map[string]string{"aaa": "error:all override", "bbb": "error:all override", "ccc": "ccc"}},
		{"target is another bucket's own name", []string{"aaa", "bbb"}, map[string]string{"aaa": "bbb"},
			map[string]string{"aaa": "error:unchanged name of bucket", "bbb": "bbb"}},
		{"swap", []string{"aaa", "bbb"}, map[string]string{"aaa": "bbb", "bbb": "aaa"},
			map[string]string{"aaa": "bbb", "bbb": "aaa"}},
		{"derived name moves out of an override's way", []string{"a.b", "xyz"}, map[string]string{"xyz": "a-b"},
			map[string]string{"a.b": "a-b-2", "xyz": "a-b"}},
		{"derived name avoids overridden original", []string{"a.b", "a-b"}, map[string]string{"a-b": "other"},
			map[string]string{"a.b": "a-b-2", "a-b": "other"}},
		{"override for a bucket not in the set ignored", []string{"abc"}, map[string]string{"zzz": "abc"},
			map[string]string{"abc": "abc"}},
		{"override rescues an unmappable name", []string{"my bucket"}, map[string]string{"my bucket": "my-bucket"},
			map[string]string{"my bucket": "my-bucket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := MapBuckets(tc.buckets, MapOptions{Overrides: tc.overrides})
			checkInvariants(t, ms)
			for _, m := range ms {
				w := tc.want[m.Bucket]
				if sub, isErr := strings.CutPrefix(w, "error:"); isErr {
					if m.Err == nil || !strings.Contains(m.Err.Error(), sub) {
						t.Errorf("%q: got %+v, want error containing %q", m.Bucket, m, sub)
					}
					continue
				}
				if m.Err != nil || m.Container != w {
					t.Errorf("%q: got %q (%v), want %q", m.Bucket, m.Container, m.Err, w)
				}
				if m.Container != m.Bucket && m.Reason == "" {
					t.Errorf("%q: no reason", m.Bucket)
				}
			}
		})
	}
}

func TestMapBucketsExisting(t *testing.T) {
	existing := func(c string) bool { return c == "data" || c == "my-data" || c == "keep" }
	buckets := []string{"data", "my.data", "fresh", "keep2"}
	ms := MapBuckets(buckets, MapOptions{Existing: existing, Overrides: map[string]string{"keep2": "keep"}})
	checkInvariants(t, ms)
	for _, m := range ms {
		switch m.Bucket {
		case "fresh":
			if m.Err != nil || m.Container != "fresh" {
				t.Errorf("got %+v", m)
			}
		default: // data, my.data (→ my-data, not my-data-2), keep2 (→ keep)
			if !errors.Is(m.Err, ErrCollision) || !strings.Contains(m.Err.Error(), "already exists") {
				t.Errorf("got %+v, want existing-container collision", m)
			}
		}
	}
	ms = MapBuckets(buckets, MapOptions{Existing: existing, AllowExisting: true, Overrides: map[string]string{"keep2": "keep"}})
	got := map[string]string{}
	for _, m := range ms {
		if m.Err != nil {
			t.Errorf("got %+v", m)
		}
		got[m.Bucket] = m.Container
	}
	if got["my.data"] != "my-data" || got["data"] != "data" || got["keep2"] != "keep" {
		t.Errorf("got %v", got)
	}
}

func TestMapBucketsOrderAndDuplicates(t *testing.T) {
	buckets := []string{"a.b", "a-b", "a--b", "a-2-b", "A_B", "a.b", "zz.top", "a-b-2", "x"}
	want := MapBuckets(buckets, MapOptions{})
	if !slices.IsSortedFunc(want, func(x, y Mapping) int { return strings.Compare(x.Bucket, y.Bucket) }) {
		t.Errorf("not sorted: %+v", want)
	}
	if len(want) != 8 {
		t.Errorf("duplicates not collapsed: %d mappings", len(want))
	}
	checkInvariants(t, want)
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		s := slices.Clone(buckets)
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		if got := MapBuckets(s, MapOptions{}); !equalMappings(got, want) {
			t.Fatalf("order %v: got %+v, want %+v", s, got, want)
		}
	}
}

// checkInvariants: every mapping is a valid container or an error, and no two
// buckets share a container.
func checkInvariants(t *testing.T, ms []Mapping) {
	t.Helper()
	seen := map[string]string{}
	for _, m := range ms {
		if m.Err != nil {
			if m.Container != "" || m.Changed {
				t.Errorf("%q: error with container: %+v", m.Bucket, m)
			}
			continue
		}
		if err := ValidContainerName(m.Container); err != nil {
			t.Errorf("%q: %v", m.Bucket, err)
		}
		if other, ok := seen[m.Container]; ok {
			t.Errorf("buckets %q and %q share container %q", other, m.Bucket, m.Container)
		}
		seen[m.Container] = m.Bucket
		if m.Changed != (m.Container != m.Bucket) {
			t.Errorf("%q: Changed=%v for %q", m.Bucket, m.Changed, m.Container)
		}
	}
}

func equalMappings(a, b []Mapping) bool {
	return slices.EqualFunc(a, b, func(x, y Mapping) bool {
		return x.Bucket == y.Bucket && x.Container == y.Container && x.Changed == y.Changed &&
			x.Reason == y.Reason && fmt.Sprint(x.Err) == fmt.Sprint(y.Err)
	})
}

func FuzzMapBuckets(f *testing.F) {
	f.Add("my.data,my-data,a----b,plain", "", false)
	f.Add("bucket.name,bucket-name,bucket-name-2,bucket--name,bucket-2-name", "bucket-name-3", false)
	f.Add("a.b---c,a-b---c,MyBucket,mybucket,My_Bucket", "mybucket-2", true)
	f.Add("x.y,x--y,x-2-y,x.-y,x..y", "x-y", false)
	f.Add(strings.Repeat("Ab_", 85)+","+strings.Repeat("a", 60)+".b,"+strings.Repeat("a", 60)+"-b", "", false)
	f.Add(",,ab,-ab,ab-,a..b,ü,A", "", false)
	f.Add("a.b,xyz,aaa,bbb,ccc,a-b", "xyz=a-b,aaa=bbb,bbb=aaa,ccc=Bad,a-b=ccc", false)
	f.Fuzz(func(t *testing.T, list, existing string, allow bool) {
		buckets := strings.Split(list, ",")
		// existing lists containers already in the destination, and
		// bucket=container overrides.
		ex := map[string]bool{}
		overrides := map[string]string{}
		for _, e := range strings.Split(existing, ",") {
			if b, c, ok := strings.Cut(e, "="); ok {
				overrides[b] = c
			} else {
				ex[e] = true
			}
		}
		o := MapOptions{Existing: func(c string) bool { return ex[c] }, AllowExisting: allow, Overrides: overrides}
		got := MapBuckets(buckets, o)
		checkInvariants(t, got)
		uniq := slices.Compact(slices.Sorted(slices.Values(buckets)))
		if len(got) != len(uniq) {
			t.Fatalf("%d mappings for %d buckets", len(got), len(uniq))
		}
		for i, m := range got {
			if m.Bucket != uniq[i] {
				t.Fatalf("mapping %d is for %q, want %q", i, m.Bucket, uniq[i])
			}
			if m.Err == nil && !allow && ex[m.Container] {
				t.Fatalf("%q mapped into existing container %q", m.Bucket, m.Container)
			}
		}
		rev := slices.Clone(buckets)
		slices.Reverse(rev)
		if len(rev) > 1 {
			rev[0], rev[len(rev)/2] = rev[len(rev)/2], rev[0]
		}
		if again := MapBuckets(rev, o); !equalMappings(again, got) {
			t.Fatalf("order matters:\n%+v\n%+v", got, again)
		}
	})
}
