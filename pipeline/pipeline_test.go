package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

// rig is an in-memory source and destination: the source's presigned URLs
// are served over real HTTP and fetched by the destination.
type rig struct {
	src, dst *memory.Store
}

func newRig(t *testing.T, fault func(op, where string) error) *rig {
	t.Helper()
	src := memory.New(memory.Options{})
	srv := httptest.NewServer(src.Handler())
	t.Cleanup(srv.Close)
	src.SetBaseURL(srv.URL)
	dst := memory.New(memory.Options{Client: srv.Client(), Fault: fault})
	src.CreateBucket("bkt", "us-east-1")
	return &rig{src: src, dst: dst}
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func fastRetry() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
}

func TestCopyMixedObjects(t *testing.T) {
	r := newRig(t, nil)
	props := providers.Properties{
		ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: "attachment",
		ContentLanguage: "de", CacheControl: "max-age=60",
		Metadata: map[string]string{"valid_name": "v", "my-key": "dropped"},
	}
	objs := map[string][]byte{
		"data/empty":       {},
		"data/one":         {1},
		"data/kib":         payload(3000, 1),
		"data/sub/big.bin": payload(10*1024+17, 2), // 11 blocks of 1 KiB
		"data/sub/":        {},                     // folder marker
		"data/bad.":        payload(5, 3),          // Azure cannot name a blob "...bad."
		"other/x":          payload(10, 4),         // outside the prefix
	}
	for k, v := range objs {
		r.src.Put("bkt", k, v, props)
	}
	var results sync.Map
	c, err := New(r.src, r.dst, Options{
		Routes:      []Route{{Bucket: "bkt", Prefix: "data/", Container: "cont", DestPrefix: "moved"}},
		Concurrency: 4, PutBlobMaxSize: 4096, BlockSize: 1024, Retry: fastRetry(),
		OnResult: func(res ObjectResult) { results.Store(res.Key, res) },
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Objects != 6 || sum.Copied != 4 || sum.Skipped != 2 || sum.Failed != 0 || !sum.Routes[0].ContainerCreated {
		t.Fatalf("summary %+v", sum)
	}
	wantBytes := int64(0 + 1 + 3000 + 10*1024 + 17)
	if sum.CopiedBytes != wantBytes {
		t.Errorf("copied bytes %d, want %d", sum.CopiedBytes, wantBytes)
	}
	if sum.SkipReasons["folder marker (key ends in /)"] != 1 || sum.SkipReasons["blob name not allowed by Azure"] != 1 {
		t.Errorf("skip reasons %v", sum.SkipReasons)
	}
	wantMode := map[string]Mode{"data/empty": ModeEmpty, "data/one": ModePutFromURL, "data/kib": ModePutFromURL, "data/sub/big.bin": ModeBlocksFromURL}
	for key, mode := range wantMode {
		data, info, ok := r.dst.Get("cont", "moved/"+strings.TrimPrefix(key, "data/"))
		if !ok {
			t.Errorf("%s did not arrive", key)
			continue
		}
		if !bytes.Equal(data, objs[key]) {
			t.Errorf("%s: content differs (%d bytes, want %d)", key, len(data), len(objs[key]))
		}
		p := info.Properties
		if p.ContentType != props.ContentType || p.ContentEncoding != props.ContentEncoding || p.ContentDisposition != props.ContentDisposition ||
			p.ContentLanguage != props.ContentLanguage || p.CacheControl != props.CacheControl {
			t.Errorf("%s: headers %+v", key, p)
		}
		if len(p.Metadata) != 1 || p.Metadata["valid_name"] != "v" {
			t.Errorf("%s: metadata %v, want only valid_name", key, p.Metadata)
		}
		v, _ := results.Load(key)
		res := v.(ObjectResult)
		if res.Mode != mode || res.Outcome != Copied {
			t.Errorf("%s: %s/%s, want copied/%s", key, res.Outcome, res.Mode, mode)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "my-key") {
			t.Errorf("%s: warnings %q, want one naming my-key", key, res.Warnings)
		}
	}
	if v, _ := results.Load("data/sub/big.bin"); v.(ObjectResult).Blocks != 11 {
		t.Errorf("big object staged %d blocks, want 11", v.(ObjectResult).Blocks)
	}
	if _, _, ok := r.dst.Get("cont", "moved/x"); ok {
		t.Error("an object outside the prefix was copied")
	}
	// Server-side: the pipeline never read object bytes itself.
	if n := r.src.Calls("OpenRange"); n != 0 {
		t.Errorf("pipeline read %d ranges through the client", n)
	}
}

func TestRetriesTransientAndReportsPermanentFailures(t *testing.T) {
	var flaky atomic.Int32
	fault := func(op, where string) error {
		switch {
		case op == "PutBlobFromURL" && strings.HasSuffix(where, "/flaky") && flaky.Add(1) <= 2:
			return &providers.Error{Kind: providers.KindThrottled, Op: op, Where: where, Code: "ServerBusy", Status: 503}
		case op == "PutBlobFromURL" && strings.HasSuffix(where, "/denied"):
			return &providers.Error{Kind: providers.KindSourceUnreachable, Op: op, Where: where, Code: "CannotVerifyCopySource", Msg: "source answered 403 AccessDenied"}
		}
		return nil
	}
	r := newRig(t, fault)
	for i := 0; i < 20; i++ {
		r.src.Put("bkt", fmt.Sprintf("k%02d", i), payload(100, byte(i)), providers.Properties{})
	}
	r.src.Put("bkt", "flaky", payload(50, 9), providers.Properties{})
	r.src.Put("bkt", "denied", payload(50, 9), providers.Properties{})
	var flakyAttempts int
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Concurrency: 3, Retry: fastRetry(), TransferMode: ServerSide,
		OnResult: func(res ObjectResult) {
			if res.Key == "flaky" {
				flakyAttempts = res.Attempts
			}
		}})
	sum, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 21 || sum.Failed != 1 || len(sum.Failures) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	f := sum.Failures[0]
	if f.Key != "denied" || !strings.Contains(f.Reason, "CannotVerifyCopySource") || !strings.Contains(f.Reason, "403") {
		t.Errorf("failure %+v", f)
	}
	if r.dst.Calls("PutBlobFromURL") != 20+3+1 { // 20 plain, flaky 3 times, denied once (not retried)
		t.Errorf("PutBlobFromURL calls = %d, want 24", r.dst.Calls("PutBlobFromURL"))
	}
	if flakyAttempts != 4 { // HEAD + 3 puts
		t.Errorf("flaky object took %d requests, want 4", flakyAttempts)
	}
	if _, _, ok := r.dst.Get("c", "denied"); ok {
		t.Error("the failed object must not exist at the destination")
	}
}

// inflight wraps a destination and records the most requests in flight.
type inflight struct {
	*memory.Store
	cur, max atomic.Int32
}

func (d *inflight) enter() func() {
	n := d.cur.Add(1)
	for {
		m := d.max.Load()
		if n <= m || d.max.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(2 * time.Millisecond)
	return func() { d.cur.Add(-1) }
}

func (d *inflight) StageBlockFromURL(ctx context.Context, c, n string, id providers.BlockID, src providers.SourceURL, r providers.Range) error {
	defer d.enter()()
	return d.Store.StageBlockFromURL(ctx, c, n, id, src, r)
}

func (d *inflight) PutBlobFromURL(ctx context.Context, c, n string, src providers.SourceURL, size int64, p providers.Properties) error {
	defer d.enter()()
	return d.Store.PutBlobFromURL(ctx, c, n, src, size, p)
}

func TestGlobalBoundOnRequestsInFlight(t *testing.T) {
	r := newRig(t, nil)
	for i := 0; i < 6; i++ {
		r.src.Put("bkt", fmt.Sprintf("big%d", i), payload(8*1024, byte(i)), providers.Properties{})
		r.src.Put("bkt", fmt.Sprintf("small%d", i), payload(10, byte(i)), providers.Properties{})
	}
	dst := &inflight{Store: r.dst}
	const bound = 5
	c, _ := New(r.src, dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Concurrency: bound, PutBlobMaxSize: 1024, BlockSize: 1024, Retry: fastRetry()})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 12 {
		t.Fatalf("sum %+v err %v", sum, err)
	}
	if m := dst.max.Load(); m > bound || m < 2 {
		t.Errorf("max requests in flight = %d, want between 2 and %d", m, bound)
	}
	for i := 0; i < 6; i++ {
		got, _, _ := r.dst.Get("c", fmt.Sprintf("big%d", i))
		if !bytes.Equal(got, payload(8*1024, byte(i))) {
			t.Errorf("big%d differs", i)
		}
	}
}

func TestListingPagesAreStreamed(t *testing.T) {
	r := newRig(t, nil)
	for i := 0; i < 25; i++ {
		r.src.Put("bkt", fmt.Sprintf("k%03d", i), payload(1, byte(i)), providers.Properties{})
	}
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Concurrency: 2, PageSize: 4, Retry: fastRetry()})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 25 {
		t.Fatalf("sum %+v err %v", sum, err)
	}
	if n := r.src.Calls("List"); n != 7 {
		t.Errorf("List calls = %d, want 7 pages of at most 4", n)
	}
}

func TestSetupErrors(t *testing.T) {
	r := newRig(t, nil)
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "missing", Container: "c"}}, Retry: fastRetry()})
	_, err := c.Run(context.Background())
	var se *SetupError
	if !errors.As(err, &se) || !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), `"missing"`) {
		t.Fatalf("err = %v, want a SetupError naming the missing bucket", err)
	}
	if _, err := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "b", Container: "c"}}, PutBlobMaxSize: 6000 * MiB}); err == nil {
		t.Error("a put-blob size above the destination's limit must be refused")
	}
	if _, err := New(struct{ providers.Source }{r.src}, r.dst, Options{Routes: []Route{{Bucket: "b", Container: "c"}}}); !errors.Is(err, providers.ErrCantServerSide) {
		t.Errorf("a source that cannot presign: err = %v", err)
	}
}

func TestMetadataPolicyFailsObject(t *testing.T) {
	r := newRig(t, nil)
	r.src.Put("bkt", "bad", payload(3, 1), providers.Properties{Metadata: map[string]string{"my-key": "x"}})
	r.src.Put("bkt", "good", payload(3, 1), providers.Properties{Metadata: map[string]string{"ok": "x"}})
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, MetadataPolicy: metadata.FailIfInvalid, Retry: fastRetry()})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 1 || sum.Failed != 1 || !strings.Contains(sum.Failures[0].Reason, "my-key") {
		t.Fatalf("sum %+v err %v", sum, err)
	}
}

func TestCancelStopsTheRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var puts atomic.Int32
	fault := func(op, where string) error {
		if op == "PutBlobFromURL" && puts.Add(1) == 5 {
			cancel()
		}
		return nil
	}
	r := newRig(t, fault)
	for i := 0; i < 200; i++ {
		r.src.Put("bkt", fmt.Sprintf("k%03d", i), payload(10, byte(i)), providers.Properties{})
	}
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Concurrency: 2, Retry: fastRetry()})
	sum, err := c.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if sum.Copied >= 200 || sum.Failed != 0 {
		t.Errorf("after cancel: %+v; want an incomplete run with no failures", sum)
	}
}
