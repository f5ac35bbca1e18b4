package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// Issue 9 against the rig: local folders into S3 and Azure, S3 → S3
// server-side (CopyObject and UploadPartCopy), aborted uploads, and move.

// newCopyWorld is a world whose versitygw copies at most 10 MiB with one
// CopyObject or UploadPartCopy (S3's 5 GiB, scaled down), so that MiB
// objects take the large-object paths.
func newCopyWorld(t *testing.T) *world {
	t.Helper()
	testenv.S3(t) // skips, or fails in CI, when the rig is missing
	s3srv, err := testenv.StartS3(context.Background(), testenv.S3Options{CopyObjectThreshold: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3srv.Stop() })
	return newWorldOn(t, s3srv, testenv.Azure(t))
}

// tree writes files (path → content) under a new folder and returns it;
// a path ending in "/" is an empty folder.
func tree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for p, d := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func (w *world) createBucket(t *testing.T, bucket string) {
	t.Helper()
	if _, err := w.s3c.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// object reads an S3 object: its bytes and its HEAD.
func (w *world) object(t *testing.T, bucket, key string) ([]byte, *awss3.HeadObjectOutput) {
	t.Helper()
	ctx := context.Background()
	out, err := w.s3c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	d, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	head, err := w.s3c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return d, head
}

func (w *world) objectTags(t *testing.T, bucket, key string) map[string]string {
	t.Helper()
	out, err := w.s3c.GetObjectTagging(context.Background(), &awss3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// keys lists the keys of an S3 bucket with their sizes.
func (w *world) keys(t *testing.T, bucket string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	p := awss3.NewListObjectsV2Paginator(w.s3c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			got[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return got
}

// openUploads lists the incomplete multipart uploads of a bucket.
func (w *world) openUploads(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := w.s3c.ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

func TestLocalFolderToS3AndAzure(t *testing.T) {
	w := newWorld(t)
	big := providertest.Data(12<<20+12345, 4) // three 5 MiB parts
	files := map[string][]byte{
		"empty.txt":              {},
		"index.html":             []byte("<p>hi</p>"),
		"a/b/c/deep.json":        []byte(`{"deep":true}`),
		"a/b/sibling-a.csv":      []byte("x,y\n1,2\n"),
		"a/b-c.txt":              []byte("sorts before a/b/"),
		"name with spaces.txt":   []byte("spaces"),
		"unicodé/ファイル.bin":       providertest.Data(3000, 1),
		"big/large.bin":          big,
		"an/empty/folder/":       nil,
		"just/one/level/x.parq":  providertest.Data(100, 2),
		"percent%2F+plus.txt":    []byte("%+"),
		"exactly-one-block.data": providertest.Data(5<<20, 3),
	}
	root := tree(t, files)
	// Not a file to copy, and never passed over silently.
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "dangling.txt")); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for p, d := range files {
		if !strings.HasSuffix(p, "/") {
			want[p] = int64(len(d))
		}
	}

	t.Run("plan", func(t *testing.T) {
		planFile := filepath.Join(t.TempDir(), "plan.jsonl")
		code, out, errOut := w.run(t, "plan", root, "s3://local-plan/x", "--s3-endpoint", w.proxy.URL, "--block-size", "5MiB", "--output", "json",
			"--plan-file", planFile)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var sum struct {
			Totals struct {
				Planned int64 `json:"planned"`
			} `json:"totals"`
			Estimate struct {
				AzureWrite int64 `json:"azure_write"`
			} `json:"estimate"`
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
			t.Fatal(err)
		}
		// 10 files of one block are one request each; the large file is
		// begin, 3 parts, complete (the destination's writes).
		if sum.Totals.Planned != int64(len(want)) || sum.Estimate.AzureWrite != 10+5 {
			t.Errorf("planned %d (want %d), destination writes %d (want 15)\n%s", sum.Totals.Planned, len(want), sum.Estimate.AzureWrite, lines[len(lines)-1])
		}
		if _, err := w.s3c.HeadBucket(context.Background(), &awss3.HeadBucketInput{Bucket: aws.String("local-plan")}); err == nil {
			t.Error("a plan created the bucket")
		}
		// The saved plan runs as it is.
		if code, out, errOut := w.run(t, "copy", "--from-plan", planFile); code != 0 {
			t.Fatalf("--from-plan: exit %d\n%s\n%s", code, out, errOut)
		}
		if got := w.keys(t, "local-plan"); len(got) != len(want) || got["x/big/large.bin"] != want["big/large.bin"] {
			t.Errorf("the plan copied %v", got)
		}
	})

	t.Run("to S3", func(t *testing.T) {
		w.createBucket(t, "local-up")
		w.proxy.Reset()
		code, out, errOut := w.run(t, "copy", root, "s3://local-up/pre", "--s3-endpoint", w.proxy.URL,
			"--block-size", "5MiB", "--metadata", "origin=laptop", "--concurrency", "8")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(out, "dangling.txt is not copied") {
			t.Errorf("the dangling link was passed over silently:\n%s", out)
		}
		if got, want := w.keys(t, "local-up"), prefixed("pre/", want); !mapsEqual(got, want) {
			t.Fatalf("bucket holds %v\nwant %v", got, want)
		}
		for k, d := range files {
			if strings.HasSuffix(k, "/") {
				continue
			}
			body, head := w.object(t, "local-up", "pre/"+k)
			if !bytes.Equal(body, d) {
				t.Errorf("%s differs", k)
			}
			if head.Metadata["origin"] != "laptop" {
				t.Errorf("%s metadata %v", k, head.Metadata)
			}
		}
		_, head := w.object(t, "local-up", "pre/big/large.bin")
		if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
			t.Errorf("large file ETag %s, want a 3-part multipart ETag", etag)
		}
		for key, ct := range map[string]string{"pre/index.html": "text/html", "pre/a/b/c/deep.json": "application/json", "pre/a/b/sibling-a.csv": "text/csv"} {
			if _, head := w.object(t, "local-up", key); !strings.HasPrefix(aws.ToString(head.ContentType), ct) {
				t.Errorf("%s Content-Type %q, want %s", key, aws.ToString(head.ContentType), ct)
			}
		}
		// One PutObject per file of one block; three parts for the large
		// file; nothing read back from S3.
		var puts, parts int
		for _, r := range w.proxy.Records() {
			switch {
			case r.Method == http.MethodPut && strings.Contains(r.RawQueryRedacted, "partNumber="):
				parts++
			case r.Method == http.MethodPut && r.Key != "":
				puts++
			case r.Method == http.MethodGet && r.Key != "":
				t.Errorf("the upload read %s back", r.Key)
			}
		}
		if puts != len(want)-1 || parts != 3 { // the large file is an upload; the empty file is one put too
			t.Errorf("%d puts and %d parts, want %d and 3", puts, parts, len(want)-1)
		}
		if open := w.openUploads(t, "local-up"); len(open) != 0 {
			t.Errorf("incomplete uploads left: %v", open)
		}
	})

	t.Run("to Azure", func(t *testing.T) {
		code, out, errOut := w.run(t, "copy", root, w.az.Endpoint+"/local-up/pre", "--block-size", "5MiB", "--concurrency", "8")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		if got, want := w.listBlobs(t, "local-up"), prefixed("pre/", want); !mapsEqual(got, want) {
			t.Fatalf("container holds %v\nwant %v", got, want)
		}
		for k, d := range files {
			if !strings.HasSuffix(k, "/") && !bytes.Equal(w.download(t, "local-up", "pre/"+k), d) {
				t.Errorf("%s differs", k)
			}
		}
		if _, props, _ := w.blob(t, "local-up", "pre/index.html"); !strings.HasPrefix(str(props.ContentType), "text/html") {
			t.Errorf("Content-Type %q", str(props.ContentType))
		}
	})
}

// prefixed is m with prefix before every key.
func prefixed[V any](prefix string, m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestS3ToS3ServerSide(t *testing.T) {
	w := newCopyWorld(t)
	small, large := providertest.Data(7<<20, 1), providertest.Data(40<<20, 2)
	withProps := func(tags string) func(*awss3.PutObjectInput) {
		return func(in *awss3.PutObjectInput) {
			in.ContentType = aws.String("application/x-test")
			in.CacheControl = aws.String("max-age=60")
			in.Metadata = map[string]string{"owner": "team-a", "my-key": "dashed"}
			in.Tagging = aws.String(tags)
		}
	}
	w.seed(t, "s2s-src", []seed{
		{key: "small.bin", data: small, put: withProps("size=small")},
		{key: "dir/large.bin", data: large, put: withProps("size=large&class=b")},
	})
	w.createBucket(t, "s2s-dst")
	w.proxy.Reset()
	code, out, errOut := w.run(t, "copy", "s3://s2s-src", "s3://s2s-dst/copied", "--s3-endpoint", w.proxy.URL,
		"--copy-object-max-size", "10MiB", "--block-size", "8MiB", "--results", filepath.Join(t.TempDir(), "r.jsonl"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for key, want := range map[string]struct {
		data []byte
		tags map[string]string
	}{
		"small.bin":     {small, map[string]string{"size": "small"}},
		"dir/large.bin": {large, map[string]string{"size": "large", "class": "b"}},
	} {
		body, head := w.object(t, "s2s-dst", "copied/"+key)
		if !bytes.Equal(body, want.data) {
			t.Errorf("%s differs", key)
		}
		if aws.ToString(head.ContentType) != "application/x-test" || aws.ToString(head.CacheControl) != "max-age=60" ||
			head.Metadata["owner"] != "team-a" || head.Metadata["my-key"] != "dashed" {
			t.Errorf("%s lost its properties: type %q cache %q metadata %v", key, aws.ToString(head.ContentType), aws.ToString(head.CacheControl), head.Metadata)
		}
		if got := w.objectTags(t, "s2s-dst", "copied/"+key); !mapsEqual(got, want.tags) {
			t.Errorf("%s tags %v, want %v", key, got, want.tags)
		}
	}
	_, head := w.object(t, "s2s-dst", "copied/dir/large.bin")
	if etag := strings.Trim(aws.ToString(head.ETag), `"`); !strings.HasSuffix(etag, "-5") {
		t.Errorf("40 MiB in 8 MiB parts: ETag %s, want the -5 form", etag)
	}
	// The client sent and received no object bytes: CopyObject for the
	// small one, UploadPartCopy for every part of the large one.
	var copies, partCopies int
	var payload int64
	for _, r := range w.proxy.Records() {
		switch {
		case r.CopySource != "" && strings.Contains(r.RawQueryRedacted, "partNumber="):
			partCopies++
			if !strings.Contains(r.CopySource, "large.bin") {
				t.Errorf("part copy of %s", r.CopySource)
			}
		case r.CopySource != "":
			copies++
			if !strings.Contains(r.CopySource, "small.bin") {
				t.Errorf("CopyObject of %s", r.CopySource)
			}
		case r.Method == http.MethodGet && r.Key != "" && !strings.Contains(r.RawQueryRedacted, "tagging"):
			payload += r.RespBytes
		}
		if r.Method == http.MethodPut && r.CopySource == "" && r.Key != "" && !strings.Contains(r.RawQueryRedacted, "tagging") {
			payload += r.ReqBytes
		}
	}
	if copies != 1 || partCopies != 5 || payload != 0 {
		t.Errorf("%d CopyObject, %d UploadPartCopy, %d payload bytes through the client; want 1, 5, 0", copies, partCopies, payload)
	}
	if open := w.openUploads(t, "s2s-dst"); len(open) != 0 {
		t.Errorf("incomplete uploads left: %v", open)
	}
	// verify works between two buckets as between a bucket and a container.
	if code, out, errOut := w.run(t, "verify", "s3://s2s-src", "s3://s2s-dst/copied", "--s3-endpoint", w.proxy.URL); code != 0 {
		t.Errorf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := w.s3c.DeleteObject(context.Background(), &awss3.DeleteObjectInput{Bucket: aws.String("s2s-dst"), Key: aws.String("copied/small.bin")}); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := w.run(t, "verify", "s3://s2s-src", "s3://s2s-dst/copied", "--s3-endpoint", w.proxy.URL); code != 3 || !strings.Contains(out, "small.bin") {
		t.Errorf("verify after a deletion: exit %d (want 3, naming small.bin)\n%s\n%s", code, out, errOut)
	}
}

func TestInterruptedMultipartCopyLeavesNoUpload(t *testing.T) {
	w := newCopyWorld(t)
	large := providertest.Data(40<<20, 3)
	w.seed(t, "abort-src", []seed{{key: "large.bin", data: large}})
	w.createBucket(t, "abort-dst")

	// A part the server keeps refusing: the object fails, and its upload
	// is aborted.
	var refused atomic.Int64
	w.proxy.SetRequestHook(func(r testenv.S3Record) int {
		if r.CopySource != "" && strings.Contains(r.RawQueryRedacted, "partNumber=3") {
			refused.Add(1)
			return http.StatusForbidden
		}
		return 0
	})
	code, out, errOut := w.run(t, "copy", "s3://abort-src", "s3://abort-dst", "--s3-endpoint", w.proxy.URL,
		"--copy-object-max-size", "10MiB", "--block-size", "8MiB", "--retries", "1", "--output", "json")
	if code != 1 || refused.Load() == 0 {
		t.Fatalf("exit %d (want 1), part 3 refused %d times\n%s\n%s", code, refused.Load(), out, errOut)
	}
	if !strings.Contains(out, "large.bin") {
		t.Errorf("the failure does not name the object:\n%s", out)
	}
	if open := w.openUploads(t, "abort-dst"); len(open) != 0 {
		t.Fatalf("a failed copy left incomplete uploads: %v", open)
	}
	if keys := w.keys(t, "abort-dst"); len(keys) != 0 {
		t.Fatalf("a failed copy left objects: %v", keys)
	}

	// Interrupted (Ctrl-C) while parts are copied: aborted too, and the
	// resumed job completes the object.
	journals := t.TempDir()
	var mu sync.Mutex
	var child *started
	w.proxy.SetRequestHook(func(r testenv.S3Record) int {
		if r.CopySource != "" && strings.Contains(r.RawQueryRedacted, "partNumber=2") {
			mu.Lock()
			if child != nil {
				_ = child.cmd.Process.Signal(os.Interrupt) // part 2 is in flight when it lands
			}
			mu.Unlock()
		}
		return 0
	})
	mu.Lock()
	child = w.start(t, "copy", "s3://abort-src", "s3://abort-dst", "--s3-endpoint", w.proxy.URL, "--journal-dir", journals,
		"--copy-object-max-size", "10MiB", "--block-size", "8MiB", "--concurrency", "1")
	mu.Unlock()
	err := child.cmd.Wait()
	w.proxy.SetRequestHook(nil)
	if code := child.cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("interrupted run: exit %d (%v), want 130\n%s\n%s", code, err, child.stdout.String(), child.stderr.String())
	}
	if open := w.openUploads(t, "abort-dst"); len(open) != 0 {
		res, _ := filepath.Glob(filepath.Join(journals, "*", "results.jsonl"))
		var results []byte
		if len(res) == 1 {
			results, _ = os.ReadFile(res[0])
		}
		var reqs []string
		for _, r := range w.proxy.Records() {
			reqs = append(reqs, fmt.Sprintf("%s %s/%s?%s %d", r.Method, r.Bucket, r.Key, r.RawQueryRedacted, r.Status))
		}
		t.Fatalf("an interrupted copy left incomplete uploads: %v\n%s\n%s\n%s\n%s", open, child.stdout.String(), child.stderr.String(), results, strings.Join(reqs, "\n"))
	}
	out = child.stdout.String()
	k := strings.Index(out, "resume with: migrate jobs resume ")
	if k < 0 {
		t.Fatalf("no resume hint:\n%s", out)
	}
	id := strings.Fields(out[k+len("resume with: migrate jobs resume "):])[0]
	if code, out, errOut := w.run(t, "jobs", "resume", id, "--journal-dir", journals); code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if body, _ := w.object(t, "abort-dst", "large.bin"); !bytes.Equal(body, large) {
		t.Error("the resumed copy differs")
	}
	if open := w.openUploads(t, "abort-dst"); len(open) != 0 {
		t.Fatalf("incomplete uploads after the resume: %v", open)
	}
}

func TestMoveVerifiesBeforeDeleting(t *testing.T) {
	w := newCopyWorld(t)
	large, small := providertest.Data(24<<20, 5), providertest.Data(1000, 6)
	w.seed(t, "move-src", []seed{{key: "large.bin", data: large}, {key: "keep/small.txt", data: small}})
	w.createBucket(t, "move-dst")
	w.proxy.Reset()
	code, out, errOut := w.run(t, "move", "s3://move-src", "s3://move-dst", "--s3-endpoint", w.proxy.URL,
		"--copy-object-max-size", "10MiB", "--block-size", "8MiB", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if keys := w.keys(t, "move-src"); len(keys) != 0 {
		t.Errorf("sources left after the move: %v", keys)
	}
	if body, _ := w.object(t, "move-dst", "large.bin"); !bytes.Equal(body, large) {
		t.Error("large.bin differs")
	}
	if body, _ := w.object(t, "move-dst", "keep/small.txt"); !bytes.Equal(body, small) {
		t.Error("small.txt differs")
	}
	// For each object: the copy completes, then the destination is read
	// back, and only then is the source deleted.
	for _, key := range []string{"large.bin", "keep/small.txt"} {
		var order []string
		for _, r := range w.proxy.Records() {
			switch {
			case r.Bucket == "move-dst" && r.Key == key && r.Method == http.MethodPost && strings.Contains(r.RawQueryRedacted, "uploadId="):
				order = append(order, "complete")
			case r.Bucket == "move-dst" && r.Key == key && r.Method == http.MethodPut && r.CopySource != "" && !strings.Contains(r.RawQueryRedacted, "partNumber="):
				order = append(order, "complete") // CopyObject
			case r.Bucket == "move-dst" && r.Key == key && r.Method == http.MethodHead:
				order = append(order, "verify")
			case r.Bucket == "move-src" && r.Key == key && r.Method == http.MethodDelete:
				order = append(order, "delete")
			}
		}
		if strings.Join(order, ",") != "complete,verify,delete" {
			t.Errorf("%s: requests in order %v, want complete, verify, delete", key, order)
		}
	}
	var sum struct {
		Type           string `json:"type"`
		SourcesDeleted int64  `json:"sources_deleted"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" || sum.SourcesDeleted != 2 {
		t.Errorf("summary %+v (%v): want 2 sources deleted", sum, err)
	}

	// A move whose copy fails deletes nothing.
	w.seed(t, "move-src2", []seed{{key: "stays.bin", data: small}})
	w.createBucket(t, "move-dst2")
	w.proxy.SetRequestHook(func(r testenv.S3Record) int {
		if r.Bucket == "move-dst2" && r.CopySource != "" {
			return http.StatusForbidden
		}
		return 0
	})
	defer w.proxy.SetRequestHook(nil)
	if code, out, errOut := w.run(t, "move", "s3://move-src2", "s3://move-dst2", "--s3-endpoint", w.proxy.URL, "--retries", "0"); code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if keys := w.keys(t, "move-src2"); keys["stays.bin"] != int64(len(small)) {
		t.Errorf("a failed move deleted its source: %v", keys)
	}
}

func TestMoveLocalFolderToAzure(t *testing.T) {
	w := newWorld(t)
	files := map[string][]byte{"one.txt": []byte("1"), "sub/two.txt": []byte("22"), "sub/big.bin": providertest.Data(6<<20, 7)}
	root := tree(t, files)
	code, out, errOut := w.run(t, "move", root, w.az.Endpoint+"/moved-local", "--block-size", "4MiB")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for k, d := range files {
		if !bytes.Equal(w.download(t, "moved-local", k), d) {
			t.Errorf("%s differs", k)
		}
		if _, err := os.Stat(filepath.Join(root, k)); !os.IsNotExist(err) {
			t.Errorf("%s still at the source (%v)", k, err)
		}
	}
	if !strings.Contains(out, "sources deleted: 3") {
		t.Errorf("summary does not count the deleted sources:\n%s", out)
	}
}

func TestSyncLocalFolderToS3(t *testing.T) {
	w := newWorld(t)
	root := tree(t, map[string][]byte{"same.txt": []byte("same"), "grows.txt": []byte("v1"), "touched.txt": []byte("abc"), "gone.txt": []byte("bye")})
	w.createBucket(t, "sync-local")
	sync := func(extra ...string) (copied, deleted int64) {
		t.Helper()
		args := append([]string{"sync", root, "s3://sync-local/s", "--s3-endpoint", w.proxy.URL, "--output", "json"}, extra...)
		code, out, errOut := w.run(t, args...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var sum struct {
			Totals struct {
				Copied int64 `json:"copied"`
			} `json:"totals"`
			Deleted int64 `json:"deleted"`
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
			t.Fatal(err)
		}
		return sum.Totals.Copied, sum.Deleted
	}
	if copied, _ := sync(); copied != 4 {
		t.Fatalf("first sync copied %d, want 4", copied)
	}
	// The AWS CLI's rules: size differs, or the local file is newer (in
	// whole seconds, as listings give them: hence the wait).
	time.Sleep(1100 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(root, "grows.txt"), []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "touched.txt"), []byte("xyz"), 0o644); err != nil { // same size, newer
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "new.txt"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	copied, deleted := sync("--delete")
	if copied != 3 || deleted != 1 {
		t.Fatalf("second sync copied %d and deleted %d, want 3 and 1", copied, deleted)
	}
	got := w.keys(t, "sync-local")
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "s/grows.txt s/new.txt s/same.txt s/touched.txt" {
		t.Errorf("bucket holds %v", keys)
	}
	if body, _ := w.object(t, "sync-local", "s/touched.txt"); string(body) != "xyz" {
		t.Errorf("touched.txt holds %q", body)
	}
	if copied, _ := sync(); copied != 0 {
		t.Errorf("a third sync copied %d, want 0", copied)
	}
}

// TestMoveInterruptedAndResumed: a move stopped part way resumes as a move:
// every object ends at the destination and every source is deleted, none
// before its copy.
func TestMoveInterruptedAndResumed(t *testing.T) {
	w := newWorld(t)
	var seeds []seed
	want := map[string][]byte{}
	for i := range 30 {
		k := fmt.Sprintf("m/%02d", i)
		want[k] = providertest.Data(2000+i, uint32(i))
		seeds = append(seeds, seed{key: k, data: want[k]})
	}
	w.seed(t, "move-resume-src", seeds)
	w.createBucket(t, "move-resume-dst")
	journals := t.TempDir()
	var mu sync.Mutex
	var child *started
	deletes := 0
	w.proxy.SetRequestHook(func(r testenv.S3Record) int {
		if r.Bucket == "move-resume-src" && r.Method == http.MethodDelete {
			mu.Lock()
			if deletes++; deletes == 10 && child != nil {
				_ = child.cmd.Process.Signal(os.Interrupt)
			}
			mu.Unlock()
		}
		return 0
	})
	mu.Lock()
	child = w.start(t, "move", "s3://move-resume-src", "s3://move-resume-dst", "--s3-endpoint", w.proxy.URL,
		"--journal-dir", journals, "--concurrency", "2")
	mu.Unlock()
	err := child.cmd.Wait()
	w.proxy.SetRequestHook(nil)
	if code := child.cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d (%v), want 130\n%s\n%s", code, err, child.stdout.String(), child.stderr.String())
	}
	left := w.keys(t, "move-resume-src")
	if len(left) == 0 || len(left) == len(want) {
		t.Fatalf("%d of %d sources left after the interruption; want some, not all", len(left), len(want))
	}
	for k := range want {
		if _, inSrc := left[k]; !inSrc {
			if body, _ := w.object(t, "move-resume-dst", k); !bytes.Equal(body, want[k]) {
				t.Fatalf("%s was deleted at the source but its copy differs", k)
			}
		}
	}
	out := child.stdout.String()
	k := strings.Index(out, "resume with: migrate jobs resume ")
	if k < 0 {
		t.Fatalf("no resume hint:\n%s", out)
	}
	id := strings.Fields(out[k+len("resume with: migrate jobs resume "):])[0]
	code, stdout, stderr := w.run(t, "jobs", "resume", id, "--journal-dir", journals)
	if code != 0 || !strings.Contains(stdout, "migrate move") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if left := w.keys(t, "move-resume-src"); len(left) != 0 {
		t.Errorf("sources left after the resumed move: %v", left)
	}
	for k, d := range want {
		if body, _ := w.object(t, "move-resume-dst", k); !bytes.Equal(body, d) {
			t.Errorf("%s differs", k)
		}
	}
}

// TestParallelListingInARealRun: a listing past 20 pages is split into
// key ranges listed with start-after, and every object still arrives once.
func TestParallelListingInARealRun(t *testing.T) {
	w := newWorld(t)
	var seeds []seed
	for i := range 400 {
		seeds = append(seeds, seed{key: fmt.Sprintf("p%d/%03d", i%7, i), data: []byte{byte(i)}})
	}
	w.seed(t, "parallel-list", seeds)
	w.proxy.Reset()
	code, out, errOut := w.run(t, "copy", "s3://parallel-list", w.az.Endpoint+"/parallel-list", "--s3-endpoint", w.proxy.URL,
		"--page-size", "10", "--list-parallelism", "4")
	if code != 0 || !strings.Contains(out, "copied:          400") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(w.listBlobs(t, "parallel-list")); n != 400 {
		t.Fatalf("%d blobs, want 400", n)
	}
	startAfter, heads := 0, map[string]int{}
	for _, r := range w.proxy.Records() {
		if strings.Contains(r.RawQueryRedacted, "start-after=") {
			startAfter++
		}
		if r.Method == http.MethodHead && r.Key != "" {
			heads[r.Key]++
		}
	}
	if startAfter == 0 {
		t.Error("no listing request used start-after: the listing was not split")
	}
	for k, n := range heads {
		if n != 1 {
			t.Errorf("%s was looked at %d times", k, n)
		}
	}
}

// TestS3ToS3AcrossEndpointsStreams: two S3-compatible servers cannot copy
// from each other, so the bytes stream through the tool, which says so.
func TestS3ToS3AcrossEndpointsStreams(t *testing.T) {
	w := newCopyWorld(t) // its own versitygw: the source
	other := testenv.S3(t)
	oc, err := other.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String("xend-dst")}); err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{"small.txt": []byte("hello"), "big.bin": providertest.Data(12<<20, 8)}
	var seeds []seed
	for k, d := range objs {
		seeds = append(seeds, seed{key: k, data: d, put: func(in *awss3.PutObjectInput) { in.Metadata = map[string]string{"k": "v"} }})
	}
	w.seed(t, "xend-src", seeds)
	code, out, errOut := w.run(t, "copy", "s3://xend-src", "s3://xend-dst", "--s3-endpoint", w.proxy.URL,
		"--dest-s3-endpoint", other.Endpoint, "--block-size", "5MiB")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "streamed") {
		t.Errorf("the summary does not say the bytes streamed:\n%s", out)
	}
	for k, d := range objs {
		got, err := oc.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String("xend-dst"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if !bytes.Equal(body, d) || got.Metadata["k"] != "v" {
			t.Errorf("%s: %d bytes (want %d), metadata %v", k, len(body), len(d), got.Metadata)
		}
	}
	for _, r := range w.proxy.Records() {
		if r.CopySource != "" {
			t.Errorf("a copy request went to the source's server: %s %s", r.Method, r.Key)
		}
	}
}
