package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

func TestAutoStreamsWhatAzureCannotFetch(t *testing.T) {
	fault := func(op, where string) error {
		if (op == "PutBlobFromURL" || op == "StageBlockFromURL") && strings.HasPrefix(where, "c/denied") {
			return &providers.Error{Kind: providers.KindSourceUnreachable, Op: op, Where: where, Code: "CannotVerifyCopySource", Msg: "Azure could not read the source: HTTP 403 AccessDenied"}
		}
		return nil
	}
	r := newRig(t, fault)
	r.src.Put("bkt", "ok", payload(100, 1), providers.Properties{})
	r.src.Put("bkt", "denied", payload(100, 2), providers.Properties{ContentType: "text/x"})
	r.src.Put("bkt", "denied-big", payload(5000, 3), providers.Properties{})
	var mu sync.Mutex
	var streamed []ObjectResult
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), PutBlobMaxSize: 1024, BlockSize: 1024,
		OnResult: func(res ObjectResult) {
			mu.Lock()
			defer mu.Unlock()
			if res.Streamed != "" {
				streamed = append(streamed, res)
			}
		}})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 3 || sum.Streamed["Azure could not fetch the source"] != 2 || sum.StreamedBytes != 5100 {
		t.Fatalf("summary %+v err %v", sum, err)
	}
	for _, key := range []string{"ok", "denied", "denied-big"} {
		want, _, _ := r.src.Get("bkt", key)
		if got, _, _ := r.dst.Get("c", key); !bytes.Equal(got, want) {
			t.Errorf("%s differs", key)
		}
	}
	if _, info, _ := r.dst.Get("c", "denied"); info.ContentType != "text/x" {
		t.Errorf("streamed object lost its headers: %+v", info.Properties)
	}
	if len(streamed) != 2 || streamed[0].Mode != ModeStream || !strings.Contains(streamed[0].Streamed, "403") {
		t.Errorf("streamed results %+v", streamed)
	}
	// Server-side only: the same objects fail instead.
	c, _ = New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "d"}}, Retry: fastRetry(), TransferMode: ServerSide})
	if sum, _ = c.Run(context.Background()); sum.Failed != 0 || sum.Copied != 3 {
		// container d: the fault only matches container c
		t.Fatalf("summary %+v", sum)
	}
}

// gauge wraps a destination and records the most block bytes in flight
// (the memory bound is in bytes: a short last block fits beside full ones).
type gauge struct {
	*memory.Store
	cur, max atomic.Int64
}

func (g *gauge) StageBlock(ctx context.Context, c, n string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	v := g.cur.Add(size)
	defer g.cur.Add(-size)
	for m := g.max.Load(); v > m && !g.max.CompareAndSwap(m, v); m = g.max.Load() {
	}
	time.Sleep(2 * time.Millisecond) // let other blocks overlap, as a network would
	return g.Store.StageBlock(ctx, c, n, id, body, size)
}

func TestStreamModeCopiesWithinTheMemoryBound(t *testing.T) {
	r := newRig(t, nil)
	for i := 0; i < 6; i++ {
		r.src.Put("bkt", fmt.Sprintf("obj%d", i), payload(10*1024+i, byte(i)), providers.Properties{Metadata: map[string]string{"i": fmt.Sprint(i)}})
	}
	r.src.Put("bkt", "empty", nil, providers.Properties{})
	dst := &gauge{Store: r.dst}
	const block, memory = 1024, 3 * 1024
	c, err := New(r.src, dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, TransferMode: Stream, Retry: fastRetry(),
		BlockSize: block, StreamMemory: memory, Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 7 || sum.Streamed["--transfer-mode=stream"] != 6 {
		t.Fatalf("summary %+v err %v", sum, err)
	}
	for i := 0; i < 6; i++ {
		want, _, _ := r.src.Get("bkt", fmt.Sprintf("obj%d", i))
		got, info, _ := r.dst.Get("c", fmt.Sprintf("obj%d", i))
		if !bytes.Equal(got, want) || info.Metadata["i"] != fmt.Sprint(i) {
			t.Errorf("obj%d differs", i)
		}
	}
	if m := dst.max.Load(); m > memory || m < 2*block {
		t.Errorf("%d bytes of blocks staged at once, want %d to %d (the memory bound)", m, 2*block, memory)
	}
	if r.dst.Calls("PutBlobFromURL")+r.dst.Calls("StageBlockFromURL") != 0 {
		t.Error("stream mode used server-side requests")
	}
}

func TestBlockLevelResumeAndExistingBlobUntouched(t *testing.T) {
	var stages atomic.Int32
	failAt := int32(5)
	fault := func(op, where string) error {
		if op == "StageBlockFromURL" && stages.Add(1) == failAt {
			return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: "injected"}
		}
		return nil
	}
	r := newRig(t, fault)
	data := payload(8*1024, 7)
	r.src.Put("bkt", "big", data, providers.Properties{})
	// An older version of the blob is already at the destination.
	r.src.Put("old", "big", []byte("old content"), providers.Properties{})
	if _, err := r.dst.EnsureContainer(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	old, err := r.src.PresignGet(context.Background(), "old", providers.Object{Key: "big"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.dst.PutBlobFromURL(context.Background(), "c", "big", old, 11, providers.Properties{}); err != nil {
		t.Fatal(err)
	}
	opts := Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), TransferMode: ServerSide,
		PutBlobMaxSize: 1024, BlockSize: 1024, Concurrency: 1}
	c, _ := New(r.src, r.dst, opts)
	sum, _ := c.Run(context.Background())
	if sum.Failed != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	if got, _, _ := r.dst.Get("c", "big"); string(got) != "old content" {
		t.Fatalf("a failed copy changed the existing blob to %d bytes", len(got))
	}
	before := r.dst.Calls("StageBlockFromURL")
	var res ObjectResult
	opts.OnResult = func(o ObjectResult) { res = o }
	c, _ = New(r.src, r.dst, opts)
	sum, _ = c.Run(context.Background())
	if sum.Copied != 1 {
		t.Fatalf("second run: %+v", sum)
	}
	if got, _, _ := r.dst.Get("c", "big"); !bytes.Equal(got, data) {
		t.Fatal("resumed blob differs")
	}
	if staged := r.dst.Calls("StageBlockFromURL") - before; staged != 4 || res.Resumed != 4 {
		t.Errorf("second run staged %d blocks and found %d staged; want 4 and 4 (of 8)", staged, res.Resumed)
	}
}

func TestSourceChangedMidCopyFailsCleanly(t *testing.T) {
	var r *rig
	var stages atomic.Int32
	fault := func(op, where string) error {
		if op == "StageBlockFromURL" && stages.Add(1) == 2 {
			r.src.Put("bkt", "big", payload(8*1024, 99), providers.Properties{}) // overwritten mid-copy
		}
		return nil
	}
	r = newRig(t, fault)
	r.src.Put("bkt", "big", payload(8*1024, 7), providers.Properties{})
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), TransferMode: ServerSide,
		PutBlobMaxSize: 1024, BlockSize: 1024, Concurrency: 1})
	sum, _ := c.Run(context.Background())
	if sum.Failed != 1 || !strings.Contains(sum.Failures[0].Reason, "precondition") {
		t.Fatalf("summary %+v", sum)
	}
	if _, _, ok := r.dst.Get("c", "big"); ok {
		t.Error("a blob was committed from a source that changed mid-copy")
	}
}

// TestServerSideRetriesAFetchAzureCouldNotComplete: a 5xx
// CannotVerifyCopySource without a source status (Azure's fetch was cut
// off) is tried again server-side before any fallback.
func TestServerSideRetriesAFetchAzureCouldNotComplete(t *testing.T) {
	var n atomic.Int32
	fault := func(op, where string) error {
		if op == "PutBlobFromURL" && n.Add(1) <= 2 {
			return &providers.Error{Kind: providers.KindSourceUnreachable, Op: op, Where: where, Code: "CannotVerifyCopySource", Status: 500}
		}
		return nil
	}
	r := newRig(t, fault)
	r.src.Put("bkt", "k", payload(100, 1), providers.Properties{})
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), TransferMode: ServerSide})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 1 || len(sum.Streamed) != 0 || r.dst.Calls("PutBlobFromURL") != 3 {
		t.Fatalf("summary %+v err %v, %d puts", sum, err, r.dst.Calls("PutBlobFromURL"))
	}
	// A 403 (the source refused) is not tried again.
	n.Store(100)
	fault403 := func(op, where string) error {
		if op == "PutBlobFromURL" {
			return &providers.Error{Kind: providers.KindSourceUnreachable, Op: op, Where: where, Code: "CannotVerifyCopySource", Status: 403}
		}
		return nil
	}
	r2 := newRig(t, fault403)
	r2.src.Put("bkt", "k", payload(100, 1), providers.Properties{})
	c, _ = New(r2.src, r2.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), TransferMode: ServerSide})
	if sum, _ := c.Run(context.Background()); sum.Failed != 1 || r2.dst.Calls("PutBlobFromURL") != 1 {
		t.Fatalf("403: summary %+v, %d puts", sum, r2.dst.Calls("PutBlobFromURL"))
	}
}
