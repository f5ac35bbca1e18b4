package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

// uploadStore is a destination shaped like S3: blocks belong to uploads
// that are begun and aborted, small objects are put in one request,
// copies from the paired source are server-side, and any metadata name is
// held. It records every call.
type uploadStore struct {
	*memory.Store // committed objects, and the block stage
	src           *memory.Store

	mu       sync.Mutex
	calls    []string
	begun    map[string][]providers.BlockID
	beginErr error
	props    map[string]providers.Properties // props given at begin
	copyArgs []*providers.Properties
	failPart int // StageBlock/StageBlockFromCopy of this part number fails (0: none)
}

func newUploadStore(src *memory.Store) *uploadStore {
	return &uploadStore{Store: memory.New(memory.Options{}), src: src, begun: map[string][]providers.BlockID{}, props: map[string]providers.Properties{}}
}

func (u *uploadStore) record(call string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls = append(u.calls, call)
}

func (u *uploadStore) count(prefix string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (u *uploadStore) Limits() providers.Limits {
	return providers.Limits{MaxPutBlobFromURL: 1000, MaxBlockSize: 1000, MaxBlocks: 10000, MinBlockSize: 100, AnyMetadataName: true, AnyBlobName: true}
}

func (u *uploadStore) BeginBlocks(ctx context.Context, c, n string, ids []providers.BlockID, props providers.Properties) error {
	u.record("begin " + n)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.beginErr != nil {
		return u.beginErr
	}
	u.begun[c+"/"+n] = ids
	u.props[c+"/"+n] = props
	return nil
}

func (u *uploadStore) AbortBlocks(ctx context.Context, c, n string) error {
	u.record("abort " + n)
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.begun, c+"/"+n)
	return nil
}

func (u *uploadStore) part(c, n string, id providers.BlockID) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	ids, ok := u.begun[c+"/"+n]
	if !ok {
		return 0, &providers.Error{Kind: providers.KindInvalid, Op: "StageBlock", Where: c + "/" + n, Msg: "no upload begun"}
	}
	i := slices.Index(ids, id) + 1
	if i == u.failPart {
		return i, &providers.Error{Kind: providers.KindInvalid, Op: "StageBlock", Where: c + "/" + n, Msg: fmt.Sprintf("part %d refused", i)}
	}
	return i, nil
}

func (u *uploadStore) StageBlock(ctx context.Context, c, n string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	i, err := u.part(c, n, id)
	u.record(fmt.Sprintf("part %s %d", n, i))
	if err != nil {
		return err
	}
	return u.Store.StageBlock(ctx, c, n, id, body, size)
}

func (u *uploadStore) CommitBlocks(ctx context.Context, c, n string, ids []providers.BlockID, props providers.Properties) error {
	u.record("commit " + n)
	if len(ids) > 0 {
		u.mu.Lock()
		_, ok := u.begun[c+"/"+n]
		props = u.props[c+"/"+n]
		delete(u.begun, c+"/"+n)
		u.mu.Unlock()
		if !ok {
			return errors.New("commit of an upload never begun")
		}
	}
	return u.Store.CommitBlocks(ctx, c, n, ids, props)
}

func (u *uploadStore) PutBlob(ctx context.Context, c, n string, body io.ReadSeeker, size int64, props providers.Properties) error {
	u.record("put " + n)
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(data)) != size {
		return fmt.Errorf("put %s: %d bytes, said %d", n, len(data), size)
	}
	u.Put(c, n, data, props)
	return nil
}

func (u *uploadStore) CopiesFrom(src providers.Source) bool { return src == providers.Source(u.src) }

func (u *uploadStore) CopyObject(ctx context.Context, c, n string, src providers.CopySource, props *providers.Properties) error {
	u.record("copy " + n)
	data, info, ok := u.src.Get(src.Bucket, src.Object.Key)
	if !ok {
		return &providers.Error{Kind: providers.KindNotFound, Op: "CopyObject", Where: src.Object.Key}
	}
	u.mu.Lock()
	u.copyArgs = append(u.copyArgs, props)
	u.mu.Unlock()
	p := info.Properties
	if props != nil {
		p = *props
	}
	u.Put(c, n, data, p)
	return nil
}

func (u *uploadStore) StageBlockFromCopy(ctx context.Context, c, n string, id providers.BlockID, src providers.CopySource, r providers.Range) error {
	i, err := u.part(c, n, id)
	u.record(fmt.Sprintf("partcopy %s %d", n, i))
	if err != nil {
		return err
	}
	data, _, _ := u.src.Get(src.Bucket, src.Object.Key)
	return u.Store.StageBlock(ctx, c, n, id, bytes.NewReader(data[r.Offset:r.Offset+r.Count]), r.Count)
}

// deletingSource is a memory source that can delete (for moves).
type deletingSource struct {
	*memory.Store
	deleted []string
	mu      sync.Mutex
}

func (d *deletingSource) DeleteObject(ctx context.Context, bucket string, obj providers.Object) error {
	d.mu.Lock()
	d.deleted = append(d.deleted, obj.Key)
	d.mu.Unlock()
	d.Delete(bucket, obj.Key)
	return nil
}

func TestUploadsToAnUploadDestination(t *testing.T) {
	props := providers.Properties{ContentType: "text/plain", Metadata: map[string]string{"my-key": "v", "1abc": "w"}}
	tests := []struct {
		name      string
		size      int
		failPart  int
		wantCalls []string // call prefixes, in order of kind
		wantOK    bool
	}{
		{name: "one block is one put", size: 250, wantCalls: []string{"put obj"}, wantOK: true},
		{name: "blocks are an upload", size: 2500, wantCalls: []string{"begin obj", "part obj", "part obj", "part obj", "commit obj"}, wantOK: true},
		{name: "a refused part aborts", size: 2500, failPart: 2, wantCalls: []string{"begin obj", "abort obj"}},
		{name: "empty object", size: 0, wantCalls: []string{"commit obj"}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := memory.New(memory.Options{})
			src.CreateBucket("bkt", "us-east-1")
			data := payload(tt.size, 9)
			src.Put("bkt", "obj", data, props)
			dst := newUploadStore(src)
			dst.failPart = tt.failPart
			c, err := New(src, dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), BlockSize: 1000,
				TransferMode: Stream, Metadata: map[string]string{"MY-KEY": "override"}, ContentType: "text/x-forced"})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ok := sum.Copied == 1 && sum.Failed == 0; ok != tt.wantOK {
				t.Fatalf("copied %d failed %d (%v), want ok=%v", sum.Copied, sum.Failed, sum.Failures, tt.wantOK)
			}
			for _, want := range tt.wantCalls {
				if dst.count(want) == 0 {
					t.Errorf("no %q call in %q", want, dst.calls)
				}
			}
			if tt.size > 1000 && tt.wantOK && dst.count("part obj") != 3 {
				t.Errorf("parts staged: %q", dst.calls)
			}
			if !tt.wantOK {
				if _, _, ok := dst.Get("c", "obj"); ok {
					t.Error("a failed upload left an object")
				}
				if len(dst.begun) != 0 {
					t.Errorf("uploads left open: %v", dst.begun)
				}
				return
			}
			got, info, ok := dst.Get("c", "obj")
			if !ok || !bytes.Equal(got, data) {
				t.Fatalf("destination holds %d bytes, want %d", len(got), len(data))
			}
			if info.ContentType != "text/x-forced" {
				t.Errorf("content type %q", info.ContentType)
			}
			// Any name is held: nothing excluded; --metadata wins over the
			// source's key of another case.
			if want := map[string]string{"MY-KEY": "override", "1abc": "w"}; tt.size > 0 && !mapsEqual(info.Metadata, want) {
				t.Errorf("metadata %v, want %v", info.Metadata, want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInterruptedUploadIsAborted(t *testing.T) {
	src := memory.New(memory.Options{})
	src.CreateBucket("bkt", "us-east-1")
	src.Put("bkt", "big", payload(5000, 1), providers.Properties{})
	dst := newUploadStore(src)
	ctx, cancel := context.WithCancel(context.Background())
	blocked := &blockingStage{uploadStore: dst, started: make(chan struct{}), release: ctx.Done()}
	c, err := New(src, blocked, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), BlockSize: 1000, TransferMode: Stream})
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-blocked.started; cancel() }()
	sum, _ := c.Run(ctx)
	if sum.Interrupted != 1 || dst.count("abort big") != 1 || len(dst.begun) != 0 {
		t.Fatalf("interrupted %d, calls %q, open uploads %v", sum.Interrupted, dst.calls, dst.begun)
	}
}

// blockingStage holds every part until release, after signalling started.
type blockingStage struct {
	*uploadStore
	once    sync.Once
	started chan struct{}
	release <-chan struct{}
}

func (b *blockingStage) StageBlock(ctx context.Context, c, n string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	b.once.Do(func() { close(b.started) })
	select {
	case <-b.release:
		return &providers.Error{Kind: providers.KindCanceled, Err: ctx.Err()}
	case <-ctx.Done():
		return &providers.Error{Kind: providers.KindCanceled, Err: ctx.Err()}
	}
}

func TestCopiesWithinOneService(t *testing.T) {
	src := memory.New(memory.Options{})
	src.CreateBucket("bkt", "us-east-1")
	small, big := payload(700, 1), payload(2600, 2)
	props := providers.Properties{ContentType: "image/png", Metadata: map[string]string{"a": "1"}}
	src.Put("bkt", "small", small, props)
	src.Put("bkt", "big", big, props)
	for _, tt := range []struct {
		name      string
		o         Options
		keepProps bool
	}{
		{name: "source properties kept", keepProps: true},
		{name: "overrides replace them", o: Options{ContentType: "text/x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := newUploadStore(src)
			o := tt.o
			o.Routes, o.Retry, o.BlockSize = []Route{{Bucket: "bkt", Container: "c"}}, fastRetry(), 1000
			c, err := New(src, dst, o)
			if err != nil {
				t.Fatal(err)
			}
			var modes []Mode
			var mu sync.Mutex
			c.o.OnResult = func(r ObjectResult) { mu.Lock(); modes = append(modes, r.Mode); mu.Unlock() }
			sum, err := c.Run(context.Background())
			if err != nil || sum.Copied != 2 {
				t.Fatalf("summary %+v err %v", sum, err)
			}
			slices.Sort(modes)
			if want := []Mode{ModeCopy, ModeCopyParts}; !slices.Equal(modes, want) {
				t.Errorf("modes %v, want %v", modes, want)
			}
			if dst.count("copy small") != 1 || dst.count("partcopy big") != 3 || dst.count("begin big") != 1 || dst.count("commit big") != 1 {
				t.Errorf("calls %q", dst.calls)
			}
			if (dst.copyArgs[0] == nil) != tt.keepProps {
				t.Errorf("CopyObject props %v, want nil=%v", dst.copyArgs[0], tt.keepProps)
			}
			for key, want := range map[string][]byte{"small": small, "big": big} {
				if got, _, _ := dst.Get("c", key); !bytes.Equal(got, want) {
					t.Errorf("%s differs", key)
				}
			}
			if sum.Estimate.S3Get != 0 || sum.Estimate.AzureWrite != 1+(1+3+1)+1 { // copy; begin, parts, complete; the container
				t.Errorf("estimate %+v: a copy within the service fetches nothing", sum.Estimate)
			}
		})
	}
}

func TestMoveDeletesOnlyVerifiedCopies(t *testing.T) {
	for _, tt := range []struct {
		name        string
		shrink      bool // the destination reports the wrong size
		wantDeleted bool
	}{
		{name: "verified copy: source deleted", wantDeleted: true},
		{name: "size differs: source kept", shrink: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &deletingSource{Store: memory.New(memory.Options{})}
			src.CreateBucket("bkt", "us-east-1")
			src.Put("bkt", "obj", payload(500, 3), providers.Properties{})
			dst := &lyingStat{uploadStore: newUploadStore(src.Store), shrink: tt.shrink}
			c, err := New(src, dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), TransferMode: Stream, BlockSize: 1000, DeleteSource: true})
			if err != nil {
				t.Fatal(err)
			}
			var res ObjectResult
			c.o.OnResult = func(r ObjectResult) { res = r }
			sum, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, _, still := src.Get("bkt", "obj")
			if still == tt.wantDeleted || res.SourceDeleted != tt.wantDeleted || (sum.SourcesDeleted == 1) != tt.wantDeleted {
				t.Fatalf("source still there %v, result %+v, summary deleted %d", still, res, sum.SourcesDeleted)
			}
			if !tt.wantDeleted && (sum.Failed != 1 || !strings.Contains(res.Reason, "the source is kept")) {
				t.Errorf("failed %d, reason %q", sum.Failed, res.Reason)
			}
		})
	}
	if _, err := New(memory.New(memory.Options{}), memory.New(memory.Options{}), Options{Routes: []Route{{Bucket: "b", Container: "c"}}, DeleteSource: true}); err == nil {
		t.Error("a move from a source that cannot delete was accepted")
	}
}

// lyingStat reports blobs one byte short when shrink is set.
type lyingStat struct {
	*uploadStore
	shrink bool
}

func (l *lyingStat) StatBlob(ctx context.Context, c, n string) (providers.ObjectInfo, error) {
	info, err := l.uploadStore.StatBlob(ctx, c, n)
	if l.shrink {
		info.Size--
	}
	return info, err
}
