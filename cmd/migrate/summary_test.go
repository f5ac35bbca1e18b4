package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/pipeline"
)

func TestShardFlags(t *testing.T) {
	env := func(m map[string]string) env { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		shard string
		count int
		env   map[string]string
		want  pipeline.Shard
		bad   bool
	}{
		{want: pipeline.Shard{}},
		{shard: "2/4", want: pipeline.Shard{Index: 2, Count: 4}},
		{shard: "4/4", bad: true},
		{shard: "0/0", bad: true},
		{shard: "x", bad: true},
		{count: 8, env: map[string]string{"JOB_COMPLETION_INDEX": "7"}, want: pipeline.Shard{Index: 7, Count: 8}},
		{count: 8, env: map[string]string{"JOB_COMPLETION_INDEX": "8"}, bad: true},
		{count: 8, bad: true}, // no index in the environment
		{count: -1, env: map[string]string{"JOB_COMPLETION_INDEX": "0"}, bad: true},
		{shard: "0/2", count: 2, env: map[string]string{"JOB_COMPLETION_INDEX": "0"}, bad: true},
	} {
		got, err := shardFrom(c.shard, c.count, env(c.env))
		if c.bad != (err != nil) || !c.bad && got != c.want {
			t.Errorf("shardFrom(%q, %d, %v) = %v, %v", c.shard, c.count, c.env, got, err)
		}
	}
	got := pinShard([]string{"copy", "s3://b", "x", "--shard-count", "4", "--concurrency=8", "--shard=1/9"}, pipeline.Shard{Index: 3, Count: 4})
	if strings.Join(got, " ") != "copy s3://b x --concurrency=8 --shard 3/4" {
		t.Errorf("pinShard: %q", got)
	}
	// A sync cannot be sharded.
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"sync", "s3://bkt", "https://acct.blob.core.windows.net/cont?sv=x&sig=y", "--shard", "0/2"},
		func(string) string { return "" }, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "cannot be sharded") {
		t.Errorf("sharded sync: exit %d\n%s", code, errb.String())
	}
}

// writeJob makes a job folder holding a results file, as a shard's run
// leaves it.
func writeJob(t *testing.T, dir, id, shard string, lines ...string) string {
	t.Helper()
	jr, err := journal.Create(dir, journal.Job{ID: id, Command: "copy", Args: []string{"copy", "s3://b", "x", "--shard", shard}})
	if err != nil {
		t.Fatal(err)
	}
	if err := jr.SetJob(journal.JobDone, nil); err != nil {
		t.Fatal(err)
	}
	jr.Close()
	p := filepath.Join(dir, id, "results.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJobsSummary(t *testing.T) {
	dir := t.TempDir()
	summary := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"jobs", "summary"}, args...), func(string) string { return "" }, &out, &errb)
		return code, out.String() + errb.String()
	}
	writeJob(t, dir, "20260101T000000-aaaaaa", "0/3",
		`{"source":"s3://b/a","destination":"c/a","size":10,"outcome":"copied","attempts":1}`,
		`{"source":"s3://b/d,\"q\"","destination":"c/d","size":5,"outcome":"skipped","reason":"folder marker: x","attempts":0}`)
	// A resumed shard: the failure of its first run is superseded.
	writeJob(t, dir, "20260101T000000-bbbbbb", "1/3",
		`{"source":"s3://b/b","destination":"c/b","size":20,"outcome":"failed","reason":"boom","attempts":3}`,
		`{"source":"s3://b/b","destination":"c/b","size":20,"outcome":"copied","attempts":1}`)
	code, out := summary("--results", dir)
	if code != 0 || !strings.Contains(out, "copied:          2 (30 B)") || !strings.Contains(out, "skipped:         1") ||
		!strings.Contains(out, "shards [2] of 3 have no results") {
		t.Errorf("exit %d\n%s", code, out)
	}
	third := writeJob(t, dir, "20260101T000000-cccccc", "2/3",
		`{"source":"s3://b/e","destination":"c/e","size":7,"outcome":"failed","reason":"gave up after 8 attempts","attempts":8}`)
	code, out = summary("--results", filepath.Join(dir, "*", "results.jsonl"))
	if code != 1 || !strings.Contains(out, "shards:          all 3") || !strings.Contains(out, "s3://b/e: gave up after 8 attempts") ||
		!strings.Contains(out, "failed:          1 (7 B)") {
		t.Errorf("exit %d\n%s", code, out)
	}
	// The same object in two files: an error that names it.
	dup := filepath.Join(t.TempDir(), "other.jsonl")
	os.WriteFile(dup, []byte(`{"source":"s3://b/a","destination":"c/a","size":10,"outcome":"copied","attempts":1}`+"\n"), 0o600)
	code, out = summary("--results", third, "--results", dup, filepath.Join(dir, "20260101T000000-aaaaaa", "results.jsonl"))
	if code != 2 || !strings.Contains(out, "s3://b/a (in ") {
		t.Errorf("duplicates: exit %d\n%s", code, out)
	}
	// Given twice, a file is read once.
	if code, out = summary(third, third); code != 1 || strings.Contains(out, "more than one") {
		t.Errorf("a file given twice: exit %d\n%s", code, out)
	}
	if code, _ = summary(); code != 2 {
		t.Errorf("no files: exit %d", code)
	}
	if code, _ = summary("--results", filepath.Join(dir, "nothing*")); code != 2 {
		t.Errorf("a glob matching nothing: exit %d", code)
	}
}
