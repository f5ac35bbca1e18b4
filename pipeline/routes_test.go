package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/providers"
)

func TestPlanRoutesMapsEveryBucket(t *testing.T) {
	r := newRig(t, nil)
	for _, b := range []string{"my.data", "my-data", "a----b", "plain", "other-region"} {
		region := "us-east-1"
		if b == "other-region" {
			region = "eu-west-1"
		}
		r.src.CreateBucket(b, region)
	}
	if _, err := r.dst.EnsureContainer(context.Background(), "taken"); err != nil {
		t.Fatal(err)
	}
	r.src.CreateBucket("taken", "us-east-1")

	routes, maps, err := PlanRoutes(context.Background(), r.src, r.dst, RouteOptions{Region: "us-east-1", Overrides: map[string]string{"plain": "plain-override"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // bucket -> container, "" = not copied
		"a----b": "a-4-b", "bkt": "bkt", "my-data": "my-data", "my.data": "my-data-2", "plain": "plain-override", "taken": "",
	}
	if len(routes) != len(want) || len(maps) != len(want) {
		t.Fatalf("routes %+v", routes)
	}
	seen := map[string]bool{}
	for _, rt := range routes {
		w, ok := want[rt.Bucket]
		if !ok {
			t.Errorf("unexpected bucket %q (region filter?)", rt.Bucket)
			continue
		}
		if rt.Container != w {
			t.Errorf("%s -> %q, want %q", rt.Bucket, rt.Container, w)
		}
		if w == "" && !errors.Is(rt.Err, naming.ErrCollision) {
			t.Errorf("%s: err %v, want a collision with the existing container", rt.Bucket, rt.Err)
		}
		if (rt.Container != "" && rt.Container != rt.Bucket) != (rt.Note != "") {
			t.Errorf("%s -> %s: note %q should be set exactly when the name changed", rt.Bucket, rt.Container, rt.Note)
		}
		if rt.Container != "" && seen[rt.Container] {
			t.Errorf("container %q used twice", rt.Container)
		}
		seen[rt.Container] = true
	}
	// Merging into existing containers when the user says so.
	routes, _, err = PlanRoutes(context.Background(), r.src, r.dst, RouteOptions{Buckets: []string{"taken"}, AllowExisting: true})
	if err != nil || len(routes) != 1 || routes[0].Container != "taken" || routes[0].Err != nil {
		t.Fatalf("AllowExisting: routes %+v err %v", routes, err)
	}
}

func TestRunSeveralRoutes(t *testing.T) {
	r := newRig(t, nil)
	r.src.CreateBucket("b1", "us-east-1")
	r.src.CreateBucket("b2", "us-east-1")
	r.src.Put("b1", "x", payload(10, 1), providers.Properties{})
	r.src.Put("b2", "y", payload(20, 2), providers.Properties{})
	routes := []Route{
		{Bucket: "b1", Container: "c1"},
		{Bucket: "missing-bucket", Container: "c3"},
		{Bucket: "unmappable", Err: errors.New("bucket \"unmappable\" not copied: cannot map")},
		{Bucket: "b2", Container: "c2", DestPrefix: "in"},
	}
	c, err := New(r.src, r.dst, Options{Routes: routes, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("a failing route must not stop the run: %v", err)
	}
	if sum.Copied != 2 || sum.FailedRoutes != 2 || sum.OK() {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(sum.Routes[1].Error, "missing-bucket") || !strings.Contains(sum.Routes[2].Error, "cannot map") {
		t.Errorf("route errors %q / %q", sum.Routes[1].Error, sum.Routes[2].Error)
	}
	if sum.Routes[0].Copied != 1 || sum.Routes[3].Copied != 1 || sum.Routes[3].CopiedBytes != 20 {
		t.Errorf("per-route counts %+v", sum.Routes)
	}
	if _, _, ok := r.dst.Get("c2", "in/y"); !ok {
		t.Error("b2/y did not arrive as c2/in/y")
	}
}

func TestRenameInvalidKeysAndFolderMarkers(t *testing.T) {
	r := newRig(t, nil)
	for _, k := range []string{"ok.txt", "ends-with-dot.", "back\\slash", "dir/"} {
		r.src.Put("bkt", k, payload(3, 1), providers.Properties{})
	}
	var manifest bytes.Buffer
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(),
		RenameInvalidKeys: true, RenameManifest: &manifest, KeepFolderMarkers: true})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 4 || sum.Renamed != 2 {
		t.Fatalf("summary %+v err %v", sum, err)
	}
	for _, name := range []string{"ok.txt", "ends-with-dot．", "back＼slash", "dir/"} {
		if _, _, ok := r.dst.Get("c", name); !ok {
			t.Errorf("blob %q missing", name)
		}
	}
	lines := strings.Split(strings.TrimSpace(manifest.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("manifest:\n%s", manifest.String())
	}
	got := map[string]string{}
	for _, l := range lines {
		var e struct{ Bucket, Key, Container, Blob string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		got[e.Key] = e.Blob
		if naming.DecodeBlobName(e.Blob) != e.Key {
			t.Errorf("manifest entry %q -> %q does not decode back", e.Key, e.Blob)
		}
	}
	if got["ends-with-dot."] != "ends-with-dot．" || got["back\\slash"] != "back＼slash" {
		t.Errorf("manifest %v", got)
	}

	// Without the flags: the same keys are skipped with their reasons.
	c, _ = New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "d"}}, Retry: fastRetry()})
	sum, _ = c.Run(context.Background())
	if sum.Copied != 1 || sum.Skipped != 3 || sum.SkipReasons[skipBlobName] != 2 || sum.SkipReasons[skipFolderMarker] != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	r := newRig(t, nil)
	r.src.Put("bkt", "small", payload(10, 1), providers.Properties{Metadata: map[string]string{"my-key": "x", "ok": "y"}})
	r.src.Put("bkt", "big", payload(5000, 2), providers.Properties{})
	r.src.Put("bkt", "bad.", payload(1, 3), providers.Properties{})
	var results []ObjectResult
	c, err := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, DryRun: true,
		PutBlobMaxSize: 1024, BlockSize: 1024, Concurrency: 1, Retry: fastRetry(),
		OnResult: func(res ObjectResult) { results = append(results, res) }})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Planned != 2 || sum.PlannedBytes != 5010 || sum.Skipped != 1 || sum.Copied != 0 || !sum.DryRun {
		t.Fatalf("summary %+v err %v", sum, err)
	}
	for _, op := range []string{"EnsureContainer", "PutBlobFromURL", "StageBlockFromURL", "CommitBlocks", "StageBlock"} {
		if n := r.dst.Calls(op); n != 0 {
			t.Errorf("dry run called %s %d times", op, n)
		}
	}
	if r.src.BytesServed() != 0 {
		t.Errorf("dry run fetched %d bytes", r.src.BytesServed())
	}
	for _, res := range results {
		switch res.Key {
		case "big":
			if res.Mode != ModeBlocksFromURL || res.Blocks != 5 || res.Outcome != Planned {
				t.Errorf("big: %+v", res)
			}
		case "small":
			if res.Mode != ModePutFromURL || len(res.Metadata) != 2 {
				t.Errorf("small: %+v", res)
			}
		}
	}
}
