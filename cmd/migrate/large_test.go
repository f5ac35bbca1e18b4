package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestLargeAndDifficultObjects: many blocks, block-level resume, a source
// that changes mid-copy, streaming, and auto's fallback to streaming.
func TestLargeAndDifficultObjects(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-large"
	objs := map[string][]byte{
		"many-blocks.bin": providertest.Data(5<<20+7, 1), // 21 blocks of 256 KiB
		"resume.bin":      providertest.Data(2<<20, 2),   // 8 blocks
		"changing.bin":    providertest.Data(2<<20, 3),
		"small-1":         providertest.Data(1000, 4),
		"small-2":         providertest.Data(0, 5),
	}
	var seeds []seed
	for k, v := range objs {
		seeds = append(seeds, seed{key: k, data: v})
	}
	w.seed(t, bucket, seeds)
	small := []string{"--put-blob-max-size", "256KiB", "--block-size", "256KiB"}
	copyTo := func(container string, extra ...string) (int, string, string) {
		args := append([]string{"copy", "s3://" + bucket, w.az.Endpoint + "/" + container, "--s3-endpoint", w.proxy.URL, "--retries", "1"}, small...)
		return w.run(t, append(args, extra...)...)
	}
	blocks := func(container, name string, kind blockblob.BlockListType) (committed, uncommitted int) {
		t.Helper()
		bl, err := w.azc.ServiceClient().NewContainerClient(container).NewBlockBlobClient(name).GetBlockList(context.Background(), kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(bl.CommittedBlocks), len(bl.UncommittedBlocks)
	}
	presignedGets := func(key string) (n int) {
		for _, r := range w.proxy.Records() {
			if r.Presigned && r.Method == "GET" && r.Key == key && r.Status < 300 {
				n++
			}
		}
		return n
	}

	t.Run("BlockLevelResume", func(t *testing.T) {
		w.proxy.Reset()
		// Azure's fetches of resume.bin are refused after the third block.
		w.proxy.SetPresignedHook(func(b, k string, n int) int {
			if k == "resume.bin" && n > 3 {
				return http.StatusForbidden
			}
			return 0
		})
		code, stdout, stderr := copyTo("resume", "--transfer-mode", "server-side", "--concurrency", "1")
		w.proxy.SetPresignedHook(nil)
		if code != 1 || !strings.Contains(stdout, "resume.bin") {
			t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if _, unc := blocks("resume", "resume.bin", blockblob.BlockListTypeUncommitted); unc != 3 {
			t.Fatalf("%d blocks staged after the interruption, want 3", unc)
		}
		w.proxy.Reset()
		code, stdout, stderr = copyTo("resume", "--transfer-mode", "server-side")
		if code != 0 {
			t.Fatalf("second run: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if n := presignedGets("resume.bin"); n != 5 {
			t.Errorf("the second run fetched %d blocks of resume.bin, want the 5 not staged before", n)
		}
		if got := w.download(t, "resume", "resume.bin"); !bytes.Equal(got, objs["resume.bin"]) {
			t.Error("resumed blob differs from its object")
		}
		if got := w.download(t, "resume", "many-blocks.bin"); !bytes.Equal(got, objs["many-blocks.bin"]) {
			t.Error("many-blocks.bin differs")
		}
		if c, _ := blocks("resume", "many-blocks.bin", blockblob.BlockListTypeCommitted); c != 21 {
			t.Errorf("many-blocks.bin has %d committed blocks, want 21", c)
		}
	})

	t.Run("SourceChangedMidCopy", func(t *testing.T) {
		w.proxy.Reset()
		changed := providertest.Data(2<<20, 33)
		w.proxy.SetPresignedHook(func(b, k string, n int) int {
			if k == "changing.bin" && n == 2 {
				if _, err := w.s3c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(changed)}); err != nil {
					t.Errorf("overwrite: %v", err)
				}
			}
			return 0
		})
		code, stdout, stderr := copyTo("changing", "--transfer-mode", "server-side", "--concurrency", "1")
		w.proxy.SetPresignedHook(nil)
		if code != 1 || !strings.Contains(stdout, "changing.bin") || !strings.Contains(strings.ToLower(stdout), "precondition") {
			t.Fatalf("exit %d, want 1 naming changing.bin and a failed precondition\n%s\n%s", code, stdout, stderr)
		}
		if _, ok := w.listBlobs(t, "changing")["changing.bin"]; ok {
			t.Error("a blob was committed from a source that changed mid-copy")
		}
		// Put the original back for the other subtests.
		if _, err := w.s3c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("changing.bin"), Body: bytes.NewReader(objs["changing.bin"])}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("StreamMode", func(t *testing.T) {
		w.proxy.Reset()
		code, stdout, stderr := copyTo("streamed", "--transfer-mode", "stream")
		if code != 0 || !strings.Contains(stdout, "streamed:        4") {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		var payload, toolBytes int64
		for k, v := range objs {
			payload += int64(len(v))
			if got := w.download(t, "streamed", k); !bytes.Equal(got, v) {
				t.Errorf("%s differs", k)
			}
		}
		for _, r := range w.proxy.Records() {
			if r.Presigned {
				t.Errorf("stream mode made a presigned request: %+v", r)
			}
			if r.Authorized && r.Method == "GET" && r.Key != "" {
				toolBytes += r.RespBytes
			}
		}
		if toolBytes != payload {
			t.Errorf("the tool read %d bytes from S3, want the payload %d", toolBytes, payload)
		}
	})

	t.Run("AutoFallsBackToStreaming", func(t *testing.T) {
		w.proxy.Reset()
		w.proxy.RefusePresigned(bucket, "small-1", http.StatusForbidden)
		defer w.proxy.RefusePresigned(bucket, "small-1", 0)
		code, stdout, stderr := copyTo("auto")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "streamed:        1") || !strings.Contains(stdout, "Azure could not fetch the source") {
			t.Errorf("the summary does not say which object streamed and why:\n%s", stdout)
		}
		if !strings.Contains(stderr, "streamed through this machine: s3://e2e-large/small-1") || !strings.Contains(stderr, "403") {
			t.Errorf("stderr does not name the streamed object and the reason:\n%s", stderr)
		}
		for k, v := range objs {
			if got := w.download(t, "auto", k); !bytes.Equal(got, v) {
				t.Errorf("%s differs", k)
			}
		}
	})
}
