package pipeline

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/memory"
)

// verifyRig is a bucket copied by the pipeline into a container, ready to
// be verified and tampered with.
type verifyRig struct {
	src, dst *memory.Store
	route    Route
	copyOpts Options
}

// md5Props are props with the Content-MD5 of data, as the S3 provider's
// Stat reports for an object whose ETag is its MD5.
func md5Props(data []byte, p providers.Properties) providers.Properties {
	sum := md5.Sum(data)
	p.ContentMD5 = sum[:]
	return p
}

func newVerifyRig(t *testing.T, objs map[string][]byte, props providers.Properties, o Options) *verifyRig {
	t.Helper()
	src := memory.New(memory.Options{})
	srv := httptest.NewServer(src.Handler())
	t.Cleanup(srv.Close)
	src.SetBaseURL(srv.URL)
	dst := memory.New(memory.Options{Client: srv.Client()})
	src.CreateBucket("bkt", "")
	for k, v := range objs {
		src.Put("bkt", k, v, md5Props(v, props))
	}
	v := &verifyRig{src: src, dst: dst, route: Route{Bucket: "bkt", Prefix: "data/", Container: "cont", DestPrefix: "moved/here"}}
	o.Routes = []Route{v.route}
	o.Retry = fastRetry()
	o.Concurrency = 4
	v.copyOpts = o
	c, err := New(src, dst, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background())
	if err != nil || !sum.OK() {
		t.Fatalf("copy: %v %+v", err, sum)
	}
	return v
}

func (v *verifyRig) verify(t *testing.T, o VerifyOptions) VerifyReport {
	t.Helper()
	o.Names = NameOptions{RenameInvalidKeys: v.copyOpts.RenameInvalidKeys, KeepFolderMarkers: v.copyOpts.KeepFolderMarkers}
	if o.Retry.MaxAttempts == 0 {
		o.Retry = fastRetry()
	}
	rep, err := Verify(context.Background(), v.src, v.dst, []Route{v.route}, o)
	if err != nil {
		t.Fatal(err)
	}
	var sum VerifyCounts
	for _, r := range rep.Routes {
		sum.add(r.VerifyCounts)
	}
	if sum != rep.VerifyCounts {
		t.Errorf("totals %+v are not the sum of the routes %+v", rep.VerifyCounts, sum)
	}
	return rep
}

// kinds is the listed differences as "kind key-or-blob" lines.
func kinds(rep VerifyReport) []string {
	var out []string
	for _, d := range rep.Differences {
		out = append(out, string(d.Kind)+" "+d.Blob)
	}
	return out
}

func standardObjects() map[string][]byte {
	return map[string][]byte{
		"data/a.txt":       payload(100, 1),
		"data/b.txt":       payload(200, 2),
		"data/c/d.bin":     payload(5000, 3),
		"data/c/":          {}, // a folder marker: skipped by copy and verify
		"data/empty":       {},
		"data/size.bin":    payload(300, 4),
		"data/deep.bin":    payload(400, 5),
		"data/bad.":        payload(10, 6), // a name Azure refuses: skipped
		"other/outside":    payload(10, 7),
		"data/sub/x/y/z.z": payload(64, 8),
	}
}

func TestVerifyCleanCopy(t *testing.T) {
	v := newVerifyRig(t, standardObjects(), providers.Properties{ContentType: "text/plain"}, Options{PageSize: 2})
	for _, o := range []VerifyOptions{{}, {PageSize: 1}, {Deep: true}, {Metadata: true}, {Deep: true, Metadata: true, PageSize: 3}} {
		rep := v.verify(t, o)
		if !rep.OK() || len(rep.Differences) != 0 {
			t.Errorf("%+v: differences %q, counts %+v", o, kinds(rep), rep.VerifyCounts)
		}
		c := rep.VerifyCounts
		if c.SourceObjects != 7 || c.DestinationBlobs != 7 || c.Matched != 7 || c.Skipped != 2 || c.ContentVerified != 7 || c.SizeOnly != 0 {
			t.Errorf("%+v: counts %+v", o, c)
		}
		if c.DeepHashed != 0 {
			t.Errorf("%+v: %d objects read although every MD5 was known", o, c.DeepHashed)
		}
	}
}

func TestVerifyFindsDifferences(t *testing.T) {
	objs := standardObjects()
	v := newVerifyRig(t, objs, providers.Properties{}, Options{})
	// Missing: a.txt. Hash: b.txt rewritten with other bytes of its size
	// (and their MD5, as Azure computes on upload). Size: size.bin. Deep
	// only: deep.bin rewritten without an MD5. Extra: extra.bin, outside
	// the source prefix in the same destination prefix.
	v.dst.Delete("cont", "moved/here/a.txt")
	other := payload(200, 99)
	v.dst.Put("cont", "moved/here/b.txt", other, md5Props(other, providers.Properties{}))
	v.dst.Put("cont", "moved/here/size.bin", payload(301, 4), providers.Properties{})
	v.dst.Put("cont", "moved/here/deep.bin", payload(400, 55), providers.Properties{})
	v.dst.Put("cont", "moved/here/extra.bin", payload(5, 1), providers.Properties{})
	v.dst.Put("cont", "not/under/the/prefix", payload(5, 1), providers.Properties{})

	var streamed []Difference
	var mu sync.Mutex
	rep := v.verify(t, VerifyOptions{PageSize: 2, OnDifference: func(d Difference) {
		mu.Lock()
		streamed = append(streamed, d)
		mu.Unlock()
	}})
	want := []string{"missing moved/here/a.txt", "extra moved/here/extra.bin", "size moved/here/size.bin", "hash moved/here/b.txt"}
	if got := kinds(rep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("differences %q, want %q", got, want)
	}
	c := rep.VerifyCounts
	if c.Missing != 1 || c.Extra != 1 || c.SizeMismatch != 1 || c.HashMismatch != 1 || c.SizeOnly != 1 || c.Matched != 4 || rep.OK() || !rep.Complete() {
		t.Errorf("counts %+v", c)
	}
	if len(streamed) != 4 {
		t.Errorf("OnDifference saw %d differences, want 4", len(streamed))
	}
	for _, d := range rep.Differences {
		if d.Bucket != "bkt" || d.Container != "cont" || d.Detail == "" {
			t.Errorf("difference %+v lacks where or what", d)
		}
		switch d.Kind {
		case DiffMissing:
			if d.Key != "data/a.txt" || d.SrcSize != 100 || d.DstSize != -1 {
				t.Errorf("missing %+v", d)
			}
		case DiffExtra:
			if d.Key != "" || d.SrcSize != -1 || d.DstSize != 5 {
				t.Errorf("extra %+v", d)
			}
		case DiffHash:
			if !strings.Contains(d.Detail, "MD5") {
				t.Errorf("hash detail %q", d.Detail)
			}
		}
	}

	// Deep reads what has no MD5 on both sides, and only that.
	reads := v.src.Calls("OpenRange") + v.dst.Calls("OpenRange")
	rep = v.verify(t, VerifyOptions{Deep: true})
	if got := rep.VerifyCounts; got.HashMismatch != 2 || got.SizeOnly != 0 || got.DeepHashed != 0 {
		t.Errorf("deep: counts %+v", got)
	}
	if n := v.src.Calls("OpenRange") + v.dst.Calls("OpenRange") - reads; n != 2 {
		t.Errorf("deep verify made %d reads, want 2 (deep.bin on both sides)", n)
	}
	found := false
	for _, d := range rep.Differences {
		if d.Kind == DiffHash && d.Blob == "moved/here/deep.bin" && strings.Contains(d.Detail, "SHA-256") {
			found = true
		}
	}
	if !found {
		t.Errorf("deep verify does not report deep.bin: %q", kinds(rep))
	}

	// A deep read of identical bytes without MD5s counts as verified.
	v.dst.Put("cont", "moved/here/deep.bin", objs["data/deep.bin"], providers.Properties{})
	rep = v.verify(t, VerifyOptions{Deep: true})
	if got := rep.VerifyCounts; got.HashMismatch != 1 || got.DeepHashed != 1 {
		t.Errorf("deep after repair: counts %+v", got)
	}
}

// TestVerifyETagThatIsNotAnMD5: an object whose ETag looks like an MD5 but
// whose Stat knows no Content-MD5 (SSE-KMS) is not reported as a hash
// difference from the ETag; it counts as compared by size only, and Deep
// settles it.
func TestVerifyETagThatIsNotAnMD5(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	data := payload(50, 1)
	src.Put("bkt", "kms", data, providers.Properties{}) // ETag = hex MD5, Stat: no ContentMD5
	dst.Put("cont", "kms", data, md5Props(payload(50, 9), providers.Properties{}))
	r := []Route{{Bucket: "bkt", Container: "cont"}}
	rep, err := Verify(context.Background(), src, dst, r, VerifyOptions{Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.SizeOnly != 1 || src.Calls("Stat") != 1 {
		t.Errorf("counts %+v, %d Stats; differences %q", rep.VerifyCounts, src.Calls("Stat"), kinds(rep))
	}
	rep, err = Verify(context.Background(), src, dst, r, VerifyOptions{Retry: fastRetry(), Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.DeepHashed != 1 {
		t.Errorf("deep: counts %+v; differences %q", rep.VerifyCounts, kinds(rep))
	}
}

func TestVerifyMetadata(t *testing.T) {
	props := providers.Properties{
		ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: "attachment",
		ContentLanguage: "de", CacheControl: "max-age=60",
		Metadata: map[string]string{"valid_name": "v", "my-key": "dropped"},
	}
	objs := map[string][]byte{"data/a": payload(10, 1), "data/b": payload(20, 2), "data/c": payload(30, 3)}
	v := newVerifyRig(t, objs, props, Options{PreserveSourceInfo: true})
	o := VerifyOptions{Metadata: true, PreserveSourceInfo: true}
	if rep := v.verify(t, o); !rep.OK() {
		t.Fatalf("clean copy: %q %+v", kinds(rep), rep.Differences)
	}
	// Without the copy's option the source info is unexpected.
	rep := v.verify(t, VerifyOptions{Metadata: true})
	if rep.MetadataMismatch != 3 || !strings.Contains(rep.Differences[0].Detail, "s3_etag: source none") {
		t.Errorf("without --preserve-source-info: %+v", rep.Differences)
	}
	// Under another policy the expected metadata differs.
	rep = v.verify(t, VerifyOptions{Metadata: true, PreserveSourceInfo: true, Policy: metadata.RenameIfInvalid})
	if rep.MetadataMismatch != 3 || !strings.Contains(rep.Differences[0].Detail, "rename_my_key") {
		t.Errorf("under RenameIfInvalid: %+v", rep.Differences)
	}

	// Tamper: a header of b, a metadata value of c.
	data, info, _ := v.dst.Get("cont", "moved/here/b")
	info.ContentLanguage = "fr"
	v.dst.Put("cont", "moved/here/b", data, info.Properties)
	data, info, _ = v.dst.Get("cont", "moved/here/c")
	info.Metadata["valid_name"] = "changed"
	info.Metadata["added"] = "x"
	v.dst.Put("cont", "moved/here/c", data, info.Properties)
	rep = v.verify(t, o)
	got := map[string]string{}
	for _, d := range rep.Differences {
		got[d.Blob] = d.Detail
	}
	if rep.MetadataMismatch != 2 || rep.Matched != 1 || rep.ContentVerified != 3 ||
		got["moved/here/b"] != `content-language: source "de", destination "fr"` ||
		got["moved/here/c"] != `metadata valid_name: source "v", destination "changed"; metadata added: source none, destination "x"` {
		t.Errorf("counts %+v, details %q", rep.VerifyCounts, got)
	}
	// Without Metadata nothing is statted and nothing differs.
	stats := v.src.Calls("Stat") + v.dst.Calls("StatBlob")
	if rep := v.verify(t, VerifyOptions{}); !rep.OK() || v.src.Calls("Stat")+v.dst.Calls("StatBlob") != stats {
		t.Errorf("content-only verify: %q, %d stats", kinds(rep), v.src.Calls("Stat")+v.dst.Calls("StatBlob")-stats)
	}
}

func TestVerifyRenamedKeys(t *testing.T) {
	objs := map[string][]byte{"data/a\\b": payload(10, 1), "data/c.": payload(20, 2), "data/plain": payload(30, 3), "data/\x01": payload(40, 4)}
	v := newVerifyRig(t, objs, providers.Properties{}, Options{RenameInvalidKeys: true})
	if rep := v.verify(t, VerifyOptions{PageSize: 1}); !rep.OK() || rep.Matched != 4 {
		t.Fatalf("clean renamed copy: %q %+v", kinds(rep), rep.VerifyCounts)
	}
	v.dst.Delete("cont", "moved/here/c．")
	rep := v.verify(t, VerifyOptions{PageSize: 1})
	if got := kinds(rep); fmt.Sprint(got) != "[missing moved/here/c．]" {
		t.Errorf("differences %q", got)
	}
	// Verified without the copy's naming option, the names do not meet.
	rep, err := Verify(context.Background(), v.src, v.dst, []Route{v.route}, VerifyOptions{Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Extra != 2 || rep.Skipped != 3 {
		t.Errorf("without RenameInvalidKeys: counts %+v", rep.VerifyCounts)
	}
}

func TestVerifyListsAtMostMaxListed(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	for i := range 30 {
		src.Put("bkt", fmt.Sprintf("k%02d", i), []byte("x"), providers.Properties{})
	}
	dst.CreateBucket("cont", "")
	n := 0
	rep, err := Verify(context.Background(), src, dst, []Route{{Bucket: "bkt", Container: "cont"}},
		VerifyOptions{MaxListed: 5, OnDifference: func(Difference) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Missing != 30 || len(rep.Differences) != 5 || rep.Unlisted[DiffMissing] != 25 || n != 30 {
		t.Errorf("missing %d, listed %d, unlisted %v, reported %d", rep.Missing, len(rep.Differences), rep.Unlisted, n)
	}
	if rep.Routes[0].ContainerMissing {
		t.Error("the container exists")
	}
	rep, err = Verify(context.Background(), src, dst, []Route{{Bucket: "bkt", Container: "gone"}}, VerifyOptions{MaxListed: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Routes[0].ContainerMissing || rep.Missing != 30 || len(rep.Differences) != 0 {
		t.Errorf("missing container: %+v", rep.Routes[0])
	}
}

// onlySource hides every capability of a source but the required ones.
type onlySource struct{ providers.Source }

func TestVerifyErrors(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	src.Put("bkt", "a", []byte("a"), providers.Properties{})
	if _, err := Verify(context.Background(), onlySource{src}, dst, []Route{{Bucket: "bkt", Container: "c"}}, VerifyOptions{Deep: true}); err == nil {
		t.Error("deep verify of a source that cannot read ranges: no error")
	}
	// The only route cannot start: a *SetupError.
	_, err := Verify(context.Background(), src, dst, []Route{{Bucket: "nope", Container: "c"}}, VerifyOptions{Retry: fastRetry()})
	var se *SetupError
	if !errors.As(err, &se) {
		t.Errorf("missing bucket: %v, want a *SetupError", err)
	}
	// Among several, a failing route is recorded and the others go on.
	rep, err := Verify(context.Background(), src, dst, []Route{
		{Bucket: "nope", Container: "c"}, {Bucket: "bkt", Container: "c"}, {Bucket: "x", Err: errors.New("cannot map")},
	}, VerifyOptions{Retry: fastRetry()})
	if err != nil || rep.FailedRoutes != 2 || rep.Missing != 1 || rep.Complete() || rep.OK() {
		t.Errorf("err %v, report %+v", err, rep)
	}
	// An object whose checks fail is unchecked, and the verify incomplete.
	flaky := memory.New(memory.Options{Fault: func(op, _ string) error {
		if op == "OpenRange" {
			return &providers.Error{Kind: providers.KindPermission, Op: op, Msg: "denied"}
		}
		return nil
	}})
	flaky.Put("cont", "a", []byte("b"), providers.Properties{})
	rep, err = Verify(context.Background(), src, flaky, []Route{{Bucket: "bkt", Container: "cont"}}, VerifyOptions{Deep: true, Retry: fastRetry()})
	if err != nil || rep.Unchecked != 1 || rep.Complete() || rep.Matched != 0 || rep.ContentVerified != 0 {
		t.Errorf("err %v, counts %+v", err, rep.VerifyCounts)
	}
	// Cancellation stops the verify with ctx's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, src, dst, []Route{{Bucket: "bkt", Container: "c"}}, VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// TestVerifyFilter: objects the copy's filter left out are neither missing
// nor, when a blob of their name exists, extra.
func TestVerifyFilter(t *testing.T) {
	src, dst := memory.New(memory.Options{}), memory.New(memory.Options{})
	for _, k := range []string{"p/a.log", "p/b.txt", "p/c.log"} {
		src.Put("bkt", k, []byte(k), md5Props([]byte(k), providers.Properties{}))
	}
	dst.Put("cont", "b.txt", []byte("p/b.txt"), md5Props([]byte("p/b.txt"), providers.Properties{}))
	dst.Put("cont", "c.log", []byte("old"), providers.Properties{}) // from an earlier copy
	rep, err := Verify(context.Background(), src, dst, []Route{{Bucket: "bkt", Prefix: "p/", Container: "cont"}},
		VerifyOptions{Filter: Filter{Exclude: []string{"*.log"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Filtered != 2 || rep.Matched != 1 || rep.SourceObjects != 1 || rep.DestinationBlobs != 2 {
		t.Errorf("counts %+v, differences %q", rep.VerifyCounts, kinds(rep))
	}
}
