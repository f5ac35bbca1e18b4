package local

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkListFlat lists one folder of n files to the end in pages of
// 1000, with one Source (as a run does). The time per key stays flat as n
// grows tenfold: each page finds its place by binary search in the cached,
// sorted entries instead of reading and sorting the folder again, so a
// listing is O(n log n), not O(n²/page).
func BenchmarkListFlat(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			root := b.TempDir()
			for i := range n {
				if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%07d.dat", i)), nil, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			s := New(Options{})
			var pages int
			start := time.Now()
			for b.Loop() {
				objs, err := listAllErr(b.Context(), s, root, "", 1000)
				if err != nil || len(objs) != n {
					b.Fatalf("listed %d, %v; want %d", len(objs), err, n)
				}
				pages += (n + 999) / 1000
			}
			el := time.Since(start)
			b.ReportMetric(float64(el.Nanoseconds())/float64(b.N*n), "ns/key")
			b.ReportMetric(float64(el.Nanoseconds())/float64(pages), "ns/page")
		})
	}
}
