package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// testThreshold is the versitygw --copy-object-threshold of the
// destination tests, so MiB objects take the large-copy paths.
const testThreshold = 10 << 20

const mib = 1 << 20

// newCopyRig starts a versitygw of its own (about 0.1 s) with
// CopyObjectThreshold lowered to testThreshold unless opts says otherwise,
// stopped when t ends. Without the tools the test is skipped, or fails
// with CI=true, as testenv.S3 does.
func newCopyRig(t *testing.T, opts testenv.S3Options) *rig {
	t.Helper()
	tools, err := testenv.ToolsDir()
	if err == nil {
		_, err = os.Stat(testenv.VersityGWPath(tools))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("versitygw unavailable (CI=true, so this fails instead of skipping): %v", err)
		}
		t.Skipf("versitygw unavailable, skipping: %v", err)
	}
	opts.ToolsDir = tools
	if opts.CopyObjectThreshold == 0 {
		opts.CopyObjectThreshold = testThreshold
	}
	srv, err := testenv.StartS3(context.WithoutCancel(t.Context()), opts)
	if err != nil {
		t.Fatalf("StartS3: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("stop versitygw: %v", err)
		}
	})
	raw, err := srv.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &rig{srv: srv, raw: raw}
}

// dest is r.source with CopyObjectThreshold set to the rig's.
func (r *rig) dest(t *testing.T, o Options) *Source {
	t.Helper()
	if o.CopyObjectThreshold == 0 {
		o.CopyObjectThreshold = testThreshold
	}
	return r.source(t, o)
}

// read returns the bytes of bucket/key through the raw client.
func (r *rig) read(t *testing.T, bucket, key string) []byte {
	t.Helper()
	out, err := r.raw.GetObject(t.Context(), &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%q: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s/%q: %v", bucket, key, err)
	}
	return b
}

// uploads returns "key uploadID" of every incomplete upload of bucket.
func (r *rig) uploads(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := r.raw.ListMultipartUploads(t.Context(), &s3sdk.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads %s: %v", bucket, err)
	}
	var got []string
	for _, u := range out.Uploads {
		got = append(got, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return got
}

// reqLog is a WrapTransport that records every request's method, URL and
// headers.
type reqLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *reqLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, &http.Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone()})
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *reqLog) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

func (l *reqLog) take() []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	return r
}

// destProps are properties with all five content headers, metadata (one
// name that is no C# identifier, which S3 takes) and tags.
func destProps() providers.Properties {
	return providers.Properties{
		ContentType:        "text/plain; charset=utf-8",
		ContentEncoding:    "br",
		ContentDisposition: `attachment; filename="report 1.txt"`,
		ContentLanguage:    "en-GB",
		CacheControl:       "max-age=60, private",
		Metadata:           map[string]string{"color": "blue", "origin-key": "a/b c+d"},
		Tags:               map[string]string{"project": "x", "team": "data eng", "sym": "a+b=c:d/e@f"},
	}
}

// checkObject fails t unless bucket/key holds data with want's headers,
// metadata and tags.
func checkObject(t *testing.T, what string, r *rig, s *Source, bucket, key string, data []byte, want providers.Properties) providers.ObjectInfo {
	t.Helper()
	if got := r.read(t, bucket, key); !bytes.Equal(got, data) {
		t.Errorf("%s: content of %d bytes differs from the %d written", what, len(got), len(data))
	}
	info, err := s.StatBlob(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("%s: StatBlob: %v", what, err)
	}
	if info.Key != key || info.Size != int64(len(data)) || info.ETag == "" || info.LastModified.IsZero() {
		t.Errorf("%s: StatBlob Key %q Size %d ETag %q LastModified %v; want %q, %d, an ETag and a time", what, info.Key, info.Size, info.ETag, info.LastModified, key, len(data))
	}
	for _, h := range []struct{ name, got, want string }{
		{"Content-Type", info.ContentType, want.ContentType},
		{"Content-Encoding", info.ContentEncoding, want.ContentEncoding},
		{"Content-Disposition", info.ContentDisposition, want.ContentDisposition},
		{"Content-Language", info.ContentLanguage, want.ContentLanguage},
		{"Cache-Control", info.CacheControl, want.CacheControl},
	} {
		if h.want != "" && h.got != h.want {
			t.Errorf("%s: %s = %q, want %q", what, h.name, h.got, h.want)
		}
	}
	if !maps.Equal(info.Metadata, want.Metadata) && (len(info.Metadata) > 0 || len(want.Metadata) > 0) {
		t.Errorf("%s: metadata = %v, want %v", what, info.Metadata, want.Metadata)
	}
	tags, err := s.Tags(t.Context(), bucket, providers.Object{Key: key})
	if err != nil {
		t.Errorf("%s: Tags: %v", what, err)
	} else if !maps.Equal(tags, want.Tags) && (len(tags) > 0 || len(want.Tags) > 0) {
		t.Errorf("%s: tags = %v, want %v", what, tags, want.Tags)
	}
	if info.TagCount != len(want.Tags) {
		t.Errorf("%s: TagCount %d, want %d", what, info.TagCount, len(want.Tags))
	}
	return info
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// multipartETag is S3's ETag of an upload of parts: the MD5 of their MD5s,
// "-" and their number.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		sum := md5.Sum(p)
		h.Write(sum[:])
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts))
}

func blockIDs(n int) []providers.BlockID {
	ids := make([]providers.BlockID, n)
	for i := range ids {
		ids[i] = providers.BlockID(fmt.Sprintf("block-%05d", i))
	}
	return ids
}

// blockBuffer adapts the S3 destination to the conformance suite, whose
// BlockStager tests assume Azure's blocks: staged without an upload begun
// first (no BeginBlocks), of any size (S3 parts but the last are 5 MiB at
// least, and versitygw checks: EntityTooSmall) and committed in any order
// (S3 assembles parts by number). It forwards the Destination methods,
// keeps staged blocks in memory and commits them with one PutBlob of their
// concatenation; a commit of no blocks goes to the provider's CommitBlocks
// (its empty-object path) and a StageBlock with an ended ctx to the
// provider's StageBlock (its canceled path). The multipart path is tested
// by the tests below.
type blockBuffer struct {
	s      *Source
	mu     sync.Mutex
	blocks map[string]map[providers.BlockID][]byte
}

func (b *blockBuffer) EnsureContainer(ctx context.Context, c string) (bool, error) {
	return b.s.EnsureContainer(ctx, c)
}

func (b *blockBuffer) StatBlob(ctx context.Context, c, name string) (providers.ObjectInfo, error) {
	return b.s.StatBlob(ctx, c, name)
}

func (b *blockBuffer) ListBlobs(ctx context.Context, c string, o providers.ListOptions) (providers.Page, error) {
	return b.s.ListBlobs(ctx, c, o)
}

func (b *blockBuffer) StageBlock(ctx context.Context, c, name string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	if ctx.Err() != nil {
		return b.s.StageBlock(ctx, c, name, id, body, size)
	}
	d := make([]byte, size)
	if _, err := io.ReadFull(body, d); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.blocks == nil {
		b.blocks = map[string]map[providers.BlockID][]byte{}
	}
	k := uploadKey(c, name)
	if b.blocks[k] == nil {
		b.blocks[k] = map[providers.BlockID][]byte{}
	}
	b.blocks[k][id] = d
	return nil
}

func (b *blockBuffer) CommitBlocks(ctx context.Context, c, name string, ids []providers.BlockID, props providers.Properties) error {
	if len(ids) == 0 {
		return b.s.CommitBlocks(ctx, c, name, nil, props)
	}
	b.mu.Lock()
	var all []byte
	for _, id := range ids {
		d, ok := b.blocks[uploadKey(c, name)][id]
		if !ok {
			b.mu.Unlock()
			return &providers.Error{Kind: providers.KindInvalid, Op: "CommitBlocks", Where: c + "/" + name, Msg: "unknown block " + string(id)}
		}
		all = append(all, d...)
	}
	delete(b.blocks, uploadKey(c, name))
	b.mu.Unlock()
	return b.s.PutBlob(ctx, c, name, bytes.NewReader(all), int64(len(all)), props)
}

// TestDestinationConformance runs the shared Destination suite: bucket
// creation, NotFound and canceled contexts, listing, awkward names (less
// those versitygw cannot hold), and blobs written through PutBlob and the
// empty-object CommitBlocks; see blockBuffer for why the suite's
// BlockStager does not drive S3's multipart upload.
func TestDestinationConformance(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	var seq int
	var mu sync.Mutex
	providertest.TestDestination(t, providertest.DestinationHarness{
		Destination: &blockBuffer{s: r.dest(t, Options{})},
		NewContainerName: func(t *testing.T) string {
			mu.Lock()
			defer mu.Unlock()
			seq++
			return fmt.Sprintf("dst-%d-%d", os.Getpid()%100000, seq)
		},
		ReadBlob: func(t *testing.T, c, name string) []byte { return r.read(t, c, name) },
		SkipKey:  versitygwRefuses,
	})
}

func TestPutBlobRoundTrip(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	s := r.dest(t, Options{})
	bucket := r.newBucket(t, nil)
	big := providertest.Data(3*mib+17, 1)
	for _, c := range []struct {
		name   string
		key    string
		data   []byte
		offset int64 // the body is positioned here; data follows it
		props  providers.Properties
	}{
		{"all properties", "dir/blob.txt", providertest.Data(3000, 2), 0, destProps()},
		{"3 MiB", "big", big, 0, providers.Properties{ContentType: "application/octet-stream"}},
		{"empty", "empty", nil, 0, providers.Properties{ContentType: "application/x-empty", Metadata: map[string]string{"empty": "yes"}}},
		{"from a position", "positioned", providertest.Data(1500, 3), 700, providers.Properties{}},
		{"awkward key", "a b+c%d/caf\u00e9?x=1#y", providertest.Data(10, 4), 0, providers.Properties{Tags: map[string]string{"k": "v w"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := bytes.NewReader(append(bytes.Repeat([]byte{'-'}, int(c.offset)), c.data...))
			body.Seek(c.offset, io.SeekStart)
			if err := s.PutBlob(t.Context(), bucket, c.key, body, int64(len(c.data)), c.props); err != nil {
				t.Fatalf("PutBlob: %v", err)
			}
			info := checkObject(t, "PutBlob", r, s, bucket, c.key, c.data, c.props)
			if info.ETag != md5hex(c.data) {
				t.Errorf("ETag %q, want the MD5 %s", info.ETag, md5hex(c.data))
			}
			if hex.EncodeToString(info.ContentMD5) != md5hex(c.data) {
				t.Errorf("ContentMD5 %x, want %s", info.ContentMD5, md5hex(c.data))
			}
		})
	}
	t.Run("replace", func(t *testing.T) {
		d := providertest.Data(99, 5)
		p := providers.Properties{ContentType: "text/v2"}
		if err := s.PutBlob(t.Context(), bucket, "dir/blob.txt", bytes.NewReader(d), 99, p); err != nil {
			t.Fatal(err)
		}
		checkObject(t, "replacing PutBlob", r, s, bucket, "dir/blob.txt", d, p)
	})
	t.Run("refused before sending", func(t *testing.T) {
		var log reqLog
		s := r.dest(t, Options{WrapTransport: log.wrap})
		for _, c := range []struct {
			name string
			body io.ReadSeeker
			size int64
			ctx  context.Context
			kind providers.Kind
		}{
			{"short body", bytes.NewReader([]byte("abc")), 4, t.Context(), providers.KindInvalid},
			{"over 5 GiB", bytes.NewReader(nil), MaxPutObject + 1, t.Context(), providers.KindInvalid},
			{"negative size", bytes.NewReader(nil), -1, t.Context(), providers.KindInvalid},
			{"canceled", bytes.NewReader([]byte("abc")), 3, canceled(t), providers.KindCanceled},
		} {
			err := s.PutBlob(c.ctx, bucket, "refused", c.body, c.size, providers.Properties{})
			if providers.KindOf(err) != c.kind {
				t.Errorf("%s: %v, want %v", c.name, err, c.kind)
			}
		}
		if n := log.n(); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
		if _, err := s.StatBlob(t.Context(), bucket, "refused"); providers.KindOf(err) != providers.KindNotFound {
			t.Errorf("StatBlob after refused puts: %v, want NotFound", err)
		}
	})
}

func canceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

var multipartETagRE = regexp.MustCompile(`^[0-9a-f]{32}-[0-9]+$`)

func TestMultipartUpload(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	s := r.dest(t, Options{})
	bucket := r.newBucket(t, nil)
	data := providertest.Data(11*mib, 10)
	parts := [][]byte{data[:5*mib], data[5*mib : 10*mib], data[10*mib:]}
	ids := blockIDs(3)
	props := destProps()
	const key = "multi/part object"
	if err := s.BeginBlocks(t.Context(), bucket, key, ids, props); err != nil {
		t.Fatalf("BeginBlocks: %v", err)
	}
	var wg sync.WaitGroup
	for _, i := range []int{2, 0, 1} {
		wg.Go(func() {
			if err := s.StageBlock(t.Context(), bucket, key, ids[i], bytes.NewReader(parts[i]), int64(len(parts[i]))); err != nil {
				t.Errorf("StageBlock %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if _, err := s.StatBlob(t.Context(), bucket, key); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("StatBlob before CommitBlocks: %v, want NotFound", err)
	}
	// CommitBlocks' props are not used: BeginBlocks set them.
	if err := s.CommitBlocks(t.Context(), bucket, key, ids, providers.Properties{ContentType: "ignored/x"}); err != nil {
		t.Fatalf("CommitBlocks: %v", err)
	}
	info := checkObject(t, "multipart upload", r, s, bucket, key, data, props)
	if !multipartETagRE.MatchString(info.ETag) || !strings.HasSuffix(info.ETag, "-3") {
		t.Errorf("ETag %q, want the <md5>-3 form", info.ETag)
	}
	if want := multipartETag(parts...); info.ETag != want {
		t.Errorf("ETag %q, want S3's %q (the MD5 of the parts' MD5s)", info.ETag, want)
	}
	if info.ContentMD5 != nil {
		t.Errorf("ContentMD5 %x from a multipart ETag, want nil", info.ContentMD5)
	}
	if u := r.uploads(t, bucket); len(u) != 0 {
		t.Errorf("incomplete uploads after the commit: %q", u)
	}
	if u := s.uploads.get(bucket, key); u != nil {
		t.Errorf("upload state kept after the commit")
	}
	// The empty object: CommitBlocks of no blocks, without BeginBlocks.
	p := providers.Properties{ContentType: "application/x-empty", Metadata: map[string]string{"e": "1"}, Tags: map[string]string{"t": "1"}}
	if err := s.CommitBlocks(t.Context(), bucket, "empty", nil, p); err != nil {
		t.Fatalf("CommitBlocks of no blocks: %v", err)
	}
	checkObject(t, "empty object", r, s, bucket, "empty", nil, p)
}

func TestMultipartErrors(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	var log reqLog
	s := r.dest(t, Options{WrapTransport: log.wrap})
	bucket := r.newBucket(t, nil)
	ctx := t.Context()
	ids := blockIDs(3)
	small := []byte("small")
	if err := s.BeginBlocks(ctx, bucket, "begun", ids, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	if err := s.StageBlock(ctx, bucket, "begun", ids[1], bytes.NewReader(small), 5); err != nil {
		t.Fatal(err)
	}
	log.take()
	for _, c := range []struct {
		name string
		call func() error
		in   string // the error names this
	}{
		{"StageBlock never begun", func() error {
			return s.StageBlock(ctx, bucket, "never", ids[0], bytes.NewReader(small), 5)
		}, bucket + "/never"},
		{"StageBlockFromCopy never begun", func() error {
			return s.StageBlockFromCopy(ctx, bucket, "never", ids[0], providers.CopySource{Bucket: bucket, Object: providers.Object{Key: "x", Size: 10}}, providers.Range{Offset: 0, Count: 10})
		}, bucket + "/never"},
		{"CommitBlocks never begun", func() error { return s.CommitBlocks(ctx, bucket, "never", ids, providers.Properties{}) }, bucket + "/never"},
		{"StageBlock of an unnamed block", func() error {
			return s.StageBlock(ctx, bucket, "begun", "other", bytes.NewReader(small), 5)
		}, "other"},
		{"CommitBlocks naming an unstaged block", func() error { return s.CommitBlocks(ctx, bucket, "begun", ids, providers.Properties{}) }, "never staged"},
		{"CommitBlocks out of order", func() error {
			return s.CommitBlocks(ctx, bucket, "begun", []providers.BlockID{ids[1], ids[0]}, providers.Properties{})
		}, "order"},
		{"BeginBlocks with a repeated ID", func() error {
			return s.BeginBlocks(ctx, bucket, "dup", []providers.BlockID{"a", "a"}, providers.Properties{})
		}, `"a"`},
		{"BeginBlocks of no blocks", func() error { return s.BeginBlocks(ctx, bucket, "none", nil, providers.Properties{}) }, "0 blocks"},
		{"StageBlockFromCopy past the end", func() error {
			return s.StageBlockFromCopy(ctx, bucket, "begun", ids[0], providers.CopySource{Bucket: bucket, Object: providers.Object{Key: "x", Size: 10}}, providers.Range{Offset: 5, Count: 6})
		}, "past"},
		{"StageBlockFromCopy over the threshold", func() error {
			return s.StageBlockFromCopy(ctx, bucket, "begun", ids[0], providers.CopySource{Bucket: bucket, Object: providers.Object{Key: "x", Size: 20 * mib}}, providers.Range{Offset: 0, Count: testThreshold + 1})
		}, "count"},
	} {
		err := c.call()
		if providers.KindOf(err) != providers.KindInvalid || !strings.Contains(fmt.Sprint(err), c.in) {
			t.Errorf("%s: %v; want Invalid naming %q", c.name, err, c.in)
		}
	}
	if reqs := log.take(); len(reqs) != 0 {
		t.Errorf("%d requests sent for refused calls, want none (first %s %s)", len(reqs), reqs[0].Method, reqs[0].URL)
	}
	// S3 checks the 5 MiB minimum of every part but the last at completion
	// (versitygw too): EntityTooSmall, Invalid.
	for i := range 2 {
		if err := s.StageBlock(ctx, bucket, "begun", ids[i], bytes.NewReader(small), 5); err != nil {
			t.Fatal(err)
		}
	}
	err := s.CommitBlocks(ctx, bucket, "begun", ids[:2], providers.Properties{})
	checkErr(t, "CommitBlocks of a part under 5 MiB", err, providers.KindInvalid, "EntityTooSmall", 400)
	// The failed commit keeps the upload: a single part, the last, may be small.
	if err := s.CommitBlocks(ctx, bucket, "begun", ids[1:2], providers.Properties{}); err != nil {
		t.Fatalf("CommitBlocks of one small part after a failed commit: %v", err)
	}
	if got := r.read(t, bucket, "begun"); string(got) != "small" {
		t.Errorf("committed %q, want %q", got, "small")
	}
}

func TestAbortBlocks(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	var log reqLog
	s := r.dest(t, Options{WrapTransport: log.wrap})
	bucket := r.newBucket(t, nil)
	ctx := t.Context()
	ids := blockIDs(2)
	if err := s.BeginBlocks(ctx, bucket, "k", ids, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	d := providertest.Data(5*mib, 20)
	if err := s.StageBlock(ctx, bucket, "k", ids[0], bytes.NewReader(d), int64(len(d))); err != nil {
		t.Fatal(err)
	}
	if u := r.uploads(t, bucket); len(u) != 1 {
		t.Fatalf("uploads while staging: %q, want one", u)
	}
	if err := s.AbortBlocks(ctx, bucket, "k"); err != nil {
		t.Fatalf("AbortBlocks: %v", err)
	}
	if u := r.uploads(t, bucket); len(u) != 0 {
		t.Errorf("uploads after AbortBlocks: %q, want none", u)
	}
	if _, err := s.StatBlob(ctx, bucket, "k"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("StatBlob after AbortBlocks: %v, want NotFound", err)
	}
	log.take()
	for _, name := range []string{"k", "never-begun"} {
		if err := s.AbortBlocks(ctx, bucket, name); err != nil {
			t.Errorf("AbortBlocks of %q with nothing begun: %v", name, err)
		}
	}
	if n := log.n(); n != 0 {
		t.Errorf("AbortBlocks with nothing begun sent %d requests", n)
	}
	err := s.StageBlock(ctx, bucket, "k", ids[1], bytes.NewReader(d), int64(len(d)))
	if providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("StageBlock after AbortBlocks: %v, want Invalid", err)
	}
	// An upload aborted behind the Source's back: NoSuchUpload, and the
	// Source forgets it.
	if err := s.BeginBlocks(ctx, bucket, "k", ids, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	u := s.uploads.get(bucket, "k")
	if _, err := r.raw.AbortMultipartUpload(ctx, &s3sdk.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("k"), UploadId: aws.String(u.id)}); err != nil {
		t.Fatal(err)
	}
	// A small part: versitygw refuses before reading the body and closes
	// the connection, which a large body's sender may meet as a reset
	// (Transient) instead of the answer.
	err = s.StageBlock(ctx, bucket, "k", ids[0], bytes.NewReader([]byte("x")), 1)
	if providers.CodeOf(err) != "NoSuchUpload" || !strings.Contains(err.Error(), "copy the object again") {
		t.Errorf("StageBlock of an upload aborted elsewhere: %v, want NoSuchUpload saying to copy again", err)
	}
	if s.uploads.get(bucket, "k") != nil {
		t.Errorf("the Source still holds an upload S3 does not know")
	}
	if err := s.AbortBlocks(ctx, bucket, "k"); err != nil {
		t.Errorf("AbortBlocks after NoSuchUpload: %v", err)
	}
}

// BeginBlocks aborts the incomplete uploads an earlier run left of exactly
// its key, and no other key's, also past the first page of the listing.
func TestBeginBlocksAbortsStale(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	s := r.dest(t, Options{})
	bucket := r.newBucket(t, nil)
	ctx := t.Context()
	create := func(key string) string {
		out, err := r.raw.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.UploadId)
	}
	const key = "dir/k+ey é"
	var kept []string
	for _, k := range []string{key + "2", key + "/sub", "dir/k", "dir/a"} {
		kept = append(kept, k+" "+create(k))
	}
	for range 3 {
		create(key)
	}
	if err := s.BeginBlocks(ctx, bucket, key, blockIDs(1), providers.Properties{}); err != nil {
		t.Fatalf("BeginBlocks: %v", err)
	}
	want := append(slices.Clone(kept), key+" "+s.uploads.get(bucket, key).id)
	got := r.uploads(t, bucket)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("uploads after BeginBlocks:\n got %q\nwant %q", got, want)
	}
	// A listing of one upload a page still finds them all.
	for range 3 {
		create(key)
	}
	var log reqLog
	paged := r.dest(t, Options{WrapTransport: log.wrap})
	uploadsPageSize = 1
	defer func() { uploadsPageSize = 0 }()
	if err := paged.BeginBlocks(ctx, bucket, key, blockIDs(1), providers.Properties{}); err != nil {
		t.Fatalf("BeginBlocks with 1-upload pages: %v", err)
	}
	got = r.uploads(t, bucket)
	slices.Sort(got)
	want = append(slices.Clone(kept), key+" "+paged.uploads.get(bucket, key).id)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("uploads after a paged BeginBlocks:\n got %q\nwant %q", got, want)
	}
	lists := 0
	for _, req := range log.take() {
		if req.Method == http.MethodGet && req.URL.Query().Has("uploads") {
			lists++
		}
	}
	t.Logf("paged BeginBlocks listed %d pages", lists)
	if lists < 2 {
		t.Errorf("the max-uploads=1 listing took %d page(s); the test does not page", lists)
	}
}

// seedCopySources puts the copy sources in a bucket of their own.
func seedCopySources(t *testing.T, r *rig, objs ...providertest.SeedObject) (string, map[string]providers.Object) {
	t.Helper()
	bucket := r.newBucket(t, objs)
	listed := map[string]providers.Object{}
	s := r.dest(t, Options{})
	all, err := providertest.ListAll(t.Context(), s, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range all {
		listed[o.Key] = o
	}
	return bucket, listed
}

func TestCopyObject(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	var log reqLog
	s := r.dest(t, Options{WrapTransport: log.wrap})
	srcProps := destProps()
	small := providertest.Data(7*mib, 30)
	large := providertest.Data(40*mib, 31)
	awkward := "a b+c%d/caf\u00e9 ~(1)&=?"
	srcBucket, listed := seedCopySources(t, r,
		providertest.SeedObject{Key: "small", Data: small, Props: srcProps},
		providertest.SeedObject{Key: "large", Data: large, Props: srcProps},
		providertest.SeedObject{Key: awkward, Data: []byte("awkward"), Props: providers.Properties{ContentType: "text/x-awkward"}},
	)
	dst := r.newBucket(t, nil)
	ctx := t.Context()
	if !s.CopiesFrom(r.dest(t, Options{})) {
		t.Fatal("CopiesFrom a Source of the same endpoint is false")
	}
	replaced := providers.Properties{ContentType: "application/json", CacheControl: "no-cache",
		Metadata: map[string]string{"gen": "2"}, Tags: map[string]string{"copied": "yes"}}

	for _, c := range []struct {
		name, key string
		data      []byte
		props     *providers.Properties
		want      providers.Properties
	}{
		{"kept properties", "small", small, nil, srcProps},
		{"replaced properties", "small", small, &replaced, replaced},
		{"replaced with none", "small", small, &providers.Properties{}, providers.Properties{}},
		{"awkward key", awkward, []byte("awkward"), nil, providers.Properties{ContentType: "text/x-awkward"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := providers.CopySource{Bucket: srcBucket, Object: listed[c.key]}
			name := "copy/" + c.name
			if err := s.CopyObject(ctx, dst, name, src, c.props); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			info := checkObject(t, "CopyObject", r, s, dst, name, c.data, c.want)
			if info.ETag != md5hex(c.data) {
				t.Errorf("ETag %q, want the MD5 %s", info.ETag, md5hex(c.data))
			}
		})
	}

	t.Run("too large for CopyObject", func(t *testing.T) {
		log.take()
		err := s.CopyObject(ctx, dst, "copy/large", providers.CopySource{Bucket: srcBucket, Object: listed["large"]}, nil)
		if providers.KindOf(err) != providers.KindInvalid {
			t.Errorf("CopyObject of 40 MiB over a 10 MiB threshold: %v, want Invalid", err)
		}
		if n := log.n(); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})

	t.Run("parts copied in parallel", func(t *testing.T) {
		const part = 8 * mib
		src := providers.CopySource{Bucket: srcBucket, Object: listed["large"]}
		n := (len(large) + part - 1) / part
		ids := blockIDs(n)
		props := destProps()
		props.Metadata = map[string]string{"assembled": "from parts"}
		props.Tags = map[string]string{"parts": fmt.Sprint(n)}
		if err := s.BeginBlocks(ctx, dst, "copy/large", ids, props); err != nil {
			t.Fatalf("BeginBlocks: %v", err)
		}
		var wg sync.WaitGroup
		var pieces [][]byte
		for i := range n {
			off := int64(i * part)
			count := min(int64(part), int64(len(large))-off)
			pieces = append(pieces, large[off:off+count])
			wg.Go(func() {
				if err := s.StageBlockFromCopy(ctx, dst, "copy/large", ids[i], src, providers.Range{Offset: off, Count: count}); err != nil {
					t.Errorf("StageBlockFromCopy %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if err := s.CommitBlocks(ctx, dst, "copy/large", ids, props); err != nil {
			t.Fatalf("CommitBlocks: %v", err)
		}
		info := checkObject(t, "copied parts", r, s, dst, "copy/large", large, props)
		if want := multipartETag(pieces...); info.ETag != want {
			t.Errorf("ETag %q, want %q", info.ETag, want)
		}
		if !strings.HasSuffix(info.ETag, fmt.Sprintf("-%d", n)) {
			t.Errorf("ETag %q, want the -%d form", info.ETag, n)
		}
	})
}

// versitygw applies --copy-object-threshold to each UploadPartCopy range,
// not only to CopyObject's whole source: Limits().MaxBlockSize follows it.
func TestUploadPartCopyThreshold(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	s := r.dest(t, Options{})
	if l := s.Limits(); l.MaxBlockSize != testThreshold || l.MaxPutBlobFromURL != testThreshold {
		t.Errorf("Limits %+v, want MaxBlockSize and MaxPutBlobFromURL of %d", l, testThreshold)
	}
	srcBucket, _ := seedCopySources(t, r, providertest.SeedObject{Key: "src", Data: providertest.Data(12*mib, 40)})
	dst := r.newBucket(t, nil)
	ctx := t.Context()
	up, err := r.raw.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String(dst), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		count int64
		ok    bool
	}{{testThreshold, true}, {testThreshold + 1, false}} {
		_, err := r.raw.UploadPartCopy(ctx, &s3sdk.UploadPartCopyInput{Bucket: aws.String(dst), Key: aws.String("k"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), CopySource: aws.String(srcBucket + "/src"), CopySourceRange: aws.String(fmt.Sprintf("bytes=0-%d", c.count-1))})
		if (err == nil) != c.ok {
			t.Errorf("versitygw UploadPartCopy of %d bytes with a threshold of %d: %v, want success %v", c.count, testThreshold, err, c.ok)
		}
		if err != nil {
			t.Logf("UploadPartCopy of %d bytes: %v", c.count, classify(ctx, "UploadPartCopy", dst+"/k", err))
		}
	}
}

// A source changed since it was listed fails the copy with Precondition
// (HTTP 412, not retryable) and writes nothing; the listed ETag, sent
// quoted, matches an unchanged source.
func TestCopyPrecondition(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	s := r.dest(t, Options{})
	data := providertest.Data(6*mib, 50)
	srcBucket, listed := seedCopySources(t, r, providertest.SeedObject{Key: "src", Data: data})
	dst := r.newBucket(t, nil)
	ctx := t.Context()
	stale := listed["src"]
	stale.ETag = md5hex([]byte("another content"))
	for _, c := range []struct {
		name string
		copy func(obj providers.Object, name string) error
	}{
		{"CopyObject", func(obj providers.Object, name string) error {
			return s.CopyObject(ctx, dst, name, providers.CopySource{Bucket: srcBucket, Object: obj}, nil)
		}},
		{"StageBlockFromCopy", func(obj providers.Object, name string) error {
			ids := blockIDs(1)
			if err := s.BeginBlocks(ctx, dst, name, ids, providers.Properties{}); err != nil {
				return err
			}
			if err := s.StageBlockFromCopy(ctx, dst, name, ids[0], providers.CopySource{Bucket: srcBucket, Object: obj}, providers.Range{Offset: 0, Count: obj.Size}); err != nil {
				return err
			}
			return s.CommitBlocks(ctx, dst, name, ids, providers.Properties{})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.copy(stale, c.name+"-stale")
			checkErr(t, c.name+" of a changed source", err, providers.KindPrecondition, "PreconditionFailed", 412)
			if providers.IsRetryable(err) {
				t.Errorf("a changed source is retryable: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), srcBucket+"/src") {
				t.Errorf("the error does not name the source: %v", err)
			}
			if _, err := s.StatBlob(ctx, dst, c.name+"-stale"); providers.KindOf(err) != providers.KindNotFound {
				t.Errorf("StatBlob after a refused copy: %v, want NotFound", err)
			}
			if err := c.copy(listed["src"], c.name+"-fresh"); err != nil {
				t.Fatalf("%s of an unchanged source: %v", c.name, err)
			}
			if got := r.read(t, dst, c.name+"-fresh"); !bytes.Equal(got, data) {
				t.Errorf("copy of an unchanged source differs")
			}
		})
	}
	if err := s.AbortBlocks(ctx, dst, "StageBlockFromCopy-stale"); err != nil {
		t.Errorf("AbortBlocks: %v", err)
	}
	if u := r.uploads(t, dst); len(u) != 0 {
		t.Errorf("uploads left: %q", u)
	}
}

// The ACL and StorageClass options go on every request that creates an
// object, and on no other; without them no such header is sent.
func TestACLAndStorageClassSent(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	srcBucket, listed := seedCopySources(t, r, providertest.SeedObject{Key: "src", Data: []byte("source")})
	dst := r.newBucket(t, nil)
	ctx := t.Context()
	for _, c := range []struct {
		name            string
		acl, class      string
		wantACL, wantSC string
	}{
		{"set", "bucket-owner-full-control", "STANDARD_IA", "bucket-owner-full-control", "STANDARD_IA"},
		{"case and spaces", " Private ", "REDUCED_REDUNDANCY", "private", "REDUCED_REDUNDANCY"},
		{"unset", "", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log reqLog
			s := r.dest(t, Options{ACL: c.acl, StorageClass: c.class, WrapTransport: log.wrap})
			p := providers.Properties{ContentType: "text/plain"}
			if err := s.PutBlob(ctx, dst, c.name+"/put", bytes.NewReader([]byte("x")), 1, p); err != nil {
				t.Fatalf("PutBlob: %v", err)
			}
			if err := s.CopyObject(ctx, dst, c.name+"/copy", providers.CopySource{Bucket: srcBucket, Object: listed["src"]}, nil); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			ids := blockIDs(1)
			if err := s.BeginBlocks(ctx, dst, c.name+"/multi", ids, p); err != nil {
				t.Fatalf("BeginBlocks: %v", err)
			}
			if err := s.StageBlock(ctx, dst, c.name+"/multi", ids[0], bytes.NewReader([]byte("y")), 1); err != nil {
				t.Fatalf("StageBlock: %v", err)
			}
			if err := s.CommitBlocks(ctx, dst, c.name+"/multi", ids, p); err != nil {
				t.Fatalf("CommitBlocks: %v", err)
			}
			creates := 0
			for _, req := range log.take() {
				q := req.URL.Query()
				create := (req.Method == http.MethodPut && !q.Has("partNumber")) || (req.Method == http.MethodPost && q.Has("uploads"))
				wantACL, wantSC := "", ""
				if create {
					creates++
					wantACL, wantSC = c.wantACL, c.wantSC
				}
				if got := req.Header.Get("X-Amz-Acl"); got != wantACL {
					t.Errorf("%s %s: x-amz-acl %q, want %q", req.Method, req.URL.RequestURI(), got, wantACL)
				}
				if got := req.Header.Get("X-Amz-Storage-Class"); got != wantSC {
					t.Errorf("%s %s: x-amz-storage-class %q, want %q", req.Method, req.URL.RequestURI(), got, wantSC)
				}
			}
			if creates != 3 {
				t.Errorf("saw %d object-creating requests, want 3 (PutObject, CopyObject, CreateMultipartUpload)", creates)
			}
			for _, k := range []string{"put", "copy", "multi"} {
				info, err := s.StatBlob(ctx, dst, c.name+"/"+k)
				if err != nil {
					t.Fatalf("StatBlob: %v", err)
				}
				t.Logf("%s: versitygw reports storage class %q", k, info.StorageClass)
			}
		})
	}
	for _, o := range []Options{{ACL: "public-read-write-all"}, {CopyObjectThreshold: -1}, {CopyObjectThreshold: MaxCopyObject + 1}} {
		if _, err := New(ctx, Options{ACL: o.ACL, CopyObjectThreshold: o.CopyObjectThreshold, Region: "us-east-1", Anonymous: true}); providers.KindOf(err) != providers.KindInvalid {
			t.Errorf("New(ACL %q, CopyObjectThreshold %d): %v, want Invalid", o.ACL, o.CopyObjectThreshold, err)
		}
	}
}

func TestCopiesFrom(t *testing.T) {
	newS := func(o Options) *Source {
		if o.Region == "" {
			o.Region = "us-east-1"
		}
		if o.Credentials == nil && !o.Anonymous {
			o.Credentials = credentials.NewStaticCredentialsProvider("a", "b", "")
		}
		s, err := New(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const ep = "http://127.0.0.1:7070"
	key := providers.Secret("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=")
	for _, c := range []struct {
		name     string
		dst, src Options
		want     bool
	}{
		{"same endpoint", Options{Endpoint: ep}, Options{Endpoint: ep}, true},
		{"same endpoint with a slash", Options{Endpoint: ep}, Options{Endpoint: ep + "/"}, true},
		{"same endpoint, other region", Options{Endpoint: ep}, Options{Endpoint: ep, Region: "eu-west-1"}, true},
		{"AWS across regions", Options{Region: "eu-west-1"}, Options{Region: "us-west-2"}, true},
		{"AWS across partitions", Options{Region: "eu-west-1"}, Options{Region: "cn-north-1"}, false},
		{"other endpoint", Options{Endpoint: ep}, Options{Endpoint: "http://127.0.0.1:7071"}, false},
		{"AWS and an endpoint", Options{}, Options{Endpoint: ep}, false},
		{"anonymous source", Options{Endpoint: ep}, Options{Endpoint: ep, Anonymous: true}, false},
		{"anonymous destination", Options{Endpoint: ep, Anonymous: true}, Options{Endpoint: ep}, false},
		{"SSE-C source", Options{Endpoint: ep}, Options{Endpoint: ep, SSECustomerKey: key}, false},
		{"requester-pays source", Options{Endpoint: ep}, Options{Endpoint: ep, RequestPayer: true}, false},
		{"unreachable source", Options{Endpoint: ep}, Options{Endpoint: ep, SourceUnreachable: true}, true},
	} {
		if got := newS(c.dst).CopiesFrom(newS(c.src)); got != c.want {
			t.Errorf("%s: CopiesFrom = %v, want %v", c.name, got, c.want)
		}
	}
	s := newS(Options{Endpoint: ep})
	if s.CopiesFrom(s) != true {
		t.Error("a Source does not copy from itself")
	}
	if s.CopiesFrom(struct{ providers.Source }{s}) || s.CopiesFrom(nil) || s.CopiesFrom((*Source)(nil)) {
		t.Error("CopiesFrom is true for a source that is not an S3 Source")
	}
}

func TestLimits(t *testing.T) {
	for _, c := range []struct {
		threshold, wantCopy, wantBlock int64
	}{
		{0, 5 << 30, 5 << 30},
		{testThreshold, testThreshold, testThreshold},
		{5 << 30, 5 << 30, 5 << 30},
	} {
		s, err := New(t.Context(), Options{Region: "us-east-1", Anonymous: true, CopyObjectThreshold: c.threshold})
		if err != nil {
			t.Fatal(err)
		}
		want := providers.Limits{MaxPutBlobFromURL: c.wantCopy, MaxBlockSize: c.wantBlock, MaxBlocks: 10000, MinBlockSize: 5 << 20, AnyMetadataName: true, AnyBlobName: true}
		if got := s.Limits(); got != want {
			t.Errorf("threshold %d: Limits %+v, want %+v", c.threshold, got, want)
		}
	}
}

// EnsureContainer creates a bucket in the client's region, with a
// LocationConstraint outside us-east-1 (versitygw refuses any other).
func TestEnsureContainerRegion(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-central-1"} {
		t.Run(region, func(t *testing.T) {
			r := newCopyRig(t, testenv.S3Options{Region: region})
			var log reqLog
			s := r.dest(t, Options{Region: region, WrapTransport: log.wrap})
			const bucket = "made-here"
			created, err := s.EnsureContainer(t.Context(), bucket)
			if err != nil || !created {
				t.Fatalf("EnsureContainer = %v, %v; want true, nil", created, err)
			}
			out, err := r.raw.GetBucketLocation(t.Context(), &s3sdk.GetBucketLocationInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			got := string(out.LocationConstraint)
			if got == "" {
				got = "us-east-1"
			}
			if got != region {
				t.Errorf("bucket location %q, want %q", got, region)
			}
			if created, err := s.EnsureContainer(t.Context(), bucket); err != nil || created {
				t.Errorf("second EnsureContainer = %v, %v; want false, nil", created, err)
			}
			var methods []string
			for _, req := range log.take() {
				methods = append(methods, req.Method)
			}
			if want := []string{"HEAD", "PUT", "HEAD"}; !slices.Equal(methods, want) {
				t.Errorf("requests %q, want %q", methods, want)
			}
		})
	}
}

func TestDeleteBlobAndObject(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	s := r.dest(t, Options{})
	bucket, listed := seedCopySources(t, r,
		providertest.SeedObject{Key: "blob", Data: []byte("1")},
		providertest.SeedObject{Key: "moved", Data: []byte("2")},
		providertest.SeedObject{Key: "changed", Data: []byte("3")},
	)
	ctx := t.Context()
	if err := s.DeleteBlob(ctx, bucket, "blob"); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	if err := s.DeleteObject(ctx, bucket, listed["moved"]); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	changed := listed["changed"]
	r.put(t, bucket, providertest.SeedObject{Key: "changed", Data: []byte("replaced")})
	err := s.DeleteObject(ctx, bucket, changed)
	checkErr(t, "DeleteObject of an object changed since listed", err, providers.KindPrecondition, "", 412)
	all, err := providertest.ListAll(ctx, s, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Key != "changed" {
		t.Errorf("left %+v, want only the changed object", all)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"DeleteBlob of a missing blob", s.DeleteBlob(ctx, bucket, "blob")},
		{"DeleteObject of a missing object", s.DeleteObject(ctx, bucket, providers.Object{Key: "moved"})},
		{"DeleteBlob in a missing bucket", s.DeleteBlob(ctx, bucket+"-missing", "blob")},
	} {
		if providers.KindOf(c.err) != providers.KindNotFound {
			t.Errorf("%s: %v, want NotFound", c.name, c.err)
		}
	}
	if err := s.DeleteBlob(canceled(t), bucket, "changed"); providers.KindOf(err) != providers.KindCanceled {
		t.Errorf("DeleteBlob with a canceled ctx: %v, want Canceled", err)
	}
}

func TestEscapeCopySource(t *testing.T) {
	for _, c := range []struct {
		src  providers.CopySource
		want string
	}{
		{providers.CopySource{Bucket: "b", Object: providers.Object{Key: "dir/k.txt"}}, "b/dir/k.txt"},
		{providers.CopySource{Bucket: "b", Object: providers.Object{Key: "a b+c%d?e#f&g=h"}}, "b/a%20b%2Bc%25d%3Fe%23f%26g%3Dh"},
		{providers.CopySource{Bucket: "b", Object: providers.Object{Key: "caf\u00e9~_-", VersionID: "v+1/2"}}, "b/caf%C3%A9~_-?versionId=v%2B1%2F2"},
	} {
		if got := copySource(c.src); got != c.want {
			t.Errorf("copySource(%q) = %q, want %q", c.src.Object.Key, got, c.want)
		}
	}
}

// Part copies canceled while the server still works on them: the server
// may store such a part after the abort and so bring the upload back
// (versitygw does); AbortBlocks watches the upload and aborts it again.
func TestAbortBlocksAfterCanceledParts(t *testing.T) {
	r := newCopyRig(t, testenv.S3Options{})
	var (
		parts  atomic.Int32
		aborts atomic.Int32
		cancel context.CancelFunc
	)
	s := r.dest(t, Options{WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			q := req.URL.Query()
			switch {
			case req.Method == http.MethodPut && q.Has("partNumber") && req.Header.Get("X-Amz-Copy-Source") != "":
				if parts.Add(1) == 4 {
					time.AfterFunc(2*time.Millisecond, cancel) // all four are at the server
				}
			case req.Method == http.MethodDelete && q.Has("uploadId"):
				aborts.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}})
	data := providertest.Data(40*mib, 60)
	srcBucket, listed := seedCopySources(t, r, providertest.SeedObject{Key: "src", Data: data})
	dst := r.newBucket(t, nil)
	ids := blockIDs(4)
	if err := s.BeginBlocks(t.Context(), dst, "k", ids, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	var canceledParts atomic.Int32
	for i := range ids {
		wg.Go(func() {
			err := s.StageBlockFromCopy(ctx, dst, "k", ids[i], providers.CopySource{Bucket: srcBucket, Object: listed["src"]},
				providers.Range{Offset: int64(i) * 10 * mib, Count: 10 * mib})
			if providers.KindOf(err) == providers.KindCanceled {
				canceledParts.Add(1)
			} else if err != nil {
				t.Errorf("part %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	cutShort := s.uploads.isCutShort(s.uploads.get(dst, "k"))
	if err := s.AbortBlocks(t.Context(), dst, "k"); err != nil {
		t.Fatalf("AbortBlocks: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // room for a part later still
	t.Logf("%d of 4 part copies canceled; cut short %v; %d AbortMultipartUpload sent", canceledParts.Load(), cutShort, aborts.Load())
	if canceledParts.Load() > 0 && !cutShort {
		t.Errorf("canceled part copies did not mark the upload cut short")
	}
	if u := r.uploads(t, dst); len(u) != 0 {
		t.Errorf("uploads after AbortBlocks: %q, want none", u)
	}
}
