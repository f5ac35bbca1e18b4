package providertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// TestSource runs the conformance suite for a Source, and for the
// Presigner, RangeReader, BucketLister and TagReader capabilities it has.
// Every subtest creates its own bucket through h.NewBucket.
func TestSource(t *testing.T, h SourceHarness) {
	if h.Source == nil || h.NewBucket == nil {
		t.Fatal("providertest: SourceHarness needs Source and NewBucket")
	}
	if h.MaxResults <= 0 {
		h.MaxResults = 2
	}
	st := &sourceTest{h: h}
	t.Run("List", st.testList)
	t.Run("ListPagination", st.testPagination)
	t.Run("ListPrefix", st.testPrefix)
	t.Run("AwkwardKeys", st.testAwkward)
	t.Run("StatProperties", st.testStat)
	t.Run("NotFound", st.testNotFound)
	t.Run("Canceled", st.testCanceled)
	if p, ok := h.Source.(providers.Presigner); ok {
		if h.Fetch == nil {
			t.Fatal("providertest: the Source is a Presigner but SourceHarness.Fetch is nil")
		}
		pt := &presignTest{sourceTest: st, p: p}
		t.Run("Presign", func(t *testing.T) {
			t.Run("Fetch", pt.testFetch)
			t.Run("Range", pt.testRange)
			t.Run("Expiry", pt.testExpiry)
			t.Run("Expired", pt.testExpired)
			t.Run("Tampered", pt.testTampered)
			t.Run("Redacted", pt.testRedacted)
			t.Run("IfMatch", pt.testIfMatch)
			t.Run("AwkwardKeys", pt.testAwkward)
		})
	} else {
		t.Log("providertest: Source is not a Presigner; presign tests skipped")
	}
	if rr, ok := h.Source.(providers.RangeReader); ok {
		t.Run("RangeReader", func(t *testing.T) { st.testRangeReader(t, rr) })
	}
	if bl, ok := h.Source.(providers.BucketLister); ok {
		t.Run("ListBuckets", func(t *testing.T) { st.testListBuckets(t, bl) })
	}
	if tr, ok := h.Source.(providers.TagReader); ok {
		t.Run("Tags", func(t *testing.T) { st.testTags(t, tr) })
	}
}

type sourceTest struct{ h SourceHarness }

// seed creates a bucket holding one object per key, with data of a
// distinct size each, and returns the bucket and the data by key. A key
// ending in '/' gets no data: POSIX-backed servers keep such keys as
// directories, which cannot hold bytes.
func (st *sourceTest) seed(t *testing.T, keys []string) (string, map[string][]byte) {
	t.Helper()
	objs := make([]SeedObject, len(keys))
	byKey := make(map[string][]byte, len(keys))
	for i, k := range keys {
		d := Data(100+37*i, uint32(i+1))
		if strings.HasSuffix(k, "/") {
			d = nil
		}
		objs[i] = SeedObject{Key: k, Data: d}
		byKey[k] = d
	}
	return st.h.NewBucket(t, objs), byKey
}

func (st *sourceTest) testList(t *testing.T) {
	// Seeded out of order, including keys whose byte order differs from
	// a case-insensitive or locale order.
	keys := []string{"m", "b/2", "B", "a", "b/10", "b/1", "z", "_u", "é", "a0", "Z", "~"}
	bucket, byKey := st.seed(t, keys)
	objs, err := ListAll(t.Context(), st.h.Source, bucket, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	checkKeys(t, "List", keysOf(objs), sortedUnique(keys))
	for _, o := range objs {
		if want := int64(len(byKey[o.Key])); o.Size != want {
			t.Errorf("List %q: Size %d, want %d", o.Key, o.Size, want)
		}
		if o.ETag == "" || strings.Contains(o.ETag, `"`) {
			t.Errorf("List %q: ETag %q, want non-empty without quotes", o.Key, o.ETag)
		}
		if o.LastModified.Year() < 2000 {
			t.Errorf("List %q: LastModified %v, want a real time", o.Key, o.LastModified)
		}
	}
	// An empty bucket lists as one empty last page.
	empty := st.h.NewBucket(t, nil)
	p, err := st.h.Source.List(t.Context(), empty, providers.ListOptions{})
	if err != nil || len(p.Objects) != 0 || p.Next != "" {
		t.Errorf("List of an empty bucket = %d objects, Next %q, err %v; want none, \"\", nil", len(p.Objects), p.Next, err)
	}
}

func (st *sourceTest) testPagination(t *testing.T) {
	keys := []string{"p/7", "p/1", "p/3", "p/2", "p/6", "p/4", "p/5"}
	bucket, _ := st.seed(t, keys)
	want := sortedUnique(keys)
	max := st.h.MaxResults
	var got, tokens []string
	opts := providers.ListOptions{MaxResults: max}
	pages := 0
	for {
		pages++
		if pages > len(keys)+2 {
			t.Fatalf("pagination did not end after %d pages", pages)
		}
		p, err := st.h.Source.List(t.Context(), bucket, opts)
		if err != nil {
			t.Fatalf("List page %d: %v", pages, err)
		}
		if len(p.Objects) > max {
			t.Errorf("page %d has %d objects, more than MaxResults %d", pages, len(p.Objects), max)
		}
		got = append(got, keysOf(p.Objects)...)
		if p.Next == "" {
			break
		}
		if slices.Contains(tokens, p.Next) {
			t.Fatalf("token %q repeated", p.Next)
		}
		tokens = append(tokens, p.Next)
		opts.Token = p.Next
	}
	checkKeys(t, "paginated List", got, want)
	if max < len(keys) && pages < 2 {
		t.Errorf("listing %d keys %d a page took %d page(s)", len(keys), max, pages)
	}
	// Tokens may be journaled and reused: the first token listed again
	// gives the same rest.
	if len(tokens) > 0 {
		rest, err := listAll(t.Context(), "", max, func(o providers.ListOptions) (providers.Page, error) {
			if o.Token == "" {
				o.Token = tokens[0]
			}
			return st.h.Source.List(t.Context(), bucket, o)
		})
		if err != nil {
			t.Fatalf("List from a reused token: %v", err)
		}
		if len(got) >= max {
			checkKeys(t, "List from a reused token", keysOf(rest), got[max:])
		}
	}
}

func (st *sourceTest) testPrefix(t *testing.T) {
	keys := []string{"dir/a", "dir/b", "dir/sub/c", "dir2/d", "dirx", "di", "other/e"}
	bucket, _ := st.seed(t, keys)
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"dir/", []string{"dir/a", "dir/b", "dir/sub/c"}},
		{"dir", []string{"dir/a", "dir/b", "dir/sub/c", "dir2/d", "dirx"}},
		{"dir/sub/", []string{"dir/sub/c"}},
		{"other/e", []string{"other/e"}},
		{"", sortedUnique(keys)},
	} {
		got, err := ListAll(t.Context(), st.h.Source, bucket, c.prefix)
		if err != nil {
			t.Errorf("List prefix %q: %v", c.prefix, err)
			continue
		}
		checkKeys(t, fmt.Sprintf("List prefix %q", c.prefix), keysOf(got), c.want)
	}
	// Prefix and pagination together.
	got, err := listAll(t.Context(), "dir", st.h.MaxResults, func(o providers.ListOptions) (providers.Page, error) {
		return st.h.Source.List(t.Context(), bucket, o)
	})
	if err != nil {
		t.Fatalf("paginated List prefix dir: %v", err)
	}
	checkKeys(t, "paginated List prefix dir", keysOf(got), []string{"dir/a", "dir/b", "dir/sub/c", "dir2/d", "dirx"})
	// A prefix that matches nothing is an empty last page, not an error.
	for _, prefix := range []string{"nomatch/", "dir/zz", "~~"} {
		p, err := st.h.Source.List(t.Context(), bucket, providers.ListOptions{Prefix: prefix})
		if err != nil || len(p.Objects) != 0 || p.Next != "" {
			t.Errorf("List prefix %q = %q, Next %q, err %v; want empty, \"\", nil", prefix, keysOf(p.Objects), p.Next, err)
		}
	}
}

// awkwardKeys returns AwkwardKeys minus what the harness skips.
func awkwardKeys(t *testing.T, skip func(string) bool, keep func(string) bool) []string {
	var out []string
	for _, k := range AwkwardKeys() {
		switch {
		case keep != nil && !keep(k):
		case skip != nil && skip(k):
			t.Logf("harness skips key %q", k)
		default:
			out = append(out, k)
		}
	}
	return out
}

func (st *sourceTest) testAwkward(t *testing.T) {
	keys := awkwardKeys(t, st.h.SkipKey, nil)
	bucket, byKey := st.seed(t, keys)
	objs, err := ListAll(t.Context(), st.h.Source, bucket, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	checkKeys(t, "List of awkward keys", keysOf(objs), sortedUnique(keys))
	for _, o := range objs {
		want, ok := byKey[o.Key]
		if !ok {
			continue
		}
		if o.Size != int64(len(want)) {
			t.Errorf("List %q: Size %d, want %d", o.Key, o.Size, len(want))
		}
		info, err := st.h.Source.Stat(t.Context(), bucket, o.Key)
		if err != nil {
			t.Errorf("Stat %q: %v", o.Key, err)
			continue
		}
		if info.Key != o.Key || info.Size != o.Size || info.ETag != o.ETag {
			t.Errorf("Stat %q = key %q size %d etag %q; listing said size %d etag %q", o.Key, info.Key, info.Size, info.ETag, o.Size, o.ETag)
		}
		// The key as a prefix finds the key first.
		p, err := st.h.Source.List(t.Context(), bucket, providers.ListOptions{Prefix: o.Key})
		if err != nil || len(p.Objects) == 0 || p.Objects[0].Key != o.Key {
			t.Errorf("List prefix %q = %q, err %v; want the key first", o.Key, keysOf(p.Objects), err)
		}
	}
}

func (st *sourceTest) testStat(t *testing.T) {
	full := fullProps()
	d := Data(1500, 7)
	bucket := st.h.NewBucket(t, []SeedObject{
		{Key: "full", Data: d, Props: full},
		{Key: "bare", Data: []byte("x")},
		{Key: "empty", Data: nil, Props: providers.Properties{ContentType: "application/x-empty", Metadata: map[string]string{"k": "v"}}},
	})
	objs, err := ListAll(t.Context(), st.h.Source, bucket, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	listed := map[string]providers.Object{}
	for _, o := range objs {
		listed[o.Key] = o
	}
	for _, c := range []struct {
		key   string
		size  int64
		props *providers.Properties
	}{
		{"full", int64(len(d)), &full},
		{"bare", 1, nil},
		{"empty", 0, &providers.Properties{ContentType: "application/x-empty", Metadata: map[string]string{"k": "v"}}},
	} {
		info, err := st.h.Source.Stat(t.Context(), bucket, c.key)
		if err != nil {
			t.Errorf("Stat %q: %v", c.key, err)
			continue
		}
		if info.Key != c.key || info.Size != c.size {
			t.Errorf("Stat %q: Key %q Size %d, want %q %d", c.key, info.Key, info.Size, c.key, c.size)
		}
		if info.ETag == "" || strings.Contains(info.ETag, `"`) {
			t.Errorf("Stat %q: ETag %q, want non-empty without quotes", c.key, info.ETag)
		}
		if l := listed[c.key]; info.ETag != l.ETag || info.Size != l.Size {
			t.Errorf("Stat %q: Size %d ETag %q, listing said %d %q", c.key, info.Size, info.ETag, l.Size, l.ETag)
		}
		if info.LastModified.Year() < 2000 {
			t.Errorf("Stat %q: LastModified %v, want a real time", c.key, info.LastModified)
		} else if l := listed[c.key]; !l.LastModified.IsZero() {
			if d := info.LastModified.Sub(l.LastModified).Abs(); d > 2*time.Second {
				t.Errorf("Stat %q: LastModified %v, listing said %v", c.key, info.LastModified, l.LastModified)
			}
		}
		if c.props != nil {
			checkProps(t, "Stat "+c.key, info.Properties, *c.props)
		} else if len(info.Metadata) != 0 {
			t.Errorf("Stat %q: metadata %v, want none", c.key, info.Metadata)
		}
	}
}

func (st *sourceTest) testNotFound(t *testing.T) {
	bucket := st.h.NewBucket(t, []SeedObject{{Key: "present", Data: []byte("here")}})
	_, err := st.h.Source.Stat(t.Context(), bucket, "absent")
	checkKind(t, "Stat of a missing key", err, providers.KindNotFound)
	_, err = st.h.Source.Stat(t.Context(), bucket, "presen")
	checkKind(t, "Stat of a key's prefix", err, providers.KindNotFound)
	missing := missingName(bucket)
	_, err = st.h.Source.Stat(t.Context(), missing, "present")
	checkKind(t, "Stat in a missing bucket", err, providers.KindNotFound)
	_, err = st.h.Source.List(t.Context(), missing, providers.ListOptions{})
	checkKind(t, "List of a missing bucket", err, providers.KindNotFound)
	if rr, ok := st.h.Source.(providers.RangeReader); ok {
		r, err := rr.OpenRange(t.Context(), bucket, providers.Object{Key: "absent"}, providers.Range{})
		if err == nil { // a reader may fail only on its first Read
			_, err = io.ReadAll(r)
			r.Close()
		}
		checkKind(t, "OpenRange of a missing key", err, providers.KindNotFound)
	}
}

func (st *sourceTest) testCanceled(t *testing.T) {
	bucket := st.h.NewBucket(t, []SeedObject{{Key: "k", Data: []byte("v")}})
	for _, c := range []struct {
		name  string
		ctx   context.Context
		cause error
	}{
		{"canceled", canceledCtx(t), context.Canceled},
		{"expired", expiredCtx(t), context.DeadlineExceeded},
	} {
		_, err := st.h.Source.List(c.ctx, bucket, providers.ListOptions{})
		checkCanceled(t, "List with a "+c.name+" ctx", err, c.cause)
		_, err = st.h.Source.Stat(c.ctx, bucket, "k")
		checkCanceled(t, "Stat with a "+c.name+" ctx", err, c.cause)
		if rr, ok := st.h.Source.(providers.RangeReader); ok {
			r, err := rr.OpenRange(c.ctx, bucket, providers.Object{Key: "k", Size: 1}, providers.Range{})
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			checkCanceled(t, "OpenRange with a "+c.name+" ctx", err, c.cause)
		}
		if bl, ok := st.h.Source.(providers.BucketLister); ok {
			_, err := bl.ListBuckets(c.ctx)
			checkCanceled(t, "ListBuckets with a "+c.name+" ctx", err, c.cause)
		}
		if tr, ok := st.h.Source.(providers.TagReader); ok {
			_, err := tr.Tags(c.ctx, bucket, providers.Object{Key: "k", Size: 1})
			checkCanceled(t, "Tags with a "+c.name+" ctx", err, c.cause)
		}
	}
}

func (st *sourceTest) testRangeReader(t *testing.T, rr providers.RangeReader) {
	d := Data(4096+17, 11)
	bucket := st.h.NewBucket(t, []SeedObject{{Key: "obj", Data: d}, {Key: "empty"}})
	obj := providers.Object{Key: "obj", Size: int64(len(d))}
	read := func(o providers.Object, r providers.Range) ([]byte, error) {
		rc, err := rr.OpenRange(t.Context(), bucket, o, r)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	got, err := read(obj, providers.Range{})
	if err != nil {
		t.Fatalf("OpenRange whole: %v", err)
	}
	checkBytes(t, "OpenRange whole", got, d)
	n := int64(len(d))
	for _, r := range []providers.Range{rng(0, 1), rng(0, 1000), rng(1, 1), rng(1000, 2000), rng(n-1, 1), rng(n-17, 17), rng(0, n)} {
		got, err := read(obj, r)
		if err != nil {
			t.Errorf("OpenRange %+v: %v", r, err)
			continue
		}
		checkBytes(t, fmt.Sprintf("OpenRange %+v", r), got, d[r.Offset:r.Offset+r.Count])
	}
	got, err = read(providers.Object{Key: "empty"}, providers.Range{})
	if err != nil || len(got) != 0 {
		t.Errorf("OpenRange of an empty object = %d bytes, %v; want 0, nil", len(got), err)
	}
}

func (st *sourceTest) testListBuckets(t *testing.T, bl providers.BucketLister) {
	bucket := st.h.NewBucket(t, nil)
	bs, err := bl.ListBuckets(t.Context())
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	n := 0
	for _, b := range bs {
		if b.Name == bucket {
			n++
		}
	}
	if n != 1 {
		t.Errorf("ListBuckets lists bucket %q %d times, want once", bucket, n)
	}
}

// testTags checks that seeded tags come back through the TagReader, that
// Stat counts them (unless it reports -1, unknown) and, if it returns them
// at all, returns the same; an object without tags has none.
func (st *sourceTest) testTags(t *testing.T, tr providers.TagReader) {
	want := sampleTags()
	bucket := st.h.NewBucket(t, []SeedObject{
		{Key: "tagged", Data: []byte("with tags"), Props: providers.Properties{ContentType: "text/plain", Tags: want}},
		{Key: "untagged", Data: []byte("without")},
	})
	for _, c := range []struct {
		key  string
		want map[string]string
	}{
		{"tagged", want},
		{"untagged", nil},
	} {
		info, err := st.h.Source.Stat(t.Context(), bucket, c.key)
		if err != nil {
			t.Errorf("Stat %q: %v", c.key, err)
			continue
		}
		if info.TagCount != -1 && info.TagCount != len(c.want) {
			t.Errorf("Stat %q: TagCount %d, want %d (or -1, unknown)", c.key, info.TagCount, len(c.want))
		}
		if info.Tags != nil {
			checkTags(t, "Stat "+c.key, info.Tags, c.want)
		}
		got, err := tr.Tags(t.Context(), bucket, info.Object)
		if err != nil {
			t.Errorf("Tags %q: %v", c.key, err)
			continue
		}
		checkTags(t, "Tags "+c.key, got, c.want)
	}
	_, err := tr.Tags(t.Context(), bucket, providers.Object{Key: "absent"})
	checkKind(t, "Tags of a missing key", err, providers.KindNotFound)
}

// presignTest covers the Presigner capability.
type presignTest struct {
	*sourceTest
	p providers.Presigner
}

func (pt *presignTest) presign(t *testing.T, bucket string, obj providers.Object, ttl time.Duration) providers.SourceURL {
	t.Helper()
	su, err := pt.p.PresignGet(t.Context(), bucket, obj, ttl)
	if err != nil {
		t.Fatalf("PresignGet %q: %v", obj.Key, err)
	}
	if su.URL == "" {
		t.Fatalf("PresignGet %q: empty URL", obj.Key)
	}
	return su
}

func (pt *presignTest) testFetch(t *testing.T) {
	d := Data(3000, 21)
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "dir/obj.bin", Data: d}, {Key: "empty"}})
	su := pt.presign(t, bucket, providers.Object{Key: "dir/obj.bin", Size: int64(len(d))}, 10*time.Minute)
	status, body := pt.h.Fetch(t, su.URL.Reveal(), "")
	if status != 200 {
		t.Fatalf("GET presigned URL: HTTP %d, want 200", status)
	}
	checkBytes(t, "GET presigned URL", body, d)
	// The URL can be used more than once.
	status, body = pt.h.Fetch(t, su.URL.Reveal(), "")
	if status != 200 {
		t.Errorf("second GET of the presigned URL: HTTP %d, want 200", status)
	}
	checkBytes(t, "second GET of the presigned URL", body, d)

	su = pt.presign(t, bucket, providers.Object{Key: "empty"}, 10*time.Minute)
	status, body = pt.h.Fetch(t, su.URL.Reveal(), "")
	if status != 200 || len(body) != 0 {
		t.Errorf("GET presigned URL of an empty object: HTTP %d, %d bytes; want 200, 0", status, len(body))
	}
}

func (pt *presignTest) testRange(t *testing.T) {
	d := Data(5000, 22)
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "obj", Data: d}})
	su := pt.presign(t, bucket, providers.Object{Key: "obj", Size: int64(len(d))}, 10*time.Minute)
	n := len(d)
	for _, c := range []struct {
		header string
		want   []byte
	}{
		{"bytes=0-0", d[:1]},
		{"bytes=3-9", d[3:10]},
		{"bytes=1024-2047", d[1024:2048]},
		{fmt.Sprintf("bytes=%d-%d", n-1, n-1), d[n-1:]},
		{"bytes=4000-", d[4000:]},
		{"bytes=-100", d[n-100:]},
		{fmt.Sprintf("bytes=4990-%d", n+100), d[4990:]}, // clipped at the end
	} {
		status, body := pt.h.Fetch(t, su.URL.Reveal(), c.header)
		if status != 206 {
			t.Errorf("GET %s: HTTP %d, want 206", c.header, status)
			continue
		}
		checkBytes(t, "GET "+c.header, body, c.want)
	}
	status, _ := pt.h.Fetch(t, su.URL.Reveal(), fmt.Sprintf("bytes=%d-", n))
	if status != 416 {
		t.Errorf("GET a range past the end: HTTP %d, want 416", status)
	}
}

func (pt *presignTest) testExpiry(t *testing.T) {
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "obj", Data: []byte("abc")}})
	for _, ttl := range []time.Duration{time.Minute, 15 * time.Minute, time.Hour} {
		before := time.Now()
		su := pt.presign(t, bucket, providers.Object{Key: "obj", Size: 3}, ttl)
		after := time.Now()
		if !su.Expires.After(before) {
			t.Errorf("ttl %v: Expires %v is not in the future", ttl, su.Expires)
		}
		if limit := after.Add(ttl + 5*time.Second); su.Expires.After(limit) {
			t.Errorf("ttl %v: Expires %v is past now+ttl (%v)", ttl, su.Expires, limit)
		}
		if su.Expires.Before(before.Add(ttl / 2)) {
			t.Errorf("ttl %v: Expires %v is well before now+ttl", ttl, su.Expires)
		}
	}
}

func (pt *presignTest) testExpired(t *testing.T) {
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "obj", Data: []byte("abc")}})
	su := pt.presign(t, bucket, providers.Object{Key: "obj", Size: 3}, time.Second)
	if wait := time.Until(su.Expires); wait > 3*time.Second {
		t.Fatalf("a 1s URL expires in %v", wait)
	}
	timer := time.NewTimer(time.Until(su.Expires) + 1500*time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	if status, _ := pt.h.Fetch(t, su.URL.Reveal(), ""); status < 400 || status > 499 {
		t.Errorf("GET an expired URL: HTTP %d, want 4xx", status)
	}
}

func (pt *presignTest) testTampered(t *testing.T) {
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "obj", Data: []byte("secret bytes")}, {Key: "other", Data: []byte("other")}})
	su := pt.presign(t, bucket, providers.Object{Key: "obj", Size: 12}, 10*time.Minute)
	tampered, _, err := TamperSignature(su.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := pt.h.Fetch(t, tampered, ""); status < 400 || status > 499 {
		t.Errorf("GET with a tampered signature: HTTP %d (%d bytes), want 4xx", status, len(body))
	}
	// The signature covers the key: the same query on another key fails.
	raw := su.URL.Reveal()
	other := strings.Replace(raw, "/obj?", "/other?", 1)
	if other != raw {
		if status, _ := pt.h.Fetch(t, other, ""); status < 400 || status > 499 {
			t.Errorf("GET another key with obj's signature: HTTP %d, want 4xx", status)
		}
	}
}

func (pt *presignTest) testRedacted(t *testing.T) {
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "obj", Data: []byte("abc")}})
	su := pt.presign(t, bucket, providers.Object{Key: "obj", Size: 3}, 10*time.Minute)
	_, sig, err := TamperSignature(su.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(su)
	if err != nil {
		t.Fatalf("json.Marshal(SourceURL): %v", err)
	}
	dec, _ := url.QueryUnescape(sig)
	for _, form := range []struct{ how, text string }{
		{"String()", su.URL.String()},
		{"%v", fmt.Sprintf("%v", su)},
		{"%+v", fmt.Sprintf("%+v", su)},
		{"%#v", fmt.Sprintf("%#v", su)},
		{"%s", fmt.Sprintf("%s", su.URL)},
		{"json", string(js)},
	} {
		if strings.Contains(form.text, sig) || (dec != "" && strings.Contains(form.text, dec)) {
			t.Errorf("%s of a presigned URL shows its signature: %s", form.how, form.text)
		}
	}
}

// testIfMatch presigns listed objects: each SourceURL's IfMatch must be the
// ETag the listing gave, so a destination can make its fetch conditional
// on it; an object given without an ETag gets none.
func (pt *presignTest) testIfMatch(t *testing.T) {
	bucket := pt.h.NewBucket(t, []SeedObject{{Key: "a", Data: Data(100, 23)}, {Key: "b", Data: Data(200, 24)}})
	objs, err := ListAll(t.Context(), pt.h.Source, bucket, "")
	if err != nil || len(objs) != 2 {
		t.Fatalf("List = %d objects, %v; want 2", len(objs), err)
	}
	for _, o := range objs {
		su := pt.presign(t, bucket, o, 10*time.Minute)
		if su.IfMatch != o.ETag {
			t.Errorf("PresignGet %q: IfMatch %q, want the listed ETag %q", o.Key, su.IfMatch, o.ETag)
		}
	}
	su := pt.presign(t, bucket, providers.Object{Key: "a"}, 10*time.Minute)
	if su.IfMatch != "" {
		t.Errorf("PresignGet of an object without an ETag: IfMatch %q, want none", su.IfMatch)
	}
}

func (pt *presignTest) testAwkward(t *testing.T) {
	keys := awkwardKeys(t, pt.h.SkipKey, nil)
	bucket, byKey := pt.seed(t, keys)
	for _, k := range keys {
		su, err := pt.p.PresignGet(t.Context(), bucket, providers.Object{Key: k, Size: int64(len(byKey[k]))}, 10*time.Minute)
		if err != nil {
			t.Errorf("PresignGet %q: %v", k, err)
			continue
		}
		status, body := pt.h.Fetch(t, su.URL.Reveal(), "")
		if status != 200 {
			t.Errorf("GET presigned %q: HTTP %d, want 200", k, status)
			continue
		}
		checkBytes(t, fmt.Sprintf("GET presigned %q", k), body, byKey[k])
	}
}

// TamperSignature returns rawURL with one character of its signature
// changed, and the signature's raw value. The signature is the query
// parameter whose name contains "signature" (any case), else one named
// "sig", else the last one.
func TamperSignature(rawURL string) (tampered, sig string, err error) {
	base, query, ok := strings.Cut(rawURL, "?")
	if !ok || query == "" {
		return "", "", fmt.Errorf("URL has no query to hold a signature")
	}
	parts := strings.Split(query, "&")
	idx := -1
	for i, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		name = strings.ToLower(name)
		if strings.Contains(name, "signature") {
			idx = i
			break
		}
		if name == "sig" && idx < 0 {
			idx = i
		}
	}
	if idx < 0 {
		idx = len(parts) - 1
	}
	name, val, _ := strings.Cut(parts[idx], "=")
	b := []byte(val)
	for i := 0; i < len(b); i++ {
		if b[i] == '%' {
			i += 2
			continue
		}
		c := b[i]
		switch {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
			b[i] = c + 1
		case c == '9':
			b[i] = '0'
		case c == 'z':
			b[i] = 'a'
		case c == 'Z':
			b[i] = 'A'
		default:
			continue
		}
		parts[idx] = name + "=" + string(b)
		return base + "?" + strings.Join(parts, "&"), val, nil
	}
	return "", "", fmt.Errorf("signature parameter %q has no character to change", name)
}
