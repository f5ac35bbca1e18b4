package pipeline

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// synthSource presents objects of a given size whose bytes are made on the
// fly: no payload is stored, so the heap holds only what the pipeline holds.
type synthSource struct {
	n    int
	size int64
}

func (s synthSource) List(_ context.Context, _ string, o providers.ListOptions) (providers.Page, error) {
	start := 0
	if o.Token != "" {
		start, _ = strconv.Atoi(o.Token)
	}
	var p providers.Page
	for i := start; i < s.n && i < start+1000; i++ {
		p.Objects = append(p.Objects, providers.Object{Key: fmt.Sprintf("obj-%08d", i), Size: s.size, ETag: "e"})
	}
	if start+1000 < s.n {
		p.Next = strconv.Itoa(start + 1000)
	}
	return p, nil
}

func (s synthSource) Stat(_ context.Context, _, key string) (providers.ObjectInfo, error) {
	return providers.ObjectInfo{Object: providers.Object{Key: key, Size: s.size, ETag: "e"}}, nil
}

func (s synthSource) OpenRange(_ context.Context, _ string, _ providers.Object, r providers.Range) (io.ReadCloser, error) {
	return io.NopCloser(io.LimitReader(zeros{}, r.Count)), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// discardDest accepts blocks and throws their bytes away.
type discardDest struct{ staged atomic.Int64 }

func (*discardDest) EnsureContainer(context.Context, string) (bool, error) { return true, nil }
func (*discardDest) StatBlob(context.Context, string, string) (providers.ObjectInfo, error) {
	return providers.ObjectInfo{}, providers.ErrNotFound
}
func (*discardDest) ListBlobs(context.Context, string, providers.ListOptions) (providers.Page, error) {
	return providers.Page{}, nil
}
func (d *discardDest) StageBlock(_ context.Context, _, _ string, _ providers.BlockID, body io.ReadSeeker, size int64) error {
	time.Sleep(time.Millisecond) // an upload takes time: buffers pile up if unbounded
	n, err := io.Copy(io.Discard, io.LimitReader(body, size))
	d.staged.Add(n)
	return err
}
func (*discardDest) CommitBlocks(context.Context, string, string, []providers.BlockID, providers.Properties) error {
	return nil
}

// BenchmarkStreamMemory streams objects through the pipeline with more
// concurrency than the memory bound allows and reports the peak heap in use
// against the bound (--stream-memory).
func BenchmarkStreamMemory(b *testing.B) {
	const blockSize, bound = 4 * MiB, 64 * MiB
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			src := synthSource{n: 64, size: 32 * MiB} // 2 GiB per run
			var peak atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { // sample the heap while the copy runs
				defer close(done)
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}()
			var bytes int64
			for range b.N {
				b.StopTimer()
				runtime.GC() // the previous iteration's buffers are garbage now
				b.StartTimer()
				dst := &discardDest{}
				c, err := New(src, dst, Options{Routes: []Route{{Bucket: "b", Container: "c"}}, TransferMode: Stream,
					BlockSize: blockSize, StreamMemory: bound, Concurrency: conc, Retry: fastRetry()})
				if err != nil {
					b.Fatal(err)
				}
				sum, err := c.Run(context.Background())
				if err != nil || sum.Copied != int64(src.n) {
					b.Fatalf("sum %+v err %v", sum, err)
				}
				bytes += dst.staged.Load()
			}
			close(stop)
			<-done
			b.SetBytes(int64(src.n) * src.size)
			b.ReportMetric(float64(peak.Load())/float64(MiB), "peak-heap-MiB")
			b.ReportMetric(float64(bound)/float64(MiB), "bound-MiB")
			if bytes != int64(b.N)*int64(src.n)*src.size {
				b.Fatalf("staged %d bytes", bytes)
			}
		})
	}
}
