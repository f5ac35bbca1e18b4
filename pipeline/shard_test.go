package pipeline

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/providers"
)

func TestParseShard(t *testing.T) {
	for _, ok := range []string{"0/1", "0/4", "3/4", " 2 / 3 "} {
		if _, err := ParseShard(ok); err != nil {
			t.Errorf("ParseShard(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "4/4", "-1/4", "0/0", "1/0", "a/4", "1", "1/2/3", "0/-1"} {
		if s, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) = %v, want an error", bad, s)
		}
	}
	if (Shard{}).Validate() != nil || !(Shard{}).Owns("b", "k") {
		t.Error("the zero Shard must be valid and own everything")
	}
}

// TestShardSplit: every key of a bucket is in exactly one shard, the
// assignment is stable, and the shards are balanced within a few percent
// over 100k keys of several layouts.
func TestShardSplit(t *testing.T) {
	layouts := map[string]func(i int) (string, string){
		"sequential": func(i int) (string, string) { return "bkt", fmt.Sprintf("obj-%08d", i) },
		"dated": func(i int) (string, string) {
			return "logs", fmt.Sprintf("%04d/%02d/%02d/part-%d.gz", 2020+i%5, 1+i%12, 1+i%28, i)
		},
		"buckets": func(i int) (string, string) { return fmt.Sprintf("bucket-%d", i%10), fmt.Sprintf("k%d", i/10) },
	}
	const keys = 100_000
	for name, layout := range layouts {
		for _, n := range []int{1, 2, 3, 4, 7, 16, 64} {
			counts := make([]int, n)
			for i := range keys {
				b, k := layout(i)
				owners := 0
				for s := range n {
					if (Shard{Index: s, Count: n}).Owns(b, k) {
						owners++
						counts[s]++
					}
				}
				if owners != 1 {
					t.Fatalf("%s n=%d: %s/%s has %d owners", name, n, b, k, owners)
				}
				if ShardOf(b, k, n) != ShardOf(b, k, n) {
					t.Fatalf("unstable")
				}
			}
			want := float64(keys) / float64(n)
			for s, c := range counts {
				// 5 % of the mean, or 6 standard deviations for small shards.
				tol := math.Max(0.05*want, 6*math.Sqrt(want))
				if math.Abs(float64(c)-want) > tol {
					t.Errorf("%s n=%d: shard %d has %d keys, want %.0f ± %.0f", name, n, s, c, want, tol)
				}
			}
		}
	}
	// Bucket and key are separated: moving a character between them
	// changes the input.
	if ShardOf("a", "bc", 1<<30) == ShardOf("ab", "c", 1<<30) {
		t.Error(`("a","bc") and ("ab","c") hash alike`)
	}
	// Pinned values: the hash is part of the job's contract.
	for _, c := range []struct {
		b, k string
		n    int
		want int
	}{{"bkt", "obj-00000000", 4, 3}, {"bkt", "obj-00000000", 1000, 195}, {"bkt", "a/b/c.txt", 4, 0},
		{"bkt", "a/b/c.txt", 1000, 72}, {"bkt", "日本語", 4, 2}, {"bkt", "日本語", 1000, 42}} {
		if got := ShardOf(c.b, c.k, c.n); got != c.want {
			t.Errorf("ShardOf(%q, %q, %d) = %d, want %d", c.b, c.k, c.n, got, c.want)
		}
	}
}

// TestShardedRun: four shard runs of one bucket copy every object exactly
// once between them; objects of other shards are counted apart and never
// journaled.
func TestShardedRun(t *testing.T) {
	r := newRig(t, nil)
	const objects = 200
	for i := range objects {
		r.src.Put("bkt", fmt.Sprintf("dir%d/obj-%03d", i%3, i), payload(10+i, byte(i)), providers.Properties{})
	}
	route := Route{Bucket: "bkt", Container: "c"}
	var mu sync.Mutex
	seen := map[string]int{}
	var total int64
	for s := range 4 {
		j := newJournal(t)
		c, err := New(r.src, r.dst, Options{Routes: []Route{route}, Retry: fastRetry(), Journal: j, PageSize: 17,
			Shard: Shard{Index: s, Count: 4},
			OnResult: func(res ObjectResult) {
				mu.Lock()
				seen[res.Key]++
				mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := c.Run(context.Background())
		if err != nil || !sum.OK() {
			t.Fatalf("shard %d: %+v %v", s, sum, err)
		}
		if sum.Objects != sum.Copied || sum.Objects+sum.OtherShards != objects {
			t.Errorf("shard %d: %d listed as its own, %d copied, %d of other shards; want %d in all", s, sum.Objects, sum.Copied, sum.OtherShards, objects)
		}
		if sum.Objects < 30 || sum.Objects > 70 {
			t.Errorf("shard %d has %d of %d objects", s, sum.Objects, objects)
		}
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		counts, _ := j.Counts(route.String())
		if counts[journal.Copied] != sum.Copied || counts[journal.Pending] != 0 {
			t.Errorf("shard %d journal %v: only its own objects may be journaled", s, counts)
		}
		total += sum.Copied
	}
	if total != objects || len(seen) != objects {
		t.Fatalf("%d copied, %d distinct; want %d", total, len(seen), objects)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", k, n)
		}
	}
	if _, err := New(r.src, r.dst, Options{Routes: []Route{route}, Shard: Shard{Index: 4, Count: 4}}); err == nil {
		t.Error("shard 4/4 accepted")
	}
	if _, err := New(r.src, r.dst, Options{Routes: []Route{route}, Sync: true, Shard: Shard{Index: 0, Count: 2}}); err == nil {
		t.Error("a sharded sync accepted")
	}
}
