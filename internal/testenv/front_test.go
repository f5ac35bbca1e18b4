package testenv

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// source is an httptest server on 127.0.0.1 serving one object, honouring
// Range and If-Match, or failing as told; it records what it was sent.
type source struct {
	*httptest.Server
	data []byte
	etag string

	mu       sync.Mutex
	requests []*http.Request
	fail     int    // status to answer with, 0 for none
	failCode string // S3 error code in the XML body
}

func newSource(t *testing.T, data []byte) *source {
	t.Helper()
	s := &source{data: data, etag: fmt.Sprintf(`"%x"`, md5.Sum(data))}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *source) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Clone(context.Background()))
	fail, code := s.fail, s.failCode
	s.mu.Unlock()
	if fail != 0 {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(fail)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>refused by test</Message></Error>`, code)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != s.etag {
		w.WriteHeader(http.StatusPreconditionFailed)
		fmt.Fprint(w, `<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
		return
	}
	w.Header().Set("ETag", s.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.data))
}

func (s *source) lastRequest(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("source was never fetched")
	}
	return s.requests[len(s.requests)-1]
}

func (s *source) setFail(status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.failCode = status, code
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

var containerSeq atomic.Int64

// newContainer creates a fresh container through the front and returns a
// SharedKey client of it.
func newContainer(t *testing.T, endpoint string) *container.Client {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(AzureAccount, AzureKey)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("front-%d-%d", time.Now().UnixNano()%1e9, containerSeq.Add(1))
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
	c, err := container.NewClientWithSharedKeyCredential(endpoint+"/"+name, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), nil); err != nil {
		t.Fatalf("create container through the front: %v", err)
	}
	return c
}

func download(t *testing.T, c *blockblob.Client) []byte {
	t.Helper()
	resp, err := c.DownloadStream(context.Background(), nil)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func blockID(i int) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("block-%06d", i)))
}

func TestFrontStageBlockFromURLWithRanges(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	data := testData(3<<20 + 12345)
	src := newSource(t, data)
	bb := newContainer(t, az.Endpoint).NewBlockBlobClient("dir/ranged blob.bin")
	before := az.Front.Stats()

	// Three blocks, staged out of order, the last shorter.
	ranges := []blob.HTTPRange{{Offset: 0, Count: 1 << 20}, {Offset: 1 << 20, Count: 1 << 20}, {Offset: 2 << 20, Count: int64(len(data)) - 2<<20}}
	for _, i := range []int{2, 0, 1} {
		sum := md5.Sum(data[ranges[i].Offset : ranges[i].Offset+ranges[i].Count])
		_, err := bb.StageBlockFromURL(ctx, blockID(i), src.URL+"/obj", &blockblob.StageBlockFromURLOptions{
			Range:                   ranges[i],
			SourceContentValidation: blob.SourceContentValidationTypeMD5(sum[:]),
		})
		if err != nil {
			t.Fatalf("StageBlockFromURL %d: %v", i, err)
		}
		want := fmt.Sprintf("bytes=%d-%d", ranges[i].Offset, ranges[i].Offset+ranges[i].Count-1)
		if got := src.lastRequest(t).Header.Get("Range"); got != want {
			t.Errorf("block %d: source saw Range %q, want %q", i, got, want)
		}
	}
	if _, err := bb.CommitBlockList(ctx, []string{blockID(0), blockID(1), blockID(2)}, nil); err != nil {
		t.Fatalf("CommitBlockList: %v", err)
	}
	if got := download(t, bb); !bytes.Equal(got, data) {
		t.Fatalf("committed blob differs from the source (%d vs %d bytes)", len(got), len(data))
	}
	after := az.Front.Stats()
	if d := after.SourceFetches - before.SourceFetches; d < 3 {
		t.Errorf("SourceFetches grew by %d, want at least 3", d)
	}
	if d := after.SourceBytes - before.SourceBytes; d < int64(len(data)) {
		t.Errorf("SourceBytes grew by %d, want at least %d", d, len(data))
	}
}

func TestFrontUploadBlobFromURLKeepsProperties(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	data := testData(1<<20 + 3)
	src := newSource(t, data)
	bb := newContainer(t, az.Endpoint).NewBlockBlobClient("props.txt")
	sum := md5.Sum(data)
	hdr := blob.HTTPHeaders{
		BlobContentType:        to.Ptr("text/plain; charset=utf-8"),
		BlobContentEncoding:    to.Ptr("identity"),
		BlobContentLanguage:    to.Ptr("en-GB"),
		BlobContentDisposition: to.Ptr(`attachment; filename="p.txt"`),
		BlobCacheControl:       to.Ptr("max-age=60"),
		BlobContentMD5:         sum[:],
	}
	_, err := bb.UploadBlobFromURL(ctx, src.URL+"/obj", &blockblob.UploadBlobFromURLOptions{
		HTTPHeaders:              &hdr,
		Metadata:                 map[string]*string{"origin": to.Ptr("s3"), "Mixed_Case": to.Ptr("v")},
		Tags:                     map[string]string{"team": "storage"},
		SourceContentMD5:         sum[:],
		CopySourceBlobProperties: to.Ptr(false),
	})
	if err != nil {
		t.Fatalf("UploadBlobFromURL: %v", err)
	}
	if got := src.lastRequest(t).Header.Get("Range"); got != "" {
		t.Errorf("whole-blob fetch sent Range %q", got)
	}
	props, err := bb.GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"Content-Type", deref(props.ContentType), *hdr.BlobContentType},
		{"Content-Encoding", deref(props.ContentEncoding), *hdr.BlobContentEncoding},
		{"Content-Language", deref(props.ContentLanguage), *hdr.BlobContentLanguage},
		{"Content-Disposition", deref(props.ContentDisposition), *hdr.BlobContentDisposition},
		{"Cache-Control", deref(props.CacheControl), *hdr.BlobCacheControl},
		{"Content-MD5", base64.StdEncoding.EncodeToString(props.ContentMD5), base64.StdEncoding.EncodeToString(sum[:])},
		{"metadata origin", metaValue(props.Metadata, "origin"), "s3"},
		{"metadata Mixed_Case", metaValue(props.Metadata, "mixed_case"), "v"},
		{"size", fmt.Sprint(deref(props.ContentLength)), fmt.Sprint(len(data))},
		{"tag count", fmt.Sprint(deref(props.TagCount)), "1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got := download(t, bb); !bytes.Equal(got, data) {
		t.Fatal("blob content differs from the source")
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func metaValue(m map[string]*string, key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return deref(v)
		}
	}
	return ""
}

// TestFrontWithSAS replays a request authorized by a SAS, which needs no
// re-signing.
func TestFrontWithSAS(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	data := testData(70000)
	src := newSource(t, data)
	c := newContainer(t, az.Endpoint)
	sasURL, err := c.GetSASURL(sas.ContainerPermissions{Read: true, Write: true, Create: true}, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	base, query, _ := strings.Cut(sasURL, "?")
	bb, err := blockblob.NewClientWithNoCredential(base+"/sas-blob?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bb.StageBlockFromURL(ctx, blockID(0), src.URL+"/o", &blockblob.StageBlockFromURLOptions{Range: blob.HTTPRange{Offset: 10, Count: 1000}}); err != nil {
		t.Fatalf("StageBlockFromURL with SAS: %v", err)
	}
	if _, err := bb.CommitBlockList(ctx, []string{blockID(0)}, nil); err != nil {
		t.Fatal(err)
	}
	if got := download(t, bb); !bytes.Equal(got, data[10:1010]) {
		t.Fatalf("got %d bytes, want data[10:1010]", len(got))
	}
}

func TestFrontSourceFailures(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	src := newSource(t, testData(4096))
	c := newContainer(t, az.Endpoint)
	cases := []struct {
		status int
		code   string
	}{
		{http.StatusForbidden, "AccessDenied"},
		{http.StatusNotFound, "NoSuchKey"},
		{http.StatusInternalServerError, "InternalError"},
		{http.StatusServiceUnavailable, "SlowDown"},
	}
	for _, tc := range cases {
		for _, op := range []string{"StageBlockFromURL", "UploadBlobFromURL"} {
			t.Run(fmt.Sprintf("%d/%s", tc.status, op), func(t *testing.T) {
				src.setFail(tc.status, tc.code)
				defer src.setFail(0, "")
				bb := c.NewBlockBlobClient(fmt.Sprintf("fail-%d-%s", tc.status, op))
				var err error
				if op == "StageBlockFromURL" {
					_, err = bb.StageBlockFromURL(ctx, blockID(0), src.URL+"/o", &blockblob.StageBlockFromURLOptions{Range: blob.HTTPRange{Offset: 0, Count: 100}})
				} else {
					_, err = bb.UploadBlobFromURL(ctx, src.URL+"/o", nil)
				}
				re := asResponseError(t, err)
				if re.StatusCode != tc.status || re.ErrorCode != "CannotVerifyCopySource" {
					t.Errorf("got HTTP %d %s, want %d CannotVerifyCopySource", re.StatusCode, re.ErrorCode, tc.status)
				}
				h := re.RawResponse.Header
				if got := h.Get("x-ms-copy-source-status-code"); got != fmt.Sprint(tc.status) {
					t.Errorf("x-ms-copy-source-status-code = %q, want %d", got, tc.status)
				}
				if got := h.Get("x-ms-copy-source-error-code"); got != tc.code {
					t.Errorf("x-ms-copy-source-error-code = %q, want %q", got, tc.code)
				}
				if got := h.Get("x-ms-error-code"); got != "CannotVerifyCopySource" {
					t.Errorf("x-ms-error-code = %q", got)
				}
				if _, err := bb.GetProperties(ctx, nil); err == nil {
					t.Error("a blob exists after a failed copy")
				}
			})
		}
	}
}

func asResponseError(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	if err == nil {
		t.Fatal("request succeeded, want an error")
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error is %T, not *azcore.ResponseError: %v", err, err)
	}
	return re
}

func TestFrontUnreachableSource(t *testing.T) {
	az := Azure(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/gone"
	ln.Close()
	bb := newContainer(t, az.Endpoint).NewBlockBlobClient("unreachable")
	_, err = bb.UploadBlobFromURL(context.Background(), dead, nil)
	re := asResponseError(t, err)
	if re.StatusCode != http.StatusInternalServerError || re.ErrorCode != "CannotVerifyCopySource" {
		t.Fatalf("got HTTP %d %s, want 500 CannotVerifyCopySource", re.StatusCode, re.ErrorCode)
	}
	if got := re.RawResponse.Header.Get("x-ms-copy-source-status-code"); got != "" {
		t.Errorf("x-ms-copy-source-status-code = %q for a source that never answered", got)
	}
}

func TestFrontChecksumMismatch(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	data := testData(300000)
	src := newSource(t, data)
	bb := newContainer(t, az.Endpoint).NewBlockBlobClient("md5")
	wrong := md5.Sum([]byte("not the data"))
	// A good block first, so the block list exists and can be inspected.
	if _, err := bb.StageBlockFromURL(ctx, blockID(1), src.URL+"/o", &blockblob.StageBlockFromURLOptions{Range: blob.HTTPRange{Offset: 0, Count: 10}}); err != nil {
		t.Fatal(err)
	}

	_, err := bb.StageBlockFromURL(ctx, blockID(0), src.URL+"/o", &blockblob.StageBlockFromURLOptions{
		Range: blob.HTTPRange{Offset: 0, Count: 200000}, SourceContentValidation: blob.SourceContentValidationTypeMD5(wrong[:]),
	})
	re := asResponseError(t, err)
	if re.StatusCode != http.StatusBadRequest || re.ErrorCode != "Md5Mismatch" {
		t.Fatalf("block: got HTTP %d %s, want 400 Md5Mismatch", re.StatusCode, re.ErrorCode)
	}
	bl, err := bb.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
	if err != nil {
		t.Fatalf("GetBlockList: %v", err)
	}
	if len(bl.UncommittedBlocks) != 1 || deref(bl.UncommittedBlocks[0].Name) != blockID(1) {
		t.Errorf("uncommitted blocks after the mismatch: %d, want only the good one", len(bl.UncommittedBlocks))
	}

	_, err = bb.UploadBlobFromURL(ctx, src.URL+"/o", &blockblob.UploadBlobFromURLOptions{SourceContentMD5: wrong[:]})
	re = asResponseError(t, err)
	if re.StatusCode != http.StatusBadRequest || re.ErrorCode != "Md5Mismatch" {
		t.Fatalf("blob: got HTTP %d %s, want 400 Md5Mismatch", re.StatusCode, re.ErrorCode)
	}
	if _, err := bb.GetProperties(ctx, nil); err == nil {
		t.Error("a blob was committed despite the MD5 mismatch")
	}
}

func TestFrontSourceConditionsAndAuthorization(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	data := testData(5000)
	src := newSource(t, data)
	bb := newContainer(t, az.Endpoint).NewBlockBlobClient("cond")

	good := azcore.ETag(src.etag)
	_, err := bb.StageBlockFromURL(ctx, blockID(0), src.URL+"/o", &blockblob.StageBlockFromURLOptions{
		Range:                          blob.HTTPRange{Offset: 0, Count: 10},
		SourceModifiedAccessConditions: &blob.SourceModifiedAccessConditions{SourceIfMatch: &good},
		CopySourceAuthorization:        to.Ptr("Bearer test-token"),
	})
	if err != nil {
		t.Fatalf("matching If-Match: %v", err)
	}
	req := src.lastRequest(t)
	if got := req.Header.Get("If-Match"); got != src.etag {
		t.Errorf("source saw If-Match %q, want %q", got, src.etag)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer test-token" {
		t.Errorf("source saw Authorization %q", got)
	}

	bad := azcore.ETag(`"other"`)
	_, err = bb.StageBlockFromURL(ctx, blockID(1), src.URL+"/o", &blockblob.StageBlockFromURLOptions{
		Range:                          blob.HTTPRange{Offset: 0, Count: 10},
		SourceModifiedAccessConditions: &blob.SourceModifiedAccessConditions{SourceIfMatch: &bad},
	})
	re := asResponseError(t, err)
	if re.StatusCode != http.StatusPreconditionFailed || re.ErrorCode != "CannotVerifyCopySource" {
		t.Fatalf("got HTTP %d %s, want 412 CannotVerifyCopySource", re.StatusCode, re.ErrorCode)
	}
	if got := re.RawResponse.Header.Get("x-ms-copy-source-error-code"); got != "PreconditionFailed" {
		t.Errorf("x-ms-copy-source-error-code = %q", got)
	}
}

// TestFrontLimits runs a private front with tiny limits before the shared
// Azurite.
func TestFrontLimits(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	root := strings.TrimSuffix(az.AzuriteEndpoint, "/"+az.Account)
	f, err := NewCopySourceFront(root, az.Account, az.Key, FrontOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.SetLimits(1000, 2000)
	src := newSource(t, testData(5000))
	c := newContainer(t, f.URL+"/"+az.Account)
	bb := c.NewBlockBlobClient("limits")

	cases := []struct {
		name      string
		run       func() error
		wantErr   bool
		noFetches bool
	}{
		{"block at limit", func() error {
			_, err := bb.StageBlockFromURL(ctx, blockID(0), src.URL, &blockblob.StageBlockFromURLOptions{Range: blob.HTTPRange{Offset: 0, Count: 1000}})
			return err
		}, false, false},
		{"block range over limit", func() error {
			_, err := bb.StageBlockFromURL(ctx, blockID(1), src.URL, &blockblob.StageBlockFromURLOptions{Range: blob.HTTPRange{Offset: 0, Count: 1001}})
			return err
		}, true, true},
		{"unranged block over limit", func() error {
			_, err := bb.StageBlockFromURL(ctx, blockID(2), src.URL, nil)
			return err
		}, true, false},
		{"blob over limit", func() error {
			_, err := bb.UploadBlobFromURL(ctx, src.URL, nil)
			return err
		}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.Stats().SourceFetches
			err := tc.run()
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			re := asResponseError(t, err)
			if re.StatusCode != http.StatusConflict || re.ErrorCode != "CannotVerifyCopySource" {
				t.Errorf("got HTTP %d %s, want 409 CannotVerifyCopySource", re.StatusCode, re.ErrorCode)
			}
			if !strings.Contains(re.Error(), "too large") {
				t.Errorf("error does not say the source is too large: %v", re)
			}
			if tc.noFetches && f.Stats().SourceFetches != before {
				t.Error("the source was fetched although the range alone exceeds the limit")
			}
		})
	}
}

// TestFrontPassThrough checks that ordinary requests and copies inside
// Azurite are forwarded, not served by the front.
func TestFrontPassThrough(t *testing.T) {
	az := Azure(t)
	ctx := context.Background()
	c := newContainer(t, az.Endpoint)
	bb := c.NewBlockBlobClient("plain")
	before := az.Front.Stats()
	if _, err := bb.UploadBuffer(ctx, []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	if got := download(t, bb); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	after := az.Front.Stats()
	if after.PassThrough-before.PassThrough < 2 {
		t.Errorf("PassThrough grew by %d, want >= 2", after.PassThrough-before.PassThrough)
	}
	if after.SourceFetches != before.SourceFetches || after.Replays != before.Replays {
		t.Error("an ordinary upload or download went through the copy path")
	}
}

// TestFrontRejectsBadSharedKey checks that the front does not re-sign (and
// so launder) a request whose SharedKey signature is wrong.
func TestFrontRejectsBadSharedKey(t *testing.T) {
	az := Azure(t)
	c := newContainer(t, az.Endpoint)
	src := newSource(t, testData(100))
	// The right account, a key that is not its key.
	cred, err := blob.NewSharedKeyCredential(AzureAccount, base64.StdEncoding.EncodeToString([]byte("not-the-account-key-0123456789")))
	if err != nil {
		t.Fatal(err)
	}
	bb, err := blockblob.NewClientWithSharedKeyCredential(c.URL()+"/forged", cred, &blockblob.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	before := az.Front.Stats().SourceFetches
	_, err = bb.UploadBlobFromURL(context.Background(), src.URL, nil)
	re := asResponseError(t, err)
	if re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthenticationFailed" {
		t.Fatalf("got HTTP %d %s, want 403 AuthenticationFailed", re.StatusCode, re.ErrorCode)
	}
	if az.Front.Stats().SourceFetches != before {
		t.Error("the source was fetched for a request with a bad signature")
	}
}
