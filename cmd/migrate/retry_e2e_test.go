package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestRetriesThroughFaults copies 2,000 objects through fault proxies on
// both sides: before S3 (so the tool's own requests and Azure's presigned
// fetches are faulted) and before Azure's copy-source front. 5% of the
// requests each side may fault are answered 503 (SlowDown / ServerBusy),
// 5% 500 (InternalError / OperationTimedOut) and 5% get a reset
// connection; no request is faulted twice in a row. The run must end with
// exit 0 and every object present and byte-identical.
func TestRetriesThroughFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 objects through faults: not in -short")
	}
	w := newWorld(t)
	const bucket, cont = "e2e-retries-faults", "retries-faults"
	const n = 2000
	objs := make([]seed, n)
	for i := range objs {
		size := (i * 7919) % (8<<10 + 1) // 0 B to 8 KiB
		if i%100 == 37 {
			size = 300 << 10 // 20 objects above --put-blob-max-size: 3 blocks each
		}
		objs[i] = seed{key: fmt.Sprintf("d%02d/obj-%04d", i%13, i), data: providertest.Data(size, uint32(i))}
	}
	start := time.Now()
	w.seedParallel(t, bucket, objs, 16)
	t.Logf("seeded %d objects in %v", n, time.Since(start).Round(time.Millisecond))

	faults := testenv.FaultOptions{Throttle: 0.05, ServerError: 0.05, Reset: 0.05}
	s3Faults, err := testenv.NewFaultProxy(w.proxy.URL, withTarget(faults, testenv.FaultS3, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s3Faults.Close()
	azFaults, err := testenv.NewFaultProxy(w.az.Front.URL, withTarget(faults, testenv.FaultAzure, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer azFaults.Close()
	frontBefore := w.az.Front.Stats()
	recsBefore := len(w.proxy.Records())

	results := filepath.Join(t.TempDir(), "results.jsonl")
	start = time.Now()
	code, stdout, stderr := w.run(t, "copy", "s3://"+bucket, azFaults.URL+"/"+w.az.Account+"/"+cont,
		"--s3-endpoint", s3Faults.URL, "--retries", "10", "--concurrency", "32",
		"--put-blob-max-size", "256KiB", "--block-size", "128KiB", "--results", results)
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("exit code %d after %v\nstdout:\n%s\nstderr (tail):\n%s", code, elapsed, stdout, tail(stderr, 40))
	}
	if !strings.Contains(stdout, fmt.Sprintf("copied:          %d", n)) || !strings.Contains(stdout, "failed:          0") {
		t.Errorf("summary:\n%s", stdout)
	}

	// Faults were injected on both sides, Azure's fetches of presigned
	// URLs included (the front answered them as CannotVerifyCopySource).
	ss, as := s3Faults.Stats(), azFaults.Stats()
	front := w.az.Front.Stats()
	sourceFailures := front.SourceFailures - frontBefore.SourceFailures
	presigned := 0
	for _, r := range w.proxy.Records()[recsBefore:] {
		if r.Presigned {
			presigned++
		}
	}
	t.Logf("S3 side:    %v", ss)
	t.Logf("Azure side: %v", as)
	t.Logf("presigned fetches that reached S3: %d; fetches the front answered CannotVerifyCopySource: %d", presigned, sourceFailures)
	for name, s := range map[string]testenv.FaultStats{"S3": ss, "Azure": as} {
		if s.Throttled == 0 || s.ServerErrors == 0 || s.Resets == 0 {
			t.Errorf("%s side: not every kind of fault was injected: %v", name, s)
		}
	}
	if sourceFailures == 0 {
		t.Error("no presigned fetch by Azure's side was faulted")
	}

	// The results file: every object copied, and how many requests it
	// took. An object's attempts count all its requests (HEAD, tags, the
	// copy, each block, the commit), so its retries are estimated as its
	// attempts beyond the fewest any object of the same mode and block
	// count needed.
	type result struct {
		Outcome  string `json:"outcome"`
		Mode     string `json:"mode"`
		Blocks   int    `json:"blocks"`
		Attempts int    `json:"attempts"`
		Streamed string `json:"streamed"`
	}
	var rs []result
	raw, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	fewest := map[string]int{}
	group := func(r result) string { return fmt.Sprintf("%s/%d/%v", r.Mode, r.Blocks, r.Streamed != "") }
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Outcome != "copied" {
			t.Errorf("result %s", line)
		}
		rs = append(rs, r)
		if f, ok := fewest[group(r)]; !ok || r.Attempts < f {
			fewest[group(r)] = r.Attempts
		}
	}
	if len(rs) != n {
		t.Errorf("%d result lines, want %d", len(rs), n)
	}
	var attempts, retries, retried, mostRetries, streamed int
	for _, r := range rs {
		attempts += r.Attempts
		extra := r.Attempts - fewest[group(r)]
		retries += extra
		mostRetries = max(mostRetries, extra)
		if extra > 0 {
			retried++
		}
		if r.Streamed != "" {
			streamed++
		}
	}
	t.Logf("%d objects in %v: %d requests by the pipeline, about %d of them retries; %d objects retried, at most %d times; %d streamed after Azure could not fetch them",
		n, elapsed.Round(time.Millisecond), attempts, retries, retried, mostRetries, streamed)
	if retried == 0 {
		t.Error("no object needed a retry")
	}

	// Everything arrived, byte-identical: sizes and Content-MD5 of all
	// 2,000 from the listing (straight from Azurite, no faults), and the
	// bytes of a sample of 200 plus every large object.
	blobs := w.listBlobsMD5(t, cont)
	if len(blobs) != n {
		t.Errorf("container holds %d blobs, want %d", len(blobs), n)
	}
	for i, o := range objs {
		b, ok := blobs[o.key]
		sum := md5.Sum(o.data)
		switch {
		case !ok:
			t.Errorf("%s missing", o.key)
			continue
		case b.size != int64(len(o.data)):
			t.Errorf("%s: %d bytes, want %d", o.key, b.size, len(o.data))
		case !bytes.Equal(b.md5, sum[:]):
			t.Errorf("%s: Content-MD5 %x, want %x", o.key, b.md5, sum)
		}
		if i%10 == 0 || len(o.data) > 8<<10 {
			if got := w.download(t, cont, o.key); !bytes.Equal(got, o.data) {
				t.Errorf("%s: the blob's %d bytes differ from the object's %d", o.key, len(got), len(o.data))
			}
		}
	}
}

func withTarget(o testenv.FaultOptions, target testenv.FaultTarget, seed uint64) testenv.FaultOptions {
	o.Target, o.Seed = target, seed
	return o
}

// seedParallel creates bucket and puts objs with at most par requests in
// flight.
func (w *world) seedParallel(t *testing.T, bucket string, objs []seed, par int) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, o := range objs {
		g.Go(func() error {
			in := &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.data)}
			if o.put != nil {
				o.put(in)
			}
			if _, err := w.s3c.PutObject(gctx, in); err != nil {
				return fmt.Errorf("put %s: %w", o.key, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

type blobSum struct {
	size int64
	md5  []byte
}

// listBlobsMD5 lists cont straight from Azurite: name, size, Content-MD5.
func (w *world) listBlobsMD5(t *testing.T, cont string) map[string]blobSum {
	t.Helper()
	out := map[string]blobSum{}
	w.eachBlob(t, cont, func(b *container.BlobItem) {
		out[*b.Name] = blobSum{size: *b.Properties.ContentLength, md5: b.Properties.ContentMD5}
	})
	return out
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
