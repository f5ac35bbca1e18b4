package bench

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers/local"
	"github.com/migrate-tool/migrate/providers/s3"
)

// The AWS CLI blog's local-upload scenarios (issue 9), against the real
// versitygw of the rig: many small files in folders, and a few large files
// that go in parallel parts. The CLI needed 26 processes to reach 362
// files/s on the small-file set; one migrate process is measured here.
var (
	localSmallFiles   = flag.Int("bench.local-small-files", 53_248, "files of BenchmarkLocalUpload/small (the blog's 53,248)")
	localSmallSize    = flag.Int("bench.local-small-size", 32<<10, "bytes of each small file (the blog's 32 KiB)")
	localSmallFolders = flag.Int("bench.local-small-folders", 26, "folders the small files are spread over (the blog's 26)")
	localLargeFiles   = flag.Int("bench.local-large-files", 5, "files of BenchmarkLocalUpload/large (the blog's 5)")
	localLargeSize    = flag.Int64("bench.local-large-size", 2<<30, "bytes of each large file (the blog's 2 GiB)")
	localConcurrency  = flag.Int("bench.local-concurrency", 64, "--concurrency of the uploads")
)

// BenchmarkLocalUpload uploads a folder to versitygw with the real local
// and S3 providers and the pipeline, as 'migrate copy ./dir s3://b' does,
// and reports files/s and MiB/s. The folder is written once per
// sub-benchmark, outside the timer.
func BenchmarkLocalUpload(b *testing.B) {
	srv, err := testenv.StartS3(context.Background(), testenv.S3Options{DataDir: b.TempDir()})
	if err != nil {
		b.Skipf("versitygw: %v (run scripts/test.sh once to install the rig)", err)
	}
	b.Cleanup(func() { srv.Stop() })
	var requests atomic.Int64
	dst, err := s3.New(context.Background(), s3.Options{Region: srv.Region, Endpoint: srv.Endpoint, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return roundTripper(func(r *http.Request) (*http.Response, error) { requests.Add(1); return rt.RoundTrip(r) })
		}})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name    string
		files   int
		size    int64
		folders int
	}{
		{"small", *localSmallFiles, int64(*localSmallSize), *localSmallFolders},
		{"large", *localLargeFiles, *localLargeSize, 1},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			root := b.TempDir()
			writeTree(b, root, tc.files, tc.size, tc.folders)
			for i := 0; i < b.N; i++ {
				bucket := fmt.Sprintf("local-%s-%d-%d", tc.name, time.Now().UnixNano()%1e6, i)
				c, err := pipeline.New(local.New(local.Options{}), dst, pipeline.Options{
					Routes:      []pipeline.Route{{Bucket: root, Container: bucket}},
					Concurrency: *localConcurrency,
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				requests.Store(0)
				start := time.Now()
				sum, err := c.Run(context.Background())
				elapsed := time.Since(start)
				b.StopTimer()
				if err != nil || sum.Copied != int64(tc.files) {
					b.Fatalf("copied %d of %d files (failures %v): %v", sum.Copied, tc.files, sum.Failures, err)
				}
				b.ReportMetric(float64(tc.files)/elapsed.Seconds(), "files/s")
				b.ReportMetric(float64(sum.CopiedBytes)/(1<<20)/elapsed.Seconds(), "MiB/s")
				b.ReportMetric(float64(requests.Load())/float64(tc.files), "requests/file")
			}
		})
	}
}

// writeTree writes n files of size random bytes spread over folders
// folders (nested two deep, as a real tree is).
func writeTree(tb testing.TB, root string, n int, size int64, folders int) {
	tb.Helper()
	buf := make([]byte, min(size, 8<<20))
	if _, err := rand.Read(buf); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("folder-%02d", i%folders), fmt.Sprintf("sub-%d", i%3))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("file-%06d.bin", i)))
		if err != nil {
			tb.Fatal(err)
		}
		buf[0] = byte(i) // files differ
		for left := size; left > 0; left -= int64(len(buf)) {
			if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				tb.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
	}
}
