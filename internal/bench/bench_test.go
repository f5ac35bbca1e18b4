package bench

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/internal/testenv/scale"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/azure"
	"github.com/migrate-tool/migrate/providers/s3"
)

// Sizes of the runs; scripts/bench.sh passes the figures, smaller
// values make quick runs while developing.
var (
	ceilingObjects    = flag.Int("bench.ceiling-objects", 100_000, "objects copied by BenchmarkCeiling")
	memoryObjects     = flag.String("bench.memory-objects", "100000,1000000", "comma-separated object counts of BenchmarkMemory")
	memoryConcurrency = flag.Int("bench.memory-concurrency", 64, "concurrency of BenchmarkMemory (64 is the tool's default)")
	memoryJournal     = flag.Bool("bench.memory-journal", false, "BenchmarkMemory also runs with a job journal")
	listKeys          = flag.Int("bench.list-keys", 200_000, "keys listed by BenchmarkList")
	listParallelism   = flag.Int("bench.list-parallelism", 0, "ListParallelism of BenchmarkList's parallel listing (0 = the pipeline's default)")
	smallObjects      = flag.Int("bench.small-objects", 20_000, "objects of BenchmarkBytesThroughClient and BenchmarkRequestsPerObject")
)

// accountKey is any valid base64 key: the fake checks no signature.
var accountKey = providers.Secret(base64.StdEncoding.EncodeToString([]byte("scale fake account key, not a secret")))

// startFake starts a fake for the benchmark and stops it at its end.
func startFake(tb testing.TB, o scale.Options) *scale.Fake {
	tb.Helper()
	f, err := scale.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// clients builds the real providers against the fake: static S3
// credentials, an account key for Azure, each transport wrapped by wrap
// when it is set.
func clients(tb testing.TB, s3URL, azureURL string, wrapS3, wrapAzure func(http.RoundTripper) http.RoundTripper) (*s3.Source, *azure.Destination) {
	tb.Helper()
	src, err := s3.New(context.Background(), s3.Options{Region: "us-east-1", Endpoint: s3URL, WrapTransport: wrapS3,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSCALEFAKE", "scale-fake-secret", "")})
	if err != nil {
		tb.Fatal(err)
	}
	dst, err := azure.New(azure.Options{ServiceURL: azureURL, Credential: azure.Credential{AccountKey: accountKey}, WrapTransport: wrapAzure})
	if err != nil {
		tb.Fatal(err)
	}
	return src, dst
}

// copyAll copies bucket "bench" into container with the pipeline,
// server-side, and checks that every object was copied.
func copyAll(tb testing.TB, src providers.Source, dst providers.Destination, container string, o pipeline.Options) pipeline.Summary {
	tb.Helper()
	o.Routes = []pipeline.Route{{Bucket: "bench", Container: container}}
	o.TransferMode = pipeline.ServerSide
	c, err := pipeline.New(src, dst, o)
	if err != nil {
		tb.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || !sum.OK() || sum.Copied != sum.Objects {
		tb.Fatalf("copied %d of %d, err %v, failures %v", sum.Copied, sum.Objects, err, sum.Failures)
	}
	return sum
}

// BenchmarkCeiling is figure 1: objects per second copying small objects
// server-side, without latency and with 50 ms per request.
func BenchmarkCeiling(b *testing.B) {
	for _, c := range []struct {
		latency     time.Duration
		concurrency int
	}{{0, 64}, {50 * time.Millisecond, 512}} {
		b.Run(fmt.Sprintf("latency=%dms/concurrency=%d", c.latency.Milliseconds(), c.concurrency), func(b *testing.B) {
			f := startFake(b, scale.Options{Objects: *ceilingObjects, Latency: c.latency})
			src, dst := clients(b, f.S3URL, f.AzureURL, nil, nil)
			var objects, requests int64
			var elapsed time.Duration
			for i := range b.N {
				before := f.Stats()
				start := time.Now()
				sum := copyAll(b, src, dst, fmt.Sprintf("c%d", i), pipeline.Options{Concurrency: c.concurrency})
				elapsed += time.Since(start)
				objects += sum.Copied
				requests += f.Stats().Sub(before).Requests()
			}
			b.ReportMetric(float64(objects)/elapsed.Seconds(), "objects/s")
			b.ReportMetric(float64(requests)/float64(objects), "requests/object")
		})
	}
}

// BenchmarkList is figure 3: keys per second enumerating a bucket at 50 ms
// per request, through the real wiring: a pipeline.Copier (a dry run)
// over the real S3 provider, with one ListObjectsV2 stream
// (ListParallelism 1) and with the default parallel listing (or
// -bench.list-parallelism). A filter leaves every object out, so the run
// is the listing alone (every page still goes through the filter and is
// counted) and no per-object request hides its speed.
func BenchmarkList(b *testing.B) {
	f := startFake(b, scale.Options{Objects: *listKeys, Dirs: 100, Latency: 50 * time.Millisecond})
	src, dst := clients(b, f.S3URL, f.AzureURL, nil, nil)
	for _, par := range []int{1, *listParallelism} {
		name := fmt.Sprintf("streams=%d", par)
		if par == 0 {
			name = fmt.Sprintf("streams=default-%d", pipeline.DefaultListParallelism)
		}
		b.Run(name, func(b *testing.B) {
			var keys, requests int64
			var elapsed time.Duration
			for range b.N {
				c, err := pipeline.New(src, dst, pipeline.Options{Routes: []pipeline.Route{{Bucket: "bench", Container: "unused"}},
					DryRun: true, ListParallelism: par, Filter: pipeline.Filter{MinSize: 1 << 62}})
				if err != nil {
					b.Fatal(err)
				}
				before := f.Stats()
				start := time.Now()
				sum, err := c.Run(context.Background())
				elapsed += time.Since(start)
				if err != nil || !sum.OK() {
					b.Fatalf("listing: %v, %+v", err, sum)
				}
				keys += sum.Filtered["smaller than --min-size"]
				requests += f.Stats().Sub(before).Ops[scale.ListObjects]
			}
			if keys != int64(b.N)*int64(*listKeys) {
				b.Fatalf("listed %d keys, want %d", keys, b.N**listKeys)
			}
			rate := float64(keys) / elapsed.Seconds()
			b.ReportMetric(rate, "keys/s")
			b.ReportMetric(1e6/rate, "s/1M-keys")
			b.ReportMetric(float64(requests)/float64(b.N), "list-requests")
			b.ReportMetric(float64(requests)/float64(b.N)-float64((*listKeys+999)/1000), "extra-list-requests")
		})
	}
}

// counting wraps a provider's transport and counts the body bytes of every
// request and response, and separately those that are object payload
// (GetObject answers, Put Block bodies).
type counting struct {
	body, payload atomic.Int64
}

func (c *counting) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		q := r.URL.Query()
		payload := (r.Method == http.MethodGet && !q.Has("list-type") && !q.Has("tagging") && !q.Has("comp") &&
			strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 && r.Header.Get("x-ms-version") == "") ||
			(r.Method == http.MethodPut && q.Get("comp") == "block" && r.Header.Get("x-ms-copy-source") == "")
		if r.ContentLength > 0 {
			c.body.Add(r.ContentLength)
			if payload {
				c.payload.Add(r.ContentLength)
			}
		}
		resp, err := rt.RoundTrip(r)
		if resp != nil && resp.Body != nil {
			resp.Body = &countingBody{ReadCloser: resp.Body, c: c, payload: payload}
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type countingBody struct {
	io.ReadCloser
	c       *counting
	payload bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.c.body.Add(int64(n))
	if b.payload {
		b.c.payload.Add(int64(n))
	}
	return n, err
}

// BenchmarkBytesThroughClient is figure 4: in server-side mode, the body
// bytes that cross the client (listings, tags, block lists, errors) and
// the payload among them, against the payload Azure fetches itself.
func BenchmarkBytesThroughClient(b *testing.B) {
	for _, c := range []struct {
		name string
		size func(int) int64
	}{{"small-1-64KiB", scale.SmallSize}, {"1MiB", func(int) int64 { return 1 << 20 }}} {
		b.Run("sizes="+c.name, func(b *testing.B) {
			f := startFake(b, scale.Options{Objects: *smallObjects, Size: c.size, TagEvery: 10})
			var cs, ca counting
			src, dst := clients(b, f.S3URL, f.AzureURL, cs.wrap, ca.wrap)
			var fetched int64
			for i := range b.N {
				before := f.Stats()
				copyAll(b, src, dst, fmt.Sprintf("c%d", i), pipeline.Options{Concurrency: 128, Tags: true})
				fetched += f.Stats().Sub(before).FetchBytes
			}
			body, payload := cs.body.Load()+ca.body.Load(), cs.payload.Load()+ca.payload.Load()
			objects := float64(b.N * *smallObjects)
			b.ReportMetric(100*float64(body)/float64(fetched), "body-%-of-payload")
			b.ReportMetric(100*float64(payload)/float64(fetched), "payload-%-through-client")
			b.ReportMetric(float64(body)/objects, "body-B/object")
			b.ReportMetric(float64(fetched)/objects, "payload-B/object")
		})
	}
}

// BenchmarkRequestsPerObject is figure 5: the requests each small object
// costs, from the fake's counters, with tags carried over and without;
// one object in TagEvery has tags.
func BenchmarkRequestsPerObject(b *testing.B) {
	const tagEvery = 4
	for _, tags := range []bool{false, true} {
		b.Run(fmt.Sprintf("tags=%t", tags), func(b *testing.B) {
			n := *smallObjects
			f := startFake(b, scale.Options{Objects: n, TagEvery: tagEvery})
			src, dst := clients(b, f.S3URL, f.AzureURL, nil, nil)
			var s scale.Stats
			for i := range b.N {
				before := f.Stats()
				copyAll(b, src, dst, fmt.Sprintf("c%d", i), pipeline.Options{Concurrency: 128, Tags: tags})
				d := f.Stats().Sub(before)
				for k := range s.Ops {
					s.Ops[k] += d.Ops[k]
				}
				s.TagsTagged += d.TagsTagged
				s.TagsUntagged += d.TagsUntagged
			}
			objects := float64(b.N * n)
			tagged := float64(b.N * ((n + tagEvery - 1) / tagEvery))
			b.ReportMetric(float64(s.Ops[scale.ListObjects])/objects, "list/object")
			b.ReportMetric(float64(s.Ops[scale.HeadObject])/objects, "head/object")
			b.ReportMetric(float64(s.TagsTagged)/tagged, "tags/tagged-object")
			b.ReportMetric(float64(s.TagsUntagged)/(objects-tagged), "tags/untagged-object")
			b.ReportMetric(float64(s.Ops[scale.PutBlobFromURL])/objects, "put-from-url/object")
			b.ReportMetric(float64(s.Ops[scale.HeadBucket]+s.Ops[scale.CreateContainer])/float64(b.N), "setup-requests/run")
			b.ReportMetric(float64(s.Requests())/objects, "requests/object")
		})
	}
}
