package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestShardsShareOneBucket: four shard processes, run at once, copy one
// bucket of 200 objects together. The union of what arrived is exactly the
// source, the S3 proxy saw every object fetched exactly once (never by two
// shards), and 'jobs summary' over the four results files says 200
// copied. Then the same with one shard killed (SIGKILL) mid-run and
// resumed: the resume touches only its own shard's objects, and nothing
// that had arrived.
func TestShardsShareOneBucket(t *testing.T) {
	w := newWorld(t)
	const bucket, shards, objects = "e2e-shards", 4, 200
	sizes := map[string]int64{}
	var seeds []seed
	for i := range objects {
		k := fmt.Sprintf("dir%d/obj-%03d.bin", i%5, i)
		seeds = append(seeds, seed{key: k, data: providertest.Data(500+i, uint32(i))})
		sizes[k] = int64(500 + i)
	}
	w.seed(t, bucket, seeds)
	shardOf := func(key string) int { return pipeline.ShardOf(bucket, key, shards) }

	args := func(container, journals string, i int) []string {
		return []string{"copy", "s3://" + bucket, w.az.Endpoint + "/" + container, "--s3-endpoint", w.proxy.URL,
			"--journal-dir", journals, "--page-size", "30", "--concurrency", "4", "--transfer-mode", "server-side",
			"--no-progress", "--shard", fmt.Sprintf("%d/%d", i, shards)}
	}
	// fetches counts successful presigned GETs by key in records.
	fetches := func(recs []testenv.S3Record) map[string]int {
		out := map[string]int{}
		for _, r := range recs {
			if r.Presigned && r.Method == "GET" && r.Status < 300 {
				out[r.Key]++
			}
		}
		return out
	}
	checkArrived := func(t *testing.T, container string) {
		t.Helper()
		got := w.listBlobs(t, container)
		if len(got) != objects {
			t.Errorf("%d blobs, want %d", len(got), objects)
		}
		for k, n := range sizes {
			if got[k] != n {
				t.Errorf("%s: %d bytes at the destination, want %d", k, got[k], n)
			}
		}
	}
	checkSummary := func(t *testing.T, journals string) {
		t.Helper()
		code, stdout, stderr := w.run(t, "jobs", "summary", "--results", journals)
		if code != 0 || !strings.Contains(stdout, fmt.Sprintf("copied:          %d", objects)) ||
			!strings.Contains(stdout, "failed:          0") || !strings.Contains(stdout, "shards:          all 4") {
			t.Errorf("jobs summary: exit %d\n%s\n%s", code, stdout, stderr)
		}
	}

	t.Run("four at once", func(t *testing.T) {
		journals := t.TempDir()
		w.proxy.Reset()
		procs := make([]*started, shards)
		for i := range shards {
			procs[i] = w.start(t, args("shards", journals, i)...)
		}
		perShard := map[int]int{}
		for i, p := range procs {
			_ = p.cmd.Wait()
			out := p.stdout.String()
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("shard %d: exit %d\n%s\n%s", i, code, out, p.stderr.String())
			}
			if !strings.Contains(out, "other shards:") {
				t.Errorf("shard %d does not count the other shards' objects:\n%s", i, out)
			}
		}
		checkArrived(t, "shards")
		f := fetches(w.proxy.Records())
		if len(f) != objects {
			t.Errorf("%d distinct objects fetched, want %d", len(f), objects)
		}
		for k, n := range f {
			if n != 1 {
				t.Errorf("%s fetched %d times", k, n)
			}
			perShard[shardOf(k)]++
		}
		for i := range shards {
			if perShard[i] < objects/shards/2 || perShard[i] > objects/shards*2 {
				t.Errorf("shard %d copied %d of %d objects", i, perShard[i], objects)
			}
		}
		t.Logf("objects per shard: %v", perShard)
		checkSummary(t, journals)
	})

	t.Run("one killed and resumed", func(t *testing.T) {
		const victim = 2
		journals := t.TempDir()
		w.proxy.Reset()
		var mu sync.Mutex
		var child *started
		n := 0
		killed := make(chan struct{})
		w.proxy.SetRequestHook(func(r testenv.S3Record) int {
			mu.Lock()
			defer mu.Unlock()
			if child == nil || !r.Presigned || r.Method != "GET" || shardOf(r.Key) != victim {
				return 0
			}
			if n++; n == 20 {
				child.kill()
				close(killed)
				return http.StatusServiceUnavailable // the dead process's request never lands
			}
			return 0
		})
		var others []*started
		for i := range shards {
			if i == victim {
				// --concurrency 1 (the last one given wins): one request in
				// flight at the kill.
				a := append(args("shards-kill", journals, i), "--concurrency", "1")
				mu.Lock()
				child = w.start(t, a...)
				mu.Unlock()
				continue
			}
			others = append(others, w.start(t, append(args("shards-kill", journals, i), "--job-id", fmt.Sprintf("kill-%d", i))...))
		}
		select {
		case <-killed:
		case <-time.After(2 * time.Minute):
			child.kill()
			t.Fatalf("the kill point was never reached\n%s\n%s", child.stdout.String(), child.stderr.String())
		}
		_ = child.cmd.Wait()
		for _, p := range others {
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("shard: %v\n%s\n%s", err, p.stdout.String(), p.stderr.String())
			}
		}
		w.proxy.SetRequestHook(nil)
		if code := child.cmd.ProcessState.ExitCode(); code != -1 {
			t.Fatalf("the victim was not killed: exit %d", code)
		}
		arrived := w.listBlobs(t, "shards-kill")
		if len(arrived) == objects {
			t.Fatal("everything arrived before the kill")
		}
		firstRun := len(w.proxy.Records())

		jobs, err := journal.List(journals)
		if err != nil || len(jobs) != shards {
			t.Fatalf("%d jobs (%v)", len(jobs), err)
		}
		id := ""
		for _, j := range jobs {
			if strings.Contains(strings.Join(j.Args, " "), fmt.Sprintf("--shard %d/%d", victim, shards)) {
				id = j.ID
			}
		}
		if id == "" {
			t.Fatalf("no job of shard %d among %+v", victim, jobs)
		}
		code, stdout, stderr := w.run(t, "jobs", "resume", id, "--journal-dir", journals)
		if code != 0 || !strings.Contains(stdout, "0 failed, 0 pending") {
			t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
		}
		checkArrived(t, "shards-kill")
		// The resume asked S3 about its own shard's objects only, and
		// fetched nothing that had arrived.
		recs := w.proxy.Records()
		for _, r := range recs[firstRun:] {
			if r.Key != "" && shardOf(r.Key) != victim {
				t.Errorf("the resume of shard %d touched %s (%s) of shard %d", victim, r.Key, r.Method, shardOf(r.Key))
			}
			if _, ok := arrived[r.Key]; ok && r.Presigned && r.Method == "GET" && r.Status < 300 {
				t.Errorf("the resume fetched %s again although it had arrived", r.Key)
			}
		}
		// Over both runs, every object was fetched exactly once.
		f := fetches(recs)
		for k := range sizes {
			if f[k] != 1 {
				t.Errorf("%s fetched %d times", k, f[k])
			}
		}
		checkSummary(t, journals)

		// A shard named with --job-id and run again (a retried pod) finds
		// its job done; another command line under that name is refused.
		again := append(args("shards-kill", journals, 0), "--job-id", "kill-0")
		code, stdout, stderr = w.run(t, again...)
		if code != 0 || !strings.Contains(stdout, "Job kill-0 is already done") {
			t.Errorf("re-run of a done shard: exit %d\n%s\n%s", code, stdout, stderr)
		}
		code, _, stderr = w.run(t, append(again, "--page-size", "7")...)
		if code != 2 || !strings.Contains(stderr, "exists with another command line") {
			t.Errorf("another command line under a job's name: exit %d\n%s", code, stderr)
		}
	})
}
