package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// rig is one test's view of Azurite behind the copy-source front.
type rig struct {
	az  *testenv.AzureServer
	dst *Destination
	raw *service.Client // straight to Azurite, shared key
}

func newRig(t *testing.T) *rig {
	t.Helper()
	az := testenv.Azure(t)
	dst, err := New(Options{ServiceURL: az.Endpoint, Account: az.Account, Credential: Credential{AccountKey: providers.Secret(az.Key)}})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{az: az, dst: dst, raw: rawClient(t, az)}
}

func rawClient(t *testing.T, az *testenv.AzureServer) *service.Client {
	t.Helper()
	cred, err := service.NewSharedKeyCredential(az.Account, az.Key)
	if err != nil {
		t.Fatal(err)
	}
	// No transparent gzip decoding: blobs are read byte for byte.
	opts := &service.ClientOptions{}
	opts.Transport = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	c, err := service.NewClientWithSharedKeyCredential(az.AzuriteEndpoint+"/", cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var containerSeq atomic.Int64

// newContainerName returns a unique valid container name.
func newContainerName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("azt-%d-%s", containerSeq.Add(1), hex.EncodeToString(b[:]))
}

// container creates a fresh container through the destination.
func (r *rig) container(t *testing.T) string {
	t.Helper()
	c := newContainerName(t)
	if _, err := r.dst.EnsureContainer(t.Context(), c); err != nil {
		t.Fatalf("EnsureContainer: %v", err)
	}
	return c
}

// readBlob downloads a committed blob straight from Azurite.
func (r *rig) readBlob(t *testing.T, c, name string) []byte {
	t.Helper()
	resp, err := r.raw.NewContainerClient(c).NewBlobClient(name).DownloadStream(t.Context(), nil)
	if err != nil {
		t.Fatalf("download %s/%s: %v", c, name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download %s/%s: %v", c, name, err)
	}
	return b
}

// source is a test "S3" serving one object; it counts requests and can be
// told to refuse or fail.
type source struct {
	srv      *httptest.Server
	mu       sync.Mutex
	data     []byte // guarded by mu, as is ifMatch
	status   int    // non-zero: answer every request with it
	code     string // S3 error code for status
	requests atomic.Int64
	block    chan struct{} // when set, requests wait for it (or the client)
	ifMatch  []string      // If-Match headers received, in order
}

// etagOf is the ETag S3 gives a single-part upload of d: its hex MD5.
func etagOf(d []byte) string {
	sum := md5.Sum(d)
	return hex.EncodeToString(sum[:])
}

// replace changes the object the source serves (and so its ETag).
func (s *source) replace(d []byte) {
	s.mu.Lock()
	s.data = d
	s.mu.Unlock()
}

// ifMatches returns the If-Match headers the source has received.
func (s *source) ifMatches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ifMatch)
}

// serve starts a source on 127.0.0.1 with data; status 0 serves it (ranges
// honoured, ETag the MD5 of the data, If-Match honoured like S3: quoted or
// not, 412 PreconditionFailed on a mismatch), else every request gets
// status with an S3-style error body.
func serve(t *testing.T, data []byte, status int, code string) *source {
	t.Helper()
	s := &source{data: data, status: status, code: code}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.block != nil {
			select {
			case <-s.block:
			case <-r.Context().Done():
				return
			}
		}
		if s.status != 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(s.status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, s.code, http.StatusText(s.status))
			return
		}
		s.mu.Lock()
		data := s.data
		im := r.Header.Get("If-Match")
		if im != "" {
			s.ifMatch = append(s.ifMatch, im)
		}
		s.mu.Unlock()
		etag := etagOf(data)
		if im != "" && strings.Trim(im, `"`) != etag {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusPreconditionFailed)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>`)
			return
		}
		// Checked above as S3 does; ServeContent would refuse an unquoted one.
		r.Header.Del("If-Match")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"`+etag+`"`)
		http.ServeContent(w, r, "object", time.Unix(1700000000, 0), bytes.NewReader(data))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// url is a presigned-looking URL for the source's object.
func (s *source) url() providers.SourceURL {
	return providers.SourceURL{
		URL:     providers.Secret(s.srv.URL + "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250101&X-Amz-Expires=604800&X-Amz-Signature=PRESIGNEDSECRET"),
		Expires: time.Now().Add(100 * 365 * 24 * time.Hour),
	}
}

// noSecret fails t when an error text carries a credential.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	text := fmt.Sprintf("%v|%s|%+v", err, err, err)
	for _, s := range append(secrets, "PRESIGNEDSECRET", "sig=", "\n") {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("error text contains %q: %s", s, text)
		}
	}
}

func TestConformance(t *testing.T) {
	r := newRig(t)
	providertest.TestDestination(t, providertest.DestinationHarness{
		Destination:      r.dst,
		NewContainerName: newContainerName,
		ServeURL: func(t *testing.T, data []byte, refuse bool) providers.SourceURL {
			if refuse {
				return serve(t, data, http.StatusForbidden, "AccessDenied").url()
			}
			return serve(t, data, 0, "").url()
		},
		ServeChangingURL: func(t *testing.T, data []byte) (providers.SourceURL, func([]byte)) {
			src := serve(t, data, 0, "")
			su := src.url()
			su.IfMatch = etagOf(data)
			return su, src.replace
		},
		ReadBlob: r.readBlob,
	})
}

func TestPutBlobFromURLProperties(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(100_000, 1)
	sum := md5.Sum(d)
	src := serve(t, d, 0, "")
	props := providers.Properties{
		ContentType:        "text/csv; charset=utf-8",
		ContentEncoding:    "gzip",
		ContentDisposition: `attachment; filename="x y.csv"`,
		ContentLanguage:    "de-CH",
		CacheControl:       "no-cache, max-age=0",
		ContentMD5:         sum[:],
		Metadata:           map[string]string{"origin": "s3://b/k", "etag_md5": "abc", "Mixed_Case": "v"},
	}
	if err := r.dst.PutBlobFromURL(t.Context(), c, "dir/file.csv", src.url(), int64(len(d)), props); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.readBlob(t, c, "dir/file.csv"), d) {
		t.Fatal("content differs")
	}
	// Check on the blob with the raw client.
	p, err := r.raw.NewContainerClient(c).NewBlobClient("dir/file.csv").GetProperties(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"ContentType": deref(p.ContentType), "ContentEncoding": deref(p.ContentEncoding),
		"ContentDisposition": deref(p.ContentDisposition), "ContentLanguage": deref(p.ContentLanguage),
		"CacheControl": deref(p.CacheControl),
	}
	want := map[string]string{
		"ContentType": props.ContentType, "ContentEncoding": props.ContentEncoding,
		"ContentDisposition": props.ContentDisposition, "ContentLanguage": props.ContentLanguage,
		"CacheControl": props.CacheControl,
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %q, want %q", k, got[k], want[k])
		}
	}
	if !bytes.Equal(p.ContentMD5, sum[:]) {
		t.Errorf("Content-MD5 = %x, want %x", p.ContentMD5, sum)
	}
	if deref(p.ContentLength) != int64(len(d)) {
		t.Errorf("size %d", deref(p.ContentLength))
	}
	// Metadata as stored. A listing keeps the case Azure stored, but
	// Azurite lowercases metadata names itself (real Azure keeps them).
	pager := r.raw.NewContainerClient(c).NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}})
	page, err := pager.NextPage(t.Context())
	if err != nil || len(page.Segment.BlobItems) != 1 {
		t.Fatalf("list: %v", err)
	}
	md := map[string]string{}
	for k, v := range page.Segment.BlobItems[0].Metadata {
		md[strings.ToLower(k)] = deref(v)
	}
	wantMD := map[string]string{}
	for k, v := range props.Metadata {
		wantMD[strings.ToLower(k)] = v
	}
	if fmt.Sprint(md) != fmt.Sprint(wantMD) {
		t.Errorf("metadata = %v, want %v", md, props.Metadata)
	}
	// StatBlob reports the same, names lowercased.
	info, err := r.dst.StatBlob(t.Context(), c, "dir/file.csv")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(d)) || info.ContentType != props.ContentType || !bytes.Equal(info.ContentMD5, sum[:]) ||
		info.Metadata["mixed_case"] != "v" || info.Metadata["origin"] != "s3://b/k" || info.ETag == "" || strings.Contains(info.ETag, `"`) {
		t.Errorf("StatBlob = %+v", info)
	}
	if src.requests.Load() != 1 {
		t.Errorf("source was fetched %d times, want 1", src.requests.Load())
	}
}

func TestBlocksFromURL(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(3<<20+12345, 2)
	src := serve(t, d, 0, "")
	// Five uneven ranges, staged concurrently and out of order.
	bounds := []int64{0, 1, 1 << 20, 2<<20 + 7, 3 << 20, int64(len(d))}
	var ids []providers.BlockID
	for i := range len(bounds) - 1 {
		ids = append(ids, providers.BlockID(fmt.Sprintf("%032d", i)))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i := range ids {
		wg.Go(func() {
			errs[i] = r.dst.StageBlockFromURL(t.Context(), c, "big", ids[i], src.url(), providers.Range{Offset: bounds[i], Count: bounds[i+1] - bounds[i]})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	staged, err := r.dst.UncommittedBlocks(t.Context(), c, "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(staged) != len(ids) {
		t.Errorf("UncommittedBlocks = %q, want %d IDs", staged, len(ids))
	}
	for _, id := range staged {
		if len(id) != 32 || !strings.HasPrefix(string(id), "0000") {
			t.Errorf("UncommittedBlocks id %q not decoded", id)
		}
	}
	if _, err := r.dst.StatBlob(t.Context(), c, "big"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("StatBlob before commit: %v", err)
	}
	sum := md5.Sum(d)
	props := providers.Properties{ContentType: "application/x-big", ContentMD5: sum[:], Metadata: map[string]string{"parts": "5"}}
	if err := r.dst.CommitBlocks(t.Context(), c, "big", ids, props); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.readBlob(t, c, "big"), d) {
		t.Fatal("committed blob differs from the source")
	}
	info, err := r.dst.StatBlob(t.Context(), c, "big")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(d)) || info.ContentType != "application/x-big" || !bytes.Equal(info.ContentMD5, sum[:]) || info.Metadata["parts"] != "5" {
		t.Errorf("StatBlob = %+v", info)
	}
	if left, err := r.dst.UncommittedBlocks(t.Context(), c, "big"); err != nil || len(left) != 0 {
		t.Errorf("uncommitted after commit = %q, %v", left, err)
	}
	t.Logf("%d bytes in %d blocks from URL; source served %d requests", len(d), len(ids), src.requests.Load())
}

func TestZeroByte(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	src := serve(t, nil, 0, "")
	props := providers.Properties{ContentType: "text/plain", Metadata: map[string]string{"empty": "1"}}
	if err := r.dst.PutBlobFromURL(t.Context(), c, "empty-put", src.url(), 0, props); err != nil {
		t.Fatalf("PutBlobFromURL of 0 bytes: %v", err)
	}
	if err := r.dst.CommitBlocks(t.Context(), c, "empty-commit", nil, props); err != nil {
		t.Fatalf("CommitBlocks of no blocks: %v", err)
	}
	for _, n := range []string{"empty-put", "empty-commit"} {
		info, err := r.dst.StatBlob(t.Context(), c, n)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != 0 || info.ContentType != "text/plain" || info.Metadata["empty"] != "1" {
			t.Errorf("%s: %+v", n, info)
		}
		if b := r.readBlob(t, c, n); len(b) != 0 {
			t.Errorf("%s: %d bytes", n, len(b))
		}
	}
}

func TestSourceFailures(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(4096, 3)
	closed := func() providers.SourceURL {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return providers.SourceURL{URL: providers.Secret("http://" + addr + "/b/k?X-Amz-Signature=PRESIGNEDSECRET")}
	}
	tests := []struct {
		name     string
		src      func() providers.SourceURL
		want     providers.Kind
		wantText string
	}{
		{"refused", func() providers.SourceURL { return serve(t, d, 403, "AccessDenied").url() }, providers.KindSourceUnreachable, "Azure could not read the source: HTTP 403 AccessDenied"},
		{"missing", func() providers.SourceURL { return serve(t, d, 404, "NoSuchKey").url() }, providers.KindNotFound, "HTTP 404 NoSuchKey"},
		{"source error", func() providers.SourceURL { return serve(t, d, 500, "InternalError").url() }, providers.KindTransient, "HTTP 500 InternalError"},
		{"source slow down", func() providers.SourceURL { return serve(t, d, 503, "SlowDown").url() }, providers.KindThrottled, "HTTP 503 SlowDown"},
		{"unreachable", closed, providers.KindSourceUnreachable, "could not connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for op, call := range map[string]func() error{
				"PutBlobFromURL": func() error {
					return r.dst.PutBlobFromURL(t.Context(), c, "f-"+tt.name, tt.src(), int64(len(d)), providers.Properties{})
				},
				"StageBlockFromURL": func() error {
					return r.dst.StageBlockFromURL(t.Context(), c, "f-"+tt.name, "id-1", tt.src(), providers.Range{Offset: 0, Count: 100})
				},
			} {
				err := call()
				if k := providers.KindOf(err); k != tt.want {
					t.Errorf("%s: kind %v, want %v: %v", op, k, tt.want, err)
				}
				if err != nil && !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("%s: %q lacks %q", op, err, tt.wantText)
				}
				if providers.CodeOf(err) != "CannotVerifyCopySource" {
					t.Errorf("%s: code %q", op, providers.CodeOf(err))
				}
				var re *azcore.ResponseError
				if !errors.As(err, &re) {
					t.Errorf("%s: errors.As does not reach *azcore.ResponseError", op)
				}
				noSecret(t, err)
				t.Logf("%s: %v", op, err)
			}
			if _, err := r.dst.StatBlob(t.Context(), c, "f-"+tt.name); providers.KindOf(err) != providers.KindNotFound {
				t.Errorf("blob exists after a failed copy: %v", err)
			}
		})
	}
}

// TestSourceIfMatch checks what reaches the source: Azure's
// x-ms-source-if-match (forwarded by the rig's front as If-Match) carries
// the listed ETag quoted, an unchanged source is copied, and a changed one
// gives Precondition with the source's 412 and writes nothing.
func TestSourceIfMatch(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(5000, 7)
	src := serve(t, d, 0, "")
	su := src.url()
	su.IfMatch = etagOf(d)
	if err := r.dst.PutBlobFromURL(t.Context(), c, "same", su, int64(len(d)), providers.Properties{}); err != nil {
		t.Fatalf("PutBlobFromURL: %v", err)
	}
	if err := r.dst.StageBlockFromURL(t.Context(), c, "staged", "id-1", su, providers.Range{Offset: 0, Count: 1000}); err != nil {
		t.Fatalf("StageBlockFromURL: %v", err)
	}
	want := `"` + su.IfMatch + `"`
	if got := src.ifMatches(); len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("the source received If-Match %q, want %q twice", got, want)
	}
	// No IfMatch, no condition.
	if err := r.dst.PutBlobFromURL(t.Context(), c, "unconditional", src.url(), int64(len(d)), providers.Properties{}); err != nil {
		t.Fatalf("PutBlobFromURL without IfMatch: %v", err)
	}
	if got := src.ifMatches(); len(got) != 2 {
		t.Errorf("a SourceURL without IfMatch sent If-Match: %q", got)
	}

	src.replace(providertest.Data(5000, 8))
	for op, call := range map[string]func() error{
		"PutBlobFromURL": func() error {
			return r.dst.PutBlobFromURL(t.Context(), c, "changed", su, int64(len(d)), providers.Properties{})
		},
		"StageBlockFromURL": func() error {
			return r.dst.StageBlockFromURL(t.Context(), c, "staged", "id-2", su, providers.Range{Offset: 1000, Count: 1000})
		},
	} {
		err := call()
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Kind != providers.KindPrecondition || pe.Code != "CannotVerifyCopySource" || pe.Status != http.StatusPreconditionFailed {
			t.Errorf("%s of a changed source: %v; want precondition failed (CannotVerifyCopySource, HTTP 412)", op, err)
		}
		if providers.IsRetryable(err) {
			t.Errorf("%s: retryable: %v", op, err)
		}
		if err != nil && !strings.Contains(err.Error(), "HTTP 412 PreconditionFailed") {
			t.Errorf("%s: %q does not name the source's answer", op, err)
		}
		noSecret(t, err)
		t.Logf("%s: %v", op, err)
	}
	if _, err := r.dst.StatBlob(t.Context(), c, "changed"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("blob exists after a changed source: %v", err)
	}
	if ids, err := r.dst.UncommittedBlocks(t.Context(), c, "staged"); err != nil || len(ids) != 1 || ids[0] != "id-1" {
		t.Errorf("UncommittedBlocks = %q, %v; want only id-1", ids, err)
	}
}

func TestInvalidMetadata(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(10, 4)
	src := serve(t, d, 0, "")
	bad := providers.Properties{Metadata: map[string]string{"bad-name": "x"}}
	err := r.dst.PutBlobFromURL(t.Context(), c, "m", src.url(), int64(len(d)), bad)
	if providers.KindOf(err) != providers.KindInvalid || providers.CodeOf(err) != "InvalidMetadata" {
		t.Errorf("PutBlobFromURL: %v (code %q)", err, providers.CodeOf(err))
	}
	t.Logf("PutBlobFromURL: %v", err)
	if err := r.dst.StageBlock(t.Context(), c, "m", "id-1", bytes.NewReader(d), int64(len(d))); err != nil {
		t.Fatal(err)
	}
	err = r.dst.CommitBlocks(t.Context(), c, "m", []providers.BlockID{"id-1"}, bad)
	if providers.KindOf(err) != providers.KindInvalid || providers.CodeOf(err) != "InvalidMetadata" {
		t.Errorf("CommitBlocks: %v", err)
	}
	t.Logf("CommitBlocks: %v", err)
}

func TestStageBlockMD5(t *testing.T) {
	az := testenv.Azure(t)
	var mu sync.Mutex
	var md5s []string
	dst, err := New(Options{ServiceURL: az.Endpoint, Credential: Credential{ConnectionString: providers.Secret(az.ConnectionString())},
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if req.URL.Query().Get("comp") == "block" {
					mu.Lock()
					// azblob sets the non-canonical key "Content-MD5".
					v := req.Header.Get("Content-MD5")
					if vs := req.Header["Content-MD5"]; len(vs) > 0 {
						v = vs[0]
					}
					md5s = append(md5s, v)
					mu.Unlock()
				}
				return rt.RoundTrip(req)
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{az: az, dst: dst, raw: rawClient(t, az)}
	c := r.container(t)
	d := providertest.Data(70_000, 5)
	body := bytes.NewReader(d)
	body.Seek(1000, io.SeekStart)
	if err := dst.StageBlock(t.Context(), c, "s", "blk-0", body, 50_000); err != nil {
		t.Fatal(err)
	}
	if err := dst.CommitBlocks(t.Context(), c, "s", []providers.BlockID{"blk-0"}, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.readBlob(t, c, "s"), d[1000:51000]) {
		t.Error("content differs")
	}
	sum := md5.Sum(d[1000:51000])
	if len(md5s) != 1 || md5s[0] != encodeBlockID(providers.BlockID(sum[:])) {
		t.Errorf("Content-MD5 sent = %q, want [%x]", md5s, sum)
	}
}

// corruptingReader flips a byte the second time through: the MD5 computed
// on the first pass no longer matches what is sent.
type corruptingReader struct {
	*bytes.Reader
	passes int
}

func (c *corruptingReader) Seek(off int64, whence int) (int64, error) {
	if off == 0 && whence == io.SeekStart {
		c.passes++
	}
	return c.Reader.Seek(off, whence)
}

func (c *corruptingReader) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	if c.passes >= 2 && n > 0 {
		p[0] ^= 0xff
	}
	return n, err
}

func TestStageBlockCorrupted(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	body := &corruptingReader{Reader: bytes.NewReader(providertest.Data(5000, 6))}
	err := r.dst.StageBlock(t.Context(), c, "corrupt", "blk-0", body, 5000)
	if providers.KindOf(err) != providers.KindInvalid || providers.CodeOf(err) != "Md5Mismatch" {
		t.Errorf("corrupted block: %v (code %q)", err, providers.CodeOf(err))
	}
	t.Logf("corrupted block: %v", err)
}

func TestSASCredential(t *testing.T) {
	az := testenv.Azure(t)
	key, err := service.NewSharedKeyCredential(az.Account, az.Key)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(p sas.AccountPermissions) string {
		qp, err := sas.AccountSignatureValues{
			Protocol:      sas.ProtocolHTTPSandHTTP,
			ExpiryTime:    time.Now().Add(time.Hour).UTC(),
			Permissions:   p.String(),
			ResourceTypes: (&sas.AccountResourceTypes{Service: true, Container: true, Object: true}).String(),
		}.SignWithSharedKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return qp.Encode()
	}
	full := sign(sas.AccountPermissions{Read: true, Write: true, Create: true, List: true, Add: true, Delete: true})
	sig := full[strings.Index(full, "sig=")+4:]
	if i := strings.IndexByte(sig, '&'); i >= 0 {
		sig = sig[:i]
	}

	// The URL form a user types, through ParseURL.
	loc, err := ParseURL(az.Endpoint + "/?" + full)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := New(Options{ServiceURL: loc.ServiceURL, Credential: Credential{SAS: loc.SAS}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{az: az, dst: dst, raw: rawClient(t, az)}
	c := newContainerName(t)
	if created, err := dst.EnsureContainer(t.Context(), c); err != nil || !created {
		t.Fatalf("EnsureContainer with SAS: %v %v", created, err)
	}
	d := providertest.Data(3000, 7)
	src := serve(t, d, 0, "")
	if err := dst.PutBlobFromURL(t.Context(), c, "a", src.url(), int64(len(d)), providers.Properties{ContentType: "x/y"}); err != nil {
		t.Fatalf("PutBlobFromURL with SAS: %v", err)
	}
	if err := dst.StageBlockFromURL(t.Context(), c, "b", "id-0", src.url(), providers.Range{Offset: 0, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := dst.StageBlock(t.Context(), c, "b", "id-1", bytes.NewReader(d[1000:]), 2000); err != nil {
		t.Fatal(err)
	}
	if err := dst.CommitBlocks(t.Context(), c, "b", []providers.BlockID{"id-0", "id-1"}, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.readBlob(t, c, "a"), d) || !bytes.Equal(r.readBlob(t, c, "b"), d) {
		t.Error("content differs")
	}
	page, err := dst.ListBlobs(t.Context(), c, providers.ListOptions{})
	if err != nil || len(page.Objects) != 2 {
		t.Errorf("ListBlobs with SAS: %+v %v", page, err)
	}
	// Errors through a SAS client carry no signature.
	_, err = dst.StatBlob(t.Context(), c, "missing")
	if providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("StatBlob missing: %v", err)
	}
	noSecret(t, err, sig)
	err = dst.PutBlobFromURL(t.Context(), c, "refused", serve(t, d, 403, "AccessDenied").url(), int64(len(d)), providers.Properties{})
	noSecret(t, err, sig)

	// A read-only SAS cannot write.
	ro, err := New(Options{ServiceURL: az.Endpoint, Credential: Credential{SAS: providers.Secret(sign(sas.AccountPermissions{Read: true, List: true}))}})
	if err != nil {
		t.Fatal(err)
	}
	err = ro.CommitBlocks(t.Context(), c, "ro", nil, providers.Properties{})
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("read-only SAS write: %v", err)
	}
	// In plain words: which side, which operation, what it needs.
	if msg := err.Error(); !strings.Contains(msg, "Azure denied CommitBlocks") || !strings.Contains(msg, "Storage Blob Data Contributor") || !strings.Contains(msg, "w (write)") {
		t.Errorf("read-only SAS write does not say what is missing: %v", err)
	}
	noSecret(t, err, sig)
	t.Logf("read-only SAS write: %v", err)

	// A tampered signature.
	bad, err := New(Options{ServiceURL: az.Endpoint, Credential: Credential{SAS: providers.Secret(strings.Replace(full, "sig=", "sig=AAAA", 1))}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ListBlobs(t.Context(), c, providers.ListOptions{})
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("tampered SAS: %v", err)
	}
	noSecret(t, err, sig, "AAAA"+sig)
	t.Logf("tampered SAS: %v", err)
}

func TestConnectionString(t *testing.T) {
	az := testenv.Azure(t)
	dst, err := New(Options{Credential: Credential{ConnectionString: providers.Secret(az.ConnectionString())}})
	if err != nil {
		t.Fatal(err)
	}
	if dst.ServiceURL() != az.Endpoint+"/" || dst.Account() != az.Account {
		t.Errorf("ServiceURL %q Account %q", dst.ServiceURL(), dst.Account())
	}
	c := newContainerName(t)
	if _, err := dst.EnsureContainer(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	// A wrong key: Permission, and the key is not in the text.
	wrong := strings.Replace(az.ConnectionString(), az.Key, "AAAA"+az.Key[4:], 1)
	bad, err := New(Options{Credential: Credential{ConnectionString: providers.Secret(wrong)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ListBlobs(t.Context(), c, providers.ListOptions{})
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("wrong key: %v", err)
	}
	noSecret(t, err, az.Key[4:20])
}

func TestCancelInFlight(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(1000, 8)
	src := serve(t, d, 0, "")
	src.block = make(chan struct{}) // the source hangs: the copy is in flight
	defer close(src.block)
	for _, op := range []string{"PutBlobFromURL", "StageBlockFromURL"} {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			if op == "PutBlobFromURL" {
				done <- r.dst.PutBlobFromURL(ctx, c, "hang", src.url(), int64(len(d)), providers.Properties{})
			} else {
				done <- r.dst.StageBlockFromURL(ctx, c, "hang", "id-0", src.url(), providers.Range{Offset: 0, Count: 10})
			}
		}()
		deadline := time.Now().Add(10 * time.Second)
		for src.requests.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not return after cancel", op)
		}
		if providers.KindOf(err) != providers.KindCanceled || !errors.Is(err, context.Canceled) || !errors.Is(err, providers.ErrCanceled) {
			t.Errorf("%s: %v", op, err)
		}
		t.Logf("%s returned %v after cancel: %v", op, time.Since(start).Round(time.Millisecond), err)
		src.requests.Store(0)
	}
	if _, err := r.dst.StatBlob(t.Context(), c, "hang"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("blob exists after a canceled copy: %v", err)
	}
}

func TestListBlobsPages(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	var want []string
	for i := range 7 {
		n := fmt.Sprintf("k/%02d", i)
		want = append(want, n)
		if err := r.dst.CommitBlocks(t.Context(), c, n, nil, providers.Properties{}); err != nil {
			t.Fatal(err)
		}
	}
	// An uncommitted blob is not listed.
	if err := r.dst.StageBlock(t.Context(), c, "k/zz-uncommitted", "id", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	var got []string
	tok, pages := "", 0
	for {
		p, err := r.dst.ListBlobs(t.Context(), c, providers.ListOptions{Prefix: "k/", Token: tok, MaxResults: 3})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range p.Objects {
			got = append(got, o.Key)
		}
		if tok = p.Next; tok == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Errorf("got %v in %d pages, want %v in 3", got, pages, want)
	}
	// Over Azure's 5000 cap is not an error.
	if _, err := r.dst.ListBlobs(t.Context(), c, providers.ListOptions{MaxResults: 100000}); err != nil {
		t.Error(err)
	}
}

func TestPutBlob(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	d := providertest.Data(70_000, 9)
	props := providers.Properties{ContentType: "text/csv", ContentEncoding: "identity", ContentDisposition: "inline", ContentLanguage: "de",
		CacheControl: "no-cache", Metadata: map[string]string{"origin": "local"}, Tags: map[string]string{"team": "data"}}
	body := bytes.NewReader(d)
	body.Seek(500, io.SeekStart) // from the current position, as the interface says
	if err := r.dst.PutBlob(t.Context(), c, "p/one.csv", body, 60_000, props); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.readBlob(t, c, "p/one.csv"), d[500:60_500]) {
		t.Fatal("content differs")
	}
	info, err := r.dst.StatBlob(t.Context(), c, "p/one.csv")
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(d[500:60_500])
	if info.ContentType != "text/csv" || info.CacheControl != "no-cache" || info.ContentLanguage != "de" || info.Metadata["origin"] != "local" ||
		!bytes.Equal(info.ContentMD5, sum[:]) {
		t.Errorf("properties %+v", info.Properties)
	}
	if err := r.dst.PutBlob(t.Context(), c, "short", bytes.NewReader(d[:10]), 11, props); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("a body shorter than its size: %v, want Invalid", err)
	}
}
