package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// outputSchema compiles docs/output.schema.json.
func outputSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("../../docs/output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("output.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlanWritesNothingAndMatchesADirectCopy: a plan against the rig makes
// no write request on either side and creates nothing; its JSON output
// follows the documented schema; executing its plan file gives the same
// blobs as a direct copy.
func TestPlanWritesNothingAndMatchesADirectCopy(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-plan"
	var seeds []seed
	for i := range 30 {
		seeds = append(seeds, seed{key: "d/" + string(rune('a'+i%26)) + strings.Repeat("x", i), data: providertest.Data(100*i, uint32(i))})
	}
	seeds = append(seeds, seed{key: "bad.", data: []byte("x")}, seed{key: "big.bin", data: providertest.Data(600<<10, 9)})
	w.seed(t, bucket, seeds)
	// Every request the tool sends to Azure passes through a recorder.
	azRec, err := testenv.NewS3Proxy(w.az.Endpoint[:strings.LastIndex(w.az.Endpoint, "/")])
	if err != nil {
		t.Fatal(err)
	}
	defer azRec.Close()
	azEndpoint := azRec.URL + "/" + w.az.Account
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.jsonl")
	w.proxy.Reset()
	code, stdout, stderr := w.run(t, "plan", "s3://"+bucket, azEndpoint+"/planned", "--s3-endpoint", w.proxy.URL,
		"--put-blob-max-size", "256KiB", "--block-size", "256KiB", "--output", "json", "--plan-file", planFile)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, r := range append(w.proxy.Records(), azRec.Records()...) {
		if r.Method != "GET" && r.Method != "HEAD" {
			t.Errorf("the plan sent a write: %s %s/%s", r.Method, r.Bucket, r.Key)
		}
	}
	if contains(w.containers(t), "planned") {
		t.Errorf("the plan created the container")
	}

	schema := outputSchema(t)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var last map[string]any
	for i, l := range lines {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(l))
		if err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, l)
		}
		if err := schema.Validate(v); err != nil {
			t.Errorf("line %d breaks the schema: %v\n%s", i+1, err, l)
		}
		last, _ = v.(map[string]any)
	}
	if last["type"] != "summary" || last["dry_run"] != true {
		t.Fatalf("the last line is not the dry run's summary: %v", last)
	}
	totals := last["totals"].(map[string]any)
	est := last["estimate"].(map[string]any)
	if totals["planned"].(json.Number).String() != "31" || totals["skipped"].(json.Number).String() != "1" ||
		est["s3_get"].(json.Number).String() != "32" || est["egress_bytes"].(json.Number).String() == "0" {
		t.Errorf("totals %v estimate %v", totals, est)
	}

	// The plan executed, and a direct copy, give the same blobs.
	code, stdout, stderr = w.run(t, "copy", "--from-plan", planFile)
	if code != 0 {
		t.Fatalf("copy --from-plan: exit %d\nstdout:%s\nstderr:%s", code, stdout, stderr)
	}
	code, stdout, stderr = w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/direct", "--s3-endpoint", w.proxy.URL,
		"--put-blob-max-size", "256KiB", "--block-size", "256KiB")
	if code != 0 {
		t.Fatalf("direct copy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	planned, direct := w.listBlobs(t, "planned"), w.listBlobs(t, "direct")
	if len(planned) != 31 || len(planned) != len(direct) {
		t.Fatalf("from the plan %d blobs, direct %d", len(planned), len(direct))
	}
	for k, n := range direct {
		if planned[k] != n {
			t.Errorf("%s: %d bytes from the plan, %d direct", k, planned[k], n)
		}
	}
	// The plan file: a header, then one line per object with its decisions.
	fh, _ := os.Open(planFile)
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Scan()
	if !strings.Contains(sc.Text(), `"migrate_plan":1`) || strings.Contains(sc.Text(), "--dry-run") || strings.Contains(sc.Text(), "plan.jsonl") {
		t.Errorf("plan header %s", sc.Text())
	}
	n := 0
	for sc.Scan() {
		n++
	}
	if n != 32 {
		t.Errorf("the plan file lists %d objects, want 32", n)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
