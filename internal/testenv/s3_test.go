package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func uniqueBucket(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, containerSeq.Add(1))
}

func seed(t *testing.T, c *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
}

// TestS3ClientWithCABundle starts its own server and checks that NewClient
// works with AWS_CA_BUNDLE set, as on the machines this runs on.
func TestS3ClientWithCABundle(t *testing.T) {
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(bundle); err != nil {
		t.Skipf("no CA bundle at %s", bundle)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	tools, err := ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := ToolsInstalled(tools); err != nil {
		unavailable(t, "versitygw", err)
	}
	ctx := context.Background()
	srv, err := StartS3(ctx, S3Options{ToolsDir: tools, DataDir: t.TempDir(), CopyObjectThreshold: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint %q is not on 127.0.0.1", srv.Endpoint)
	}
	c, err := srv.NewClient(ctx)
	if err != nil {
		t.Fatalf("NewClient with AWS_CA_BUNDLE set: %v", err)
	}
	data := testData(2 << 20)
	seed(t, c, "ca-bundle", "dir/obj", data)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ca-bundle"), Key: aws.String("dir/obj")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("object read back differs")
	}
	// The lowered copy threshold is in force: a 2 MiB CopyObject is refused.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ca-bundle"), Key: aws.String("copy"), CopySource: aws.String("ca-bundle/dir/obj")})
	if err == nil {
		t.Error("CopyObject of 2 MiB succeeded with --copy-object-threshold 1 MiB")
	}
}

func TestS3ProxyRecordsAndRefuses(t *testing.T) {
	srv := S3(t)
	ctx := context.Background()
	p, err := NewS3Proxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := NewS3Client(ctx, p.URL, srv.Region, srv.AccessKey, srv.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	bucket := uniqueBucket("proxy")
	data := testData(100000)
	seed(t, c, bucket, "a/b.bin", data)
	presign := s3.NewPresignClient(c)
	req, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b.bin")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}

	get := func() (int, []byte) {
		resp, err := http.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := get(); st != http.StatusOK || !bytes.Equal(b, data) {
		t.Fatalf("presigned GET through the proxy: HTTP %d, %d bytes", st, len(b))
	}
	p.RefusePresigned(bucket, "a/b.bin", http.StatusForbidden)
	st, b := get()
	if st != http.StatusForbidden || !strings.Contains(string(b), "<Code>AccessDenied</Code>") {
		t.Fatalf("refused presigned GET: HTTP %d %s", st, b)
	}
	// A signed (not presigned) GET of the same object still passes.
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b.bin")}); err != nil {
		t.Fatalf("signed GET of a refused object: %v", err)
	}
	p.RefusePresigned(bucket, "a/b.bin", 0)
	if st, _ := get(); st != http.StatusOK {
		t.Fatalf("after lifting the refusal: HTTP %d", st)
	}
	// The hook sees the count of presigned GETs of the object (3 so far,
	// the refused one included) and can refuse.
	var seen []int
	p.SetPresignedHook(func(b, k string, n int) int {
		seen = append(seen, n)
		if n == 5 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	if st, _ := get(); st != http.StatusOK {
		t.Fatalf("hook, 4th GET: HTTP %d", st)
	}
	if st, b := get(); st != http.StatusServiceUnavailable || !strings.Contains(string(b), "SlowDown") {
		t.Fatalf("hook, 5th GET: HTTP %d %s", st, b)
	}
	p.SetPresignedHook(nil)
	if len(seen) != 2 || seen[0] != 4 || seen[1] != 5 {
		t.Fatalf("hook saw counts %v, want [4 5]", seen)
	}
	if st, _ := get(); st != http.StatusOK {
		t.Fatalf("after removing the hook: HTTP %d", st)
	}

	var presigned []S3Record
	for _, r := range p.Records() {
		if r.Presigned {
			presigned = append(presigned, r)
			if strings.Contains(r.RawQueryRedacted, req.URL[strings.Index(req.URL, "X-Amz-Signature=")+len("X-Amz-Signature="):][:16]) {
				t.Errorf("record keeps the signature: %s", r.RawQueryRedacted)
			}
			if !strings.Contains(r.RawQueryRedacted, "X-Amz-Signature=**redacted**") {
				t.Errorf("RawQueryRedacted = %q", r.RawQueryRedacted)
			}
		} else if r.Method == http.MethodPut && r.Key == "a/b.bin" && (!r.Authorized || r.Status != http.StatusOK) {
			t.Errorf("PutObject record: %+v", r)
		}
	}
	want := []struct {
		status  int
		bytes   int64
		refused bool
	}{{200, int64(len(data)), false}, {403, -1, true}, {200, int64(len(data)), false},
		{200, int64(len(data)), false}, {503, -1, true}, {200, int64(len(data)), false}}
	if len(presigned) != len(want) {
		t.Fatalf("%d presigned records, want %d: %+v", len(presigned), len(want), presigned)
	}
	for i, w := range want {
		r := presigned[i]
		if r.Method != http.MethodGet || r.Bucket != bucket || r.Key != "a/b.bin" || r.Status != w.status || r.Refused != w.refused || r.Authorized {
			t.Errorf("record %d = %+v", i, r)
		}
		if w.bytes >= 0 && r.RespBytes != w.bytes {
			t.Errorf("record %d RespBytes = %d, want %d", i, r.RespBytes, w.bytes)
		}
	}
}

// TestS3ToAzureThroughFront is the tool's path end to end: presigned
// versitygw URLs (through an S3Proxy) pulled by the front into Azurite.
func TestS3ToAzureThroughFront(t *testing.T) {
	srv, az := S3(t), Azure(t)
	ctx := context.Background()
	p, err := NewS3Proxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := NewS3Client(ctx, p.URL, srv.Region, srv.AccessKey, srv.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	bucket := uniqueBucket("e2e")
	data := testData(5<<20 + 17)
	seed(t, c, bucket, "big", data)
	seed2 := []byte("small object")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("small"), Body: bytes.NewReader(seed2)}); err != nil {
		t.Fatal(err)
	}
	presign := func(key string) string {
		r, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}, s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return r.URL
	}
	cont := newContainer(t, az.Endpoint)

	// Whole blob.
	small := cont.NewBlockBlobClient("small")
	if _, err := small.UploadBlobFromURL(ctx, presign("small"), nil); err != nil {
		t.Fatalf("UploadBlobFromURL from presigned S3: %v", err)
	}
	if got := download(t, small); !bytes.Equal(got, seed2) {
		t.Fatalf("small: got %q", got)
	}

	// Blocks of 2 MiB.
	big := cont.NewBlockBlobClient("big")
	u := presign("big")
	var ids []string
	for i, off := 0, int64(0); off < int64(len(data)); i, off = i+1, off+2<<20 {
		n := min(int64(2<<20), int64(len(data))-off)
		if _, err := big.StageBlockFromURL(ctx, blockID(i), u, &blockblob.StageBlockFromURLOptions{Range: blob.HTTPRange{Offset: off, Count: n}}); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		ids = append(ids, blockID(i))
	}
	if _, err := big.CommitBlockList(ctx, ids, nil); err != nil {
		t.Fatal(err)
	}
	if got := download(t, big); !bytes.Equal(got, data) {
		t.Fatal("big blob differs from the S3 object")
	}
	var fetched int64
	for _, r := range p.Records() {
		if r.Presigned && r.Key == "big" {
			fetched += r.RespBytes
		}
	}
	if fetched != int64(len(data)) {
		t.Errorf("S3 served %d bytes of big through presigned GETs, want exactly %d", fetched, len(data))
	}

	// A refused presigned GET surfaces as Azure's CannotVerifyCopySource.
	p.RefusePresigned(bucket, "small", http.StatusForbidden)
	_, err = cont.NewBlockBlobClient("refused").UploadBlobFromURL(ctx, presign("small"), nil)
	re := asResponseError(t, err)
	if re.StatusCode != http.StatusForbidden || re.ErrorCode != "CannotVerifyCopySource" ||
		re.RawResponse.Header.Get("x-ms-copy-source-error-code") != "AccessDenied" ||
		re.RawResponse.Header.Get("x-ms-copy-source-status-code") != "403" {
		t.Fatalf("refused source: HTTP %d %s, headers %v", re.StatusCode, re.ErrorCode, re.RawResponse.Header)
	}

	// A tampered presigned URL is refused by versitygw itself.
	p.RefusePresigned(bucket, "small", 0)
	bad := presign("small")
	i := strings.Index(bad, "X-Amz-Signature=") + len("X-Amz-Signature=")
	flip := byte('0')
	if bad[i] == '0' {
		flip = '1'
	}
	bad = bad[:i] + string(flip) + bad[i+1:]
	_, err = cont.NewBlockBlobClient("tampered").UploadBlobFromURL(ctx, bad, nil)
	re = asResponseError(t, err)
	if re.StatusCode != http.StatusForbidden || re.RawResponse.Header.Get("x-ms-copy-source-error-code") != "SignatureDoesNotMatch" {
		t.Fatalf("tampered source: HTTP %d, x-ms-copy-source-error-code %q", re.StatusCode, re.RawResponse.Header.Get("x-ms-copy-source-error-code"))
	}
}
