package journal

import (
	"fmt"
	"sync/atomic"
	"testing"
)

func benchKey(i int) string { return fmt.Sprintf("photos/2026/11/%09d.jpg", i) }

// BenchmarkFinish measures Finish with batching, from parallel workers, on
// entries already recorded as Pending (the pipeline's case), up to the
// final Flush.
func BenchmarkFinish(b *testing.B) {
	j, _ := newJournal(b)
	for p := 0; p < b.N; p += 1000 {
		page := make([]Entry, 0, 1000)
		for i := p; i < min(p+1000, b.N); i++ {
			page = append(page, Entry{Key: benchKey(i), Size: int64(i), ETag: `"0123456789abcdef0123456789abcdef"`})
		}
		if err := j.RecordPage(testRoute, page, "tok"); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			k := benchKey(i)
			j.Finish(testRoute, Entry{Key: k, Size: int64(i), ETag: `"0123456789abcdef0123456789abcdef"`, State: Copied, Blob: k, Attempts: 1})
		}
	})
	if err := j.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	if c, _ := j.Counts(testRoute); c[Copied] != int64(b.N) {
		b.Fatalf("counts %v, want %d copied", c, b.N)
	}
}

// BenchmarkRecordPage measures recording 1,000-entry listing pages, each
// one durable transaction.
func BenchmarkRecordPage(b *testing.B) {
	j, _ := newJournal(b)
	page := make([]Entry, 1000)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := range page {
			page[i] = Entry{Key: benchKey(n*1000 + i), Size: int64(i), ETag: `"0123456789abcdef0123456789abcdef"`}
		}
		if err := j.RecordPage(testRoute, page, fmt.Sprint("tok", n)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "entries/s")
}
