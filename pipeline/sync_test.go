package pipeline

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

func TestSyncCopiesWhatChangedAndDeletesWhatWent(t *testing.T) {
	r := newRig(t, nil)
	put := func(k string, data []byte) { r.src.Put("bkt", k, data, providers.Properties{}) }
	put("same", payload(10, 1))
	put("resized", payload(10, 2))
	put("rewritten", payload(10, 3))
	put("gone", payload(10, 4))
	put("skip/excluded", payload(10, 5))
	sync := func(o Options) Summary {
		t.Helper()
		o.Routes, o.Sync, o.Retry = []Route{{Bucket: "bkt", Container: "c"}}, true, fastRetry()
		c, err := New(r.src, r.dst, o)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if sum := sync(Options{}); sum.Copied != 5 {
		t.Fatalf("first sync: %+v", sum)
	}
	// Between two syncs: one object grows, one is rewritten with the same
	// size, one is deleted, one is added.
	time.Sleep(5 * time.Millisecond)
	put("resized", payload(11, 2))
	put("rewritten", payload(10, 33))
	put("added", payload(10, 6))
	r.src.Delete("bkt", "gone")
	puts := r.dst.Calls("PutBlobFromURL")

	// Without --delete-destination nothing is deleted; the exclusion hides
	// its object on both sides.
	sum := sync(Options{Filter: Filter{Exclude: []string{"skip/**"}}})
	if sum.Copied != 3 || sum.Unchanged != 1 || sum.Extra != 1 || sum.Deleted != 0 {
		t.Fatalf("second sync: copied %d unchanged %d extra %d deleted %d", sum.Copied, sum.Unchanged, sum.Extra, sum.Deleted)
	}
	if n := r.dst.Calls("PutBlobFromURL") - puts; n != 3 {
		t.Errorf("second sync made %d copies, want 3 (resized, rewritten, added)", n)
	}
	if r.src.Calls("Stat") == 0 || r.dst.Calls("StatBlob") != 0 {
		t.Errorf("sync must not HEAD the destination per object (StatBlob %d)", r.dst.Calls("StatBlob"))
	}
	for _, k := range []string{"resized", "rewritten", "added"} {
		want, _, _ := r.src.Get("bkt", k)
		if got, _, _ := r.dst.Get("c", k); !bytes.Equal(got, want) {
			t.Errorf("%s not up to date", k)
		}
	}

	// A dry run shows the deletion and does nothing.
	if sum := sync(Options{DeleteDestination: true, DryRun: true, Filter: Filter{Exclude: []string{"skip/**"}}}); sum.Deleted != 1 || sum.Planned != 0 {
		t.Fatalf("dry run: %+v", sum)
	}
	if _, _, ok := r.dst.Get("c", "gone"); !ok {
		t.Fatal("the dry run deleted a blob")
	}
	sum = sync(Options{DeleteDestination: true, Filter: Filter{Exclude: []string{"skip/**"}}})
	if sum.Deleted != 1 || sum.Copied != 0 || sum.Unchanged != 4 {
		t.Fatalf("sync with deletion: %+v", sum)
	}
	if _, _, ok := r.dst.Get("c", "gone"); ok {
		t.Error("the blob whose source is gone was not deleted")
	}
	if _, _, ok := r.dst.Get("c", "skip/excluded"); !ok {
		t.Error("a blob hidden by the filter was deleted")
	}
}

func TestFromPlanCopiesExactlyThePlannedObjects(t *testing.T) {
	r := newRig(t, nil)
	for _, k := range []string{"a", "b", "c", "not-in-plan"} {
		r.src.Put("bkt", k, payload(10, k[0]), providers.Properties{})
	}
	var plan []PlannedObject
	for _, k := range []string{"a", "b", "c"} {
		_, info, _ := r.src.Get("bkt", k)
		plan = append(plan, PlannedObject{Bucket: "bkt", Key: k, Size: info.Size, ETag: info.ETag})
	}
	r.src.Put("bkt", "c", payload(12, 9), providers.Properties{}) // changed after the plan
	c, err := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(),
		FromPlan: func(yield func(PlannedObject) error) error {
			for _, p := range plan {
				if err := yield(p); err != nil {
					return err
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 2 || sum.Skipped != 1 || sum.SkipReasons[skipChanged] != 1 || r.src.Calls("List") != 0 {
		t.Fatalf("summary %+v err %v (List calls %d)", sum, err, r.src.Calls("List"))
	}
	for k, want := range map[string]bool{"a": true, "b": true, "c": false, "not-in-plan": false} {
		if _, _, ok := r.dst.Get("c", k); ok != want {
			t.Errorf("%s copied %v, want %v", k, ok, want)
		}
	}
}

func TestFromInventoryCopiesChangedAndSkipsDeleted(t *testing.T) {
	r := newRig(t, nil)
	for _, k := range []string{"p/a", "p/b", "p/changed", "p/deleted", "p/old", "other/x"} {
		r.src.Put("bkt", k, payload(10, k[2]), providers.Properties{})
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []PlannedObject
	for _, k := range []string{"p/a", "p/b", "p/changed", "p/deleted", "p/old", "other/x"} {
		_, info, _ := r.src.Get("bkt", k)
		lm := info.LastModified
		if k == "p/old" {
			lm = old
		}
		rows = append(rows, PlannedObject{Bucket: "bkt", Key: k, Size: info.Size, ETag: info.ETag, LastModified: lm})
	}
	r.src.Put("bkt", "p/changed", payload(12, 9), providers.Properties{})
	r.src.Delete("bkt", "p/deleted")
	r.src.Put("bkt", "p/created", payload(5, 1), providers.Properties{})
	var results []ObjectResult
	var mu sync.Mutex
	c, err := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Prefix: "p/", Container: "c"}}, Retry: fastRetry(),
		FromInventory: true, Filter: Filter{After: old.Add(time.Hour)},
		OnResult: func(res ObjectResult) { mu.Lock(); results = append(results, res); mu.Unlock() },
		FromPlan: func(yield func(PlannedObject) error) error {
			for _, p := range rows {
				if err := yield(p); err != nil {
					return err
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Objects != 4 || sum.Copied != 3 || sum.Skipped != 1 || sum.SkipReasons[skipDeleted] != 1 ||
		sum.ChangedSinceInventory != 1 || sum.Filtered["modified before --include-after"] != 1 || r.src.Calls("List") != 0 {
		t.Fatalf("summary %+v err %v (List calls %d)", sum, err, r.src.Calls("List"))
	}
	for k, want := range map[string]bool{"a": true, "b": true, "changed": true, "deleted": false, "old": false, "created": false, "x": false} {
		if _, _, ok := r.dst.Get("c", k); ok != want {
			t.Errorf("%s copied %v, want %v", k, ok, want)
		}
	}
	if data, _, _ := r.dst.Get("c", "changed"); len(data) != 12 {
		t.Errorf("the changed object was copied with %d bytes, want its new 12", len(data))
	}
	for _, res := range results {
		if res.Key == "p/changed" && (!res.ChangedSinceInventory || res.Size != 12 || len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], changedInventory)) {
			t.Errorf("changed object's result %+v", res)
		}
	}
}
