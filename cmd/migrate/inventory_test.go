package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/inventory/inventorytest"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestCopyFromInventoryAgainstTheRig copies a bucket listed by an S3
// Inventory report made before one object changed, one was deleted and one
// was created: no ListObjectsV2, the changed object copied as it is now
// and counted, the deleted one skipped with its reason, the created one
// left to a sync.
func TestCopyFromInventoryAgainstTheRig(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-inventory"
	keys := []string{"a,b,c.txt", `say "hi".txt`, "sp ace/file name.bin", "100% done", "a+b=c", "ünï/日本語.txt",
		"pre%20encoded", "changed", "deleted"}
	for i := range 8 {
		keys = append(keys, "plain/f"+string(rune('0'+i)))
	}
	var seeds []seed
	for i, k := range keys {
		seeds = append(seeds, seed{key: k, data: providertest.Data(50+i*10, uint32(i))})
	}
	w.seed(t, bucket, seeds)
	ctx := context.Background()
	var first, second []inventorytest.Row
	for i, k := range keys {
		h, err := w.s3c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		r := inventorytest.Row{Key: k, Size: aws.ToInt64(h.ContentLength), LastModified: aws.ToTime(h.LastModified),
			ETag: strings.Trim(aws.ToString(h.ETag), `"`)}
		if i%2 == 0 {
			first = append(first, r)
		} else {
			second = append(second, r)
		}
	}
	created := time.Now().UTC().Truncate(time.Minute)
	manifest, err := inventorytest.Write(t.TempDir(), bucket, created, first, second)
	if err != nil {
		t.Fatal(err)
	}
	// After the inventory.
	put := func(k string, data []byte) {
		if _, err := w.s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	changed := providertest.Data(4321, 77)
	put("changed", changed)
	put("created", providertest.Data(10, 1))
	if _, err := w.s3c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("deleted")}); err != nil {
		t.Fatal(err)
	}

	w.proxy.Reset()
	code, stdout, stderr := w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/inventoried", "--s3-endpoint", w.proxy.URL,
		"--source-inventory", manifest)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"S3 Inventory of " + created.Format(time.RFC3339),
		"Objects created since " + created.Format(time.RFC3339) + " are not in it: follow with 'migrate sync'",
		"skipped s3://" + bucket + "/deleted: deleted since the inventory",
		fmt.Sprintf("copied:          %d", len(keys)-1),
		"changed since the inventory: 1 (copied as they are now)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "warning: s3://"+bucket+"/changed: changed since the inventory") {
		t.Errorf("no warning for the changed object:\n%s", stderr)
	}
	blobs := w.listBlobs(t, "inventoried")
	for _, k := range keys {
		_, ok := blobs[k]
		if ok != (k != "deleted") {
			t.Errorf("blob %q present %v", k, ok)
		}
	}
	if _, ok := blobs["created"]; ok || len(blobs) != len(keys)-1 {
		t.Errorf("blobs %v: want the %d inventoried objects still there, not the one created since", blobs, len(keys)-1)
	}
	if got := w.download(t, "inventoried", "changed"); !bytes.Equal(got, changed) {
		t.Errorf("the changed object was copied with %d bytes, not as it is now (%d)", len(got), len(changed))
	}
	for _, r := range w.proxy.Records() {
		if r.Method == "GET" && r.Bucket == bucket && r.Key == "" {
			t.Errorf("the bucket was listed: %s ?%s", r.Method, r.RawQueryRedacted)
		}
	}

	// JSON: the date in a note, the count in the summary.
	code, stdout, stderr = w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/inventoried-json", "--s3-endpoint", w.proxy.URL,
		"--source-inventory", manifest, "--output", "json", "--dry-run")
	if code != 0 {
		t.Fatalf("json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var note struct{ Type, Message string }
	if err := json.Unmarshal([]byte(lines[0]), &note); err != nil || note.Type != "note" || !strings.Contains(note.Message, created.Format(time.RFC3339)) {
		t.Errorf("first line %q: want a note with the inventory's date", lines[0])
	}
	var sum struct {
		Changed     int64            `json:"changed_since_inventory"`
		SkipReasons map[string]int64 `json:"skip_reasons"`
		Totals      struct{ Planned int64 }
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Changed != 1 ||
		sum.SkipReasons["deleted since the inventory"] != 1 || sum.Totals.Planned != int64(len(keys)-1) {
		t.Errorf("summary %+v (%v): %s", sum, err, lines[len(lines)-1])
	}
}
