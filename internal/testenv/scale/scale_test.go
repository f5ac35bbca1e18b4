package scale_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/internal/testenv/scale"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/azure"
	"github.com/migrate-tool/migrate/providers/s3"
)

func start(t *testing.T, o scale.Options) (*scale.Fake, *s3.Source, *azure.Destination) {
	t.Helper()
	f, err := scale.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	src, err := s3.New(context.Background(), s3.Options{Region: "us-east-1", Endpoint: f.S3URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "secretfake", "")})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := azure.New(azure.Options{ServiceURL: f.AzureURL,
		Credential: azure.Credential{AccountKey: providers.Secret(base64.StdEncoding.EncodeToString([]byte("fake account key")))}})
	if err != nil {
		t.Fatal(err)
	}
	return f, src, dst
}

// TestListing pages through the fake with the real S3 provider: every key
// once, in order, under a prefix too.
func TestListing(t *testing.T) {
	f, src, _ := start(t, scale.Options{Objects: 2500, Dirs: 10})
	ctx := context.Background()
	for _, prefix := range []string{"", "p0003/", "p0009/o000002"} {
		var keys []string
		token := ""
		for {
			p, err := src.List(ctx, "bench", providers.ListOptions{Prefix: prefix, Token: token, MaxResults: 300})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range p.Objects {
				keys = append(keys, o.Key)
				if o.Size != scale.SmallSize(len(keys)-1+firstIndex(f, prefix)) || len(o.ETag) != 32 {
					t.Fatalf("object %+v", o)
				}
			}
			if p.Next == "" {
				break
			}
			token = p.Next
		}
		want := 0
		for i := range 2500 {
			if strings.HasPrefix(f.Key(i), prefix) {
				if keys[want] != f.Key(i) {
					t.Fatalf("prefix %q: key %d is %q, want %q", prefix, want, keys[want], f.Key(i))
				}
				want++
			}
		}
		if len(keys) != want || want == 0 {
			t.Fatalf("prefix %q: listed %d keys, want %d", prefix, len(keys), want)
		}
	}
	if _, err := src.List(ctx, "nope", providers.ListOptions{}); providers.KindOf(err) != providers.KindNotFound {
		t.Fatalf("missing bucket: %v", err)
	}
}

func firstIndex(f *scale.Fake, prefix string) int {
	for i := range f.Options().Objects {
		if strings.HasPrefix(f.Key(i), prefix) {
			return i
		}
	}
	return -1
}

// TestCopy copies through the fake with the real providers and pipeline
// (the listing tells the S3 provider the bucket's region: no HeadBucket):
// one HEAD and one Put Blob From URL per object, tags only for tagged ones,
// nothing fetched by the client, and the blobs are there afterwards.
func TestCopy(t *testing.T) {
	const n = 300
	f, src, dst := start(t, scale.Options{Objects: n, Dirs: 3, TagEvery: 3, Latency: time.Millisecond})
	c, err := pipeline.New(src, dst, pipeline.Options{Routes: []pipeline.Route{{Bucket: "bench", Container: "c"}},
		TransferMode: pipeline.ServerSide, Concurrency: 16, Tags: true})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != n {
		t.Fatalf("copied %d, err %v, failures %v", sum.Copied, err, sum.Failures)
	}
	s := f.Stats()
	want := map[scale.Op]int64{scale.ListObjects: 1, scale.HeadBucket: 0, scale.HeadObject: n, scale.GetObjectTagging: n / 3,
		scale.CreateContainer: 1, scale.PutBlobFromURL: n, scale.GetObject: 0, scale.PutBlock: 0}
	for op, v := range want {
		if s.Ops[op] != v {
			t.Errorf("%s: %d requests, want %d (%s)", op, s.Ops[op], v, s)
		}
	}
	if s.TagsUntagged != 0 || s.Requests() != 2+2*n+n/3 {
		t.Errorf("stats %s", s)
	}
	var payload int64
	for i := range n {
		payload += scale.SmallSize(i)
	}
	if s.FetchBytes != payload {
		t.Errorf("Azure would fetch %d bytes, want %d", s.FetchBytes, payload)
	}
	if got := f.Written("c"); got != n {
		t.Errorf("%d blobs written", got)
	}
	info, err := dst.StatBlob(context.Background(), "c", f.Key(7))
	if err != nil || info.Size != scale.SmallSize(7) {
		t.Errorf("StatBlob: %+v %v", info, err)
	}
	if _, err := dst.StatBlob(context.Background(), "c", "nope"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("StatBlob of a missing blob: %v", err)
	}
	page, err := dst.ListBlobs(context.Background(), "c", providers.ListOptions{Prefix: "p0001/", MaxResults: 40})
	if err != nil || len(page.Objects) != 40 || page.Objects[0].Key != f.Key(100) || page.Next == "" {
		t.Errorf("ListBlobs: %d blobs, first %v, next %q, err %v", len(page.Objects), page.Objects, page.Next, err)
	}
}

// TestStreamAndBlocks covers the streaming path (ranged GET, Put Block,
// Put Block List) and the block-by-block server-side path.
func TestStreamAndBlocks(t *testing.T) {
	size := func(int) int64 { return 3<<20 + 5 }
	for _, mode := range []pipeline.TransferMode{pipeline.Stream, pipeline.ServerSide} {
		f, src, dst := start(t, scale.Options{Objects: 4, Size: size})
		c, err := pipeline.New(src, dst, pipeline.Options{Routes: []pipeline.Route{{Bucket: "bench", Container: "c"}},
			TransferMode: mode, Concurrency: 8, BlockSize: 1 << 20, PutBlobMaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := c.Run(context.Background())
		if err != nil || sum.Copied != 4 {
			t.Fatalf("%s: copied %d, err %v, failures %v", mode, sum.Copied, err, sum.Failures)
		}
		s := f.Stats()
		if s.Ops[scale.PutBlockList] != 4 || f.Written("c") != 4 {
			t.Errorf("%s: %s", mode, s)
		}
		if mode == pipeline.Stream && (s.Ops[scale.PutBlock] != 16 || s.ReceivedBytes < 4*size(0)) {
			t.Errorf("stream: %s", s)
		}
		if mode == pipeline.ServerSide && (s.Ops[scale.PutBlockFromURL] != 16 || s.FetchBytes != 4*size(0) || s.Ops[scale.GetObject] != 0) {
			t.Errorf("server-side: %s", s)
		}
	}
}
