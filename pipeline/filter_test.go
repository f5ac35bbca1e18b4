package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/providers"
)

func TestFilter(t *testing.T) {
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	obj := func(size int64, lm time.Time) providers.Object { return providers.Object{Size: size, LastModified: lm} }
	tests := []struct {
		name string
		f    Filter
		rel  string
		o    providers.Object
		want string // "" = selected
	}{
		{"zero filter selects", Filter{}, "a/b.txt", obj(1, t0), ""},
		{"include by name", Filter{Include: []string{"*.txt"}}, "a/b.txt", obj(1, t0), ""},
		{"include by name misses", Filter{Include: []string{"*.csv"}}, "a/b.txt", obj(1, t0), "not matched by --include"},
		{"name glob does not see folders", Filter{Include: []string{"a*"}}, "a/b.txt", obj(1, t0), "not matched by --include"},
		{"path glob", Filter{Include: []string{"a/*.txt"}}, "a/b.txt", obj(1, t0), ""},
		{"path glob star stays in a segment", Filter{Include: []string{"*.txt"}, Exclude: []string{"a/*"}}, "a/c/b.txt", obj(1, t0), ""},
		{"double star crosses segments", Filter{Exclude: []string{"logs/**"}}, "logs/2024/01/x.gz", obj(1, t0), "matched by --exclude"},
		{"double star matches zero segments", Filter{Include: []string{"**/x.gz"}}, "x.gz", obj(1, t0), ""},
		{"exclude wins", Filter{Include: []string{"*.txt"}, Exclude: []string{"secret*"}}, "secret.txt", obj(1, t0), "matched by --exclude"},
		{"min size", Filter{MinSize: 10}, "x", obj(9, t0), "smaller than --min-size"},
		{"min size equal", Filter{MinSize: 10}, "x", obj(10, t0), ""},
		{"max size", Filter{MaxSize: 10}, "x", obj(11, t0), "larger than --max-size"},
		{"after", Filter{After: t0}, "x", obj(1, t0.Add(-time.Second)), "modified before --include-after"},
		{"after at the bound", Filter{After: t0}, "x", obj(1, t0), ""},
		{"before is exclusive", Filter{Before: t0}, "x", obj(1, t0), "modified at or after --include-before"},
		{"question mark", Filter{Include: []string{"file?.bin"}}, "d/file7.bin", obj(1, t0), ""},
	}
	for _, tc := range tests {
		if got := tc.f.Why(tc.rel, tc.o); got != tc.want {
			t.Errorf("%s: Why(%q) = %q, want %q", tc.name, tc.rel, got, tc.want)
		}
	}
	for _, bad := range []Filter{{Include: []string{"[a-"}}, {MinSize: 5, MaxSize: 4}, {After: t0, Before: t0}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) accepted it", bad)
		}
	}
}

func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"**/*.txt", "a/b/c.txt"}, {"a/[b-", "a/b"}, {"*", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, g, rel string) {
		ok, err := matchGlob(g, rel)
		if err != nil && ok {
			t.Fatalf("matchGlob(%q, %q) = true with error %v", g, rel, err)
		}
	})
}

func TestFilterInTheRunAndBucketGlobs(t *testing.T) {
	r := newRig(t, nil)
	for _, k := range []string{"logs/a.gz", "logs/b.txt", "data/c.txt", "data/big.txt"} {
		size := 10
		if k == "data/big.txt" {
			size = 100
		}
		r.src.Put("bkt", k, payload(size, 1), providers.Properties{})
	}
	j := newJournal(t)
	route := Route{Bucket: "bkt", Container: "c"}
	c, err := New(r.src, r.dst, Options{Routes: []Route{route}, Retry: fastRetry(), Journal: j,
		Filter: Filter{Include: []string{"*.txt"}, MaxSize: 50}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 2 || sum.Filtered["not matched by --include"] != 1 || sum.Filtered["larger than --max-size"] != 1 {
		t.Fatalf("summary %+v err %v", sum, err)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if counts, _ := j.Counts(route.String()); counts[journal.Copied] != 2 || counts[journal.Pending] != 0 {
		t.Errorf("journal counts %v: filtered objects must not be journaled", counts)
	}

	for _, b := range []string{"logs-2024", "logs-2025", "data"} {
		r.src.CreateBucket(b, "us-east-1")
	}
	routes, _, err := PlanRoutes(context.Background(), r.src, r.dst, RouteOptions{IncludeBuckets: []string{"logs-*", "data"}, ExcludeBuckets: []string{"*2025"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rt := range routes {
		names = append(names, rt.Bucket)
	}
	if len(names) != 2 || names[0] != "data" || names[1] != "logs-2024" {
		t.Errorf("buckets %v, want [data logs-2024]", names)
	}
}

func TestEstimateAndLargest(t *testing.T) {
	r := newRig(t, nil)
	for i := range 15 {
		r.src.Put("bkt", fmt.Sprintf("k%02d", i), payload(100+i, byte(i)), providers.Properties{Tags: map[string]string{"t": "v"}})
	}
	r.src.Put("bkt", "big", payload(5000, 1), providers.Properties{})
	r.src.Put("bkt", "empty", nil, providers.Properties{})
	opts := Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), PageSize: 10, Tags: true,
		PutBlobMaxSize: 1024, BlockSize: 1024}
	var sums []Summary
	for _, dry := range []bool{true, false} {
		opts.DryRun = dry
		c, _ := New(r.src, r.dst, opts)
		sum, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	plan, real := sums[0], sums[1]
	want := Requests{S3List: 2, S3Head: 17, S3Tagging: 15, S3Get: 15 + 5, AzureWrite: 15 + 5 + 1 + 1, AzureRead: 1, EgressBytes: 15*100 + 105 + 5000}
	if plan.Estimate != want {
		t.Errorf("dry-run estimate %+v, want %+v", plan.Estimate, want)
	}
	want.AzureWrite++ // the real run also created the container
	if real.Estimate != want {
		t.Errorf("real-run count %+v, want %+v", real.Estimate, want)
	}
	if r.dst.Calls("PutBlobFromURL")+r.dst.Calls("StageBlockFromURL")+r.dst.Calls("CommitBlocks")+r.dst.Calls("EnsureContainer") != int(want.AzureWrite) {
		t.Errorf("the real run's writes do not match the estimate")
	}
	if len(plan.Largest) != maxLargest || plan.Largest[0].Key != "big" || plan.Largest[1].Key != "k14" || plan.Largest[9].Key != "k06" {
		t.Errorf("largest %+v", plan.Largest)
	}
}
