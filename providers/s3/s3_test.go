package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// caBundle is the bundle these machines point AWS_CA_BUNDLE at.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// rig is the test binary's versitygw with a raw SDK client for seeding.
type rig struct {
	srv *testenv.S3Server
	raw *s3sdk.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	srv := testenv.S3(t)
	raw, err := srv.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &rig{srv: srv, raw: raw}
}

// source returns a Source of the rig, with o's fields filled in where zero.
func (r *rig) source(t *testing.T, o Options) *Source {
	t.Helper()
	if o.Endpoint == "" {
		o.Endpoint = r.srv.Endpoint
	}
	if o.Region == "" {
		o.Region = r.srv.Region
	}
	if o.Credentials == nil {
		o.Credentials = credentials.NewStaticCredentialsProvider(r.srv.AccessKey, r.srv.SecretKey, "")
	}
	s, err := New(t.Context(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

var bucketSeq atomic.Int64

// newBucket creates a fresh bucket holding objs, written with the raw client.
func (r *rig) newBucket(t *testing.T, objs []providertest.SeedObject) string {
	t.Helper()
	name := fmt.Sprintf("s3p-%d-%d", time.Now().UnixNano()%1_000_000_000, bucketSeq.Add(1))
	ctx := context.WithoutCancel(t.Context())
	if _, err := r.raw.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	for _, o := range objs {
		r.put(t, name, o)
	}
	return name
}

func (r *rig) put(t *testing.T, bucket string, o providertest.SeedObject) string {
	t.Helper()
	in := &s3sdk.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(o.Key),
		Body:          bytes.NewReader(o.Data),
		ContentLength: aws.Int64(int64(len(o.Data))),
		Metadata:      o.Props.Metadata,
	}
	for _, h := range []struct {
		v   string
		dst **string
	}{
		{o.Props.ContentType, &in.ContentType},
		{o.Props.ContentEncoding, &in.ContentEncoding},
		{o.Props.ContentDisposition, &in.ContentDisposition},
		{o.Props.ContentLanguage, &in.ContentLanguage},
		{o.Props.CacheControl, &in.CacheControl},
	} {
		if h.v != "" {
			*h.dst = aws.String(h.v)
		}
	}
	if len(o.Props.Tags) > 0 {
		in.Tagging = aws.String(encodeTagging(o.Props.Tags))
	}
	out, err := r.raw.PutObject(context.WithoutCancel(t.Context()), in)
	if err != nil {
		t.Fatalf("PutObject %s/%q: %v", bucket, o.Key, err)
	}
	return aws.ToString(out.VersionId)
}

// encodeTagging writes tags in the URL query form x-amz-tagging takes, keys
// sorted, a space as %20 (url.Values would write '+').
func encodeTagging(tags map[string]string) string {
	v := url.Values{}
	for k, x := range tags {
		v.Set(k, x)
	}
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}

// fetch GETs a presigned URL as Azure would: no credentials, maybe a Range.
func fetch(t *testing.T, u, rangeHeader string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("bad presigned URL: %v", err)
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", providers.Redact(err.Error()))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read presigned URL body: %v", err)
	}
	return resp.StatusCode, b
}

// TestConformance runs the shared Source suite against versitygw, with
// AWS_CA_BUNDLE set as on the machines the tool runs on.
func TestConformance(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", caBundle)
	r := newRig(t)
	providertest.TestSource(t, providertest.SourceHarness{
		Source:    r.source(t, Options{}),
		NewBucket: r.newBucket,
		Fetch:     fetch,
		SkipKey:   versitygwRefuses,
	})
}

// versitygwRefuses names the awkward keys versitygw's POSIX backend cannot
// hold as themselves, since it stores keys as file paths: "../x" is refused
// (400 Bad Request), a key ending in '/' with data too (400
// DirectoryObjectContainsData), and "a//b" and "./y" are stored and listed
// as "a/b" and "y". AWS S3 holds all of them.
func versitygwRefuses(key string) bool {
	return strings.HasPrefix(key, "../") || path.Clean(key) != key
}

// counter is a WrapTransport that counts requests by method.
type counter struct {
	n     atomic.Int64
	heads atomic.Int64
}

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.n.Add(1)
		if r.Method == http.MethodHead {
			c.heads.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// With AWS_CA_BUNDLE set, New still works, the counting wrapper sees every
// request and presigning sends none.
func TestWrapTransportWithCABundle(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", caBundle)
	r := newRig(t)
	var c counter
	s := r.source(t, Options{WrapTransport: c.wrap})
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "k", Data: []byte("hello")}})
	ctx := t.Context()
	if _, err := s.List(ctx, bucket, providers.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, bucket, "k"); err != nil {
		t.Fatal(err)
	}
	rc, err := s.OpenRange(ctx, bucket, providers.Object{Key: "k"}, providers.Range{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if _, err := s.PresignGet(ctx, bucket, providers.Object{Key: "k"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.n.Load(); got != 3 {
		t.Errorf("wrapper saw %d requests, want 3 (List, Stat, GetObject; presigning sends none)", got)
	}
	if got := c.heads.Load(); got != 1 {
		t.Errorf("wrapper saw %d HEADs, want 1", got)
	}
	// A missing object is one request too: the SDK does not retry.
	before := c.n.Load()
	if _, err := s.Stat(ctx, bucket, "absent"); providers.KindOf(err) != providers.KindNotFound {
		t.Fatalf("Stat absent: %v", err)
	}
	if got := c.n.Load() - before; got != 1 {
		t.Errorf("a 404 took %d requests, want 1", got)
	}
}

func TestListDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	var seeds []providertest.SeedObject
	for i := range 5 {
		seeds = append(seeds, providertest.SeedObject{Key: fmt.Sprintf("d/k%d", i), Data: bytes.Repeat([]byte{byte(i)}, 10+i)})
	}
	seeds = append(seeds, providertest.SeedObject{Key: "other", Data: []byte("x")})
	bucket := r.newBucket(t, seeds)

	var got []providers.Object
	token, pages := "", 0
	for {
		p, err := s.List(t.Context(), bucket, providers.ListOptions{Prefix: "d/", Token: token, MaxResults: 2})
		if err != nil {
			t.Fatalf("List page %d: %v", pages, err)
		}
		pages++
		if len(p.Objects) > 2 {
			t.Errorf("page %d has %d objects, want <= 2", pages, len(p.Objects))
		}
		got = append(got, p.Objects...)
		if p.Next == "" {
			break
		}
		token = p.Next
	}
	if pages != 3 || len(got) != 5 {
		t.Fatalf("%d pages, %d objects; want 3, 5", pages, len(got))
	}
	for i, o := range got {
		sum := md5.Sum(seeds[i].Data)
		if o.Key != seeds[i].Key || o.Size != int64(len(seeds[i].Data)) || o.ETag != hex.EncodeToString(sum[:]) || o.LastModified.IsZero() || o.VersionID != "" {
			t.Errorf("object %d = %+v; want key %q size %d etag %x", i, o, seeds[i].Key, len(seeds[i].Data), sum)
		}
	}
	t.Logf("storage class reported by listing: %q", got[0].StorageClass)

	// MaxResults above S3's limit is capped, not an error.
	if _, err := s.List(t.Context(), bucket, providers.ListOptions{MaxResults: 5000}); err != nil {
		t.Errorf("List MaxResults 5000: %v", err)
	}
	if _, err := s.List(t.Context(), bucket, providers.ListOptions{MaxResults: -1}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("List MaxResults -1: %v, want Invalid", err)
	}
	if _, err := s.List(t.Context(), "", providers.ListOptions{}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("List of bucket \"\": %v, want Invalid", err)
	}
}

func TestStatDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	props := providers.Properties{
		ContentType:        "application/json",
		ContentEncoding:    "gzip",
		ContentDisposition: `inline; filename="a b.json"`,
		ContentLanguage:    "de-CH",
		CacheControl:       "no-cache",
		Metadata:           map[string]string{"color": "blue", "spaced": "a b"},
	}
	data := []byte(`{"hello":"world"}`)
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "dir/obj.json", Data: data, Props: props}})
	info, err := s.Stat(t.Context(), bucket, "dir/obj.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if info.Key != "dir/obj.json" || info.Size != int64(len(data)) || info.ETag != hex.EncodeToString(sum[:]) || info.LastModified.IsZero() {
		t.Errorf("Stat object = %+v", info.Object)
	}
	if !bytes.Equal(info.ContentMD5, sum[:]) {
		t.Errorf("ContentMD5 = %x, want %x", info.ContentMD5, sum)
	}
	want := props
	want.ContentMD5 = info.ContentMD5
	if fmt.Sprint(info.Properties) != fmt.Sprint(want) {
		t.Errorf("Properties = %+v\nwant %+v", info.Properties, want)
	}

	// A multipart object's ETag is not an MD5: ContentMD5 stays nil.
	key := "multi"
	ctx := t.Context()
	mp, err := r.raw.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("p"), 5<<20)
	var parts []types.CompletedPart
	for i, body := range [][]byte{part, []byte("tail")} {
		out, err := r.raw.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mp.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := r.raw.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: mp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	info, err = s.Stat(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.ETag, "-2") || info.ContentMD5 != nil || info.Size != 5<<20+4 {
		t.Errorf("multipart Stat: etag %q md5 %x size %d; want \"...-2\", nil, %d", info.ETag, info.ContentMD5, info.Size, 5<<20+4)
	}
}

// Tags round-trip, Stat counts them without fetching them, and an object
// without tags has an empty set.
func TestTagsDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	want := map[string]string{"a": "1", "b": "two words"}
	bucket := r.newBucket(t, []providertest.SeedObject{
		{Key: "tagged", Data: []byte("t"), Props: providers.Properties{Tags: want}},
		{Key: "plain", Data: []byte("p")},
	})
	ctx := t.Context()
	// The header as a person might write it: a raw space, not %20.
	if _, err := r.raw.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("literal"),
		Body: strings.NewReader("l"), Tagging: aws.String("a=1&b=two words")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"tagged", "literal"} {
		info, err := s.Stat(ctx, bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.TagCount != 2 || info.Tags != nil {
			t.Errorf("Stat %q: TagCount %d, Tags %v; want 2 and nil (Stat does not fetch tags)", key, info.TagCount, info.Tags)
		}
		got, err := s.Tags(ctx, bucket, info.Object)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("Tags %q = %v, %v; want %v", key, got, err, want)
		}
	}

	info, err := s.Stat(ctx, bucket, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if info.TagCount != 0 {
		t.Errorf("Stat of an untagged object: TagCount %d, want 0", info.TagCount)
	}
	if got, err := s.Tags(ctx, bucket, info.Object); err != nil || len(got) != 0 {
		t.Errorf("Tags of an untagged object = %v, %v; want none", got, err)
	}

	_, err = s.Tags(ctx, bucket, providers.Object{Key: "missing"})
	checkErr(t, "Tags of a missing key", err, providers.KindNotFound, "NoSuchKey", 404)
	_, err = s.Tags(ctx, bucket+"-missing", providers.Object{Key: "tagged"})
	checkErr(t, "Tags in a missing bucket", err, providers.KindNotFound, "NoSuchBucket", 404)
	if _, err := s.Tags(ctx, bucket, providers.Object{}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("Tags of key \"\": %v, want Invalid", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Tags(canceled, bucket, providers.Object{Key: "tagged"}); providers.KindOf(err) != providers.KindCanceled || !errors.Is(err, context.Canceled) {
		t.Errorf("Tags with a canceled ctx: %v, want Canceled matching context.Canceled", err)
	}
}

// Stat reports the headers Azure has no place for. versitygw stores and
// returns Expires and the website redirect; it accepts
// x-amz-server-side-encryption: AES256 but does not report it back, stores
// every object as STANDARD whatever class the upload asked for, and names
// STANDARD on HEAD (AWS omits the header then). headInfo's table test covers
// what versitygw cannot show: KMS, SSE-C, archive classes and restores.
func TestStatSourceOnlyFields(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	bucket := r.newBucket(t, nil)
	ctx := t.Context()
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := r.raw.PutObject(ctx, &s3sdk.PutObjectInput{
		Bucket:                  aws.String(bucket),
		Key:                     aws.String("page.html"),
		Body:                    strings.NewReader("<html></html>"),
		ContentType:             aws.String("text/html; charset=utf-8"),
		CacheControl:            aws.String("max-age=60"),
		Expires:                 aws.Time(expires),
		WebsiteRedirectLocation: aws.String("/other/page.html"),
		ServerSideEncryption:    types.ServerSideEncryptionAes256,
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, bucket, "page.html")
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "text/html; charset=utf-8" || info.CacheControl != "max-age=60" {
		t.Errorf("ContentType %q CacheControl %q", info.ContentType, info.CacheControl)
	}
	if want := expires.Format(http.TimeFormat); info.Expires != want {
		t.Errorf("Expires %q, want %q", info.Expires, want)
	}
	if info.WebsiteRedirect != "/other/page.html" {
		t.Errorf("WebsiteRedirect %q, want /other/page.html", info.WebsiteRedirect)
	}
	if info.Encryption != "" && info.Encryption != "AES256" {
		t.Errorf("Encryption %q, want AES256 (or \"\": versitygw does not report it)", info.Encryption)
	}
	if info.Encryption == "AES256" || info.Encryption == "" {
		if len(info.ContentMD5) != 16 {
			t.Errorf("ContentMD5 %x: an SSE-S3 or unencrypted single-part object's ETag is its MD5", info.ContentMD5)
		}
	}
	if info.StorageClass != "" && info.StorageClass != "STANDARD" {
		t.Errorf("StorageClass %q, want \"\" (AWS) or STANDARD (versitygw)", info.StorageClass)
	}
	if info.TagCount != 0 || info.Restore != "" {
		t.Errorf("TagCount %d Restore %q, want 0 and \"\"", info.TagCount, info.Restore)
	}
	t.Logf("versitygw: Encryption %q StorageClass %q", info.Encryption, info.StorageClass)
}

func TestPresignDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{PresignTTL: 3 * time.Minute})
	data := []byte("presigned bytes")
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "a b/c+d%e", Data: data}})
	obj := providers.Object{Key: "a b/c+d%e", Size: int64(len(data))}

	before := time.Now()
	su, err := s.PresignGet(t.Context(), bucket, obj, 0) // Options.PresignTTL
	if err != nil {
		t.Fatal(err)
	}
	if d := su.Expires.Sub(before); d < 3*time.Minute-time.Second || d > 3*time.Minute+time.Second {
		t.Errorf("default validity %v, want 3m", d)
	}
	if status, body := fetch(t, su.URL.Reveal(), ""); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET presigned: %d %q", status, body)
	}
	if status, body := fetch(t, su.URL.Reveal(), "bytes=2-5"); status != 206 || string(body) != "esig" {
		t.Errorf("GET presigned range: %d %q", status, body)
	}
	if strings.Contains(su.URL.String(), "Signature=") && !strings.Contains(su.URL.String(), "redacted") {
		t.Errorf("String() shows the signature: %s", su.URL)
	}
	tampered, _, err := providertest.TamperSignature(su.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := fetch(t, tampered, ""); status != 403 {
		t.Errorf("tampered URL: HTTP %d, want 403 (%s)", status, body)
	} else {
		t.Logf("tampered URL: 403 %s", strings.Join(strings.Fields(string(body)), " "))
	}

	// Never more than 7 days.
	su, err = s.PresignGet(t.Context(), bucket, obj, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(su.Expires); d > MaxPresignTTL {
		t.Errorf("30-day ttl gave %v", d)
	}
	if q := expiresParam(t, su.URL.Reveal()); q != int(MaxPresignTTL/time.Second) {
		t.Errorf("X-Amz-Expires = %d, want %d", q, int(MaxPresignTTL/time.Second))
	}
}

func expiresParam(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
	if err != nil {
		t.Fatalf("no X-Amz-Expires in the presigned URL: %v", err)
	}
	return n
}

// expiring is a credentials provider whose credentials expire at a set time.
func expiring(r *rig, at time.Time, calls *atomic.Int64) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		calls.Add(1)
		return aws.Credentials{AccessKeyID: r.srv.AccessKey, SecretAccessKey: r.srv.SecretKey, CanExpire: true, Expires: at, Source: "test"}, nil
	})
}

// A URL never outlives the credentials that signed it.
func TestPresignCredentialExpiry(t *testing.T) {
	r := newRig(t)
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "k", Data: []byte("v")}})
	var calls atomic.Int64
	credsEnd := time.Now().Add(10 * time.Minute)
	s := r.source(t, Options{Credentials: expiring(r, credsEnd, &calls)})
	su, err := s.PresignGet(t.Context(), bucket, providers.Object{Key: "k"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !su.Expires.Before(credsEnd.Add(-presignMargin+time.Second)) || time.Until(su.Expires) < 7*time.Minute {
		t.Errorf("Expires %v; credentials end %v; want credentials end - %v", su.Expires, credsEnd, presignMargin)
	}
	if q := expiresParam(t, su.URL.Reveal()); q > int((8 * time.Minute).Seconds()) {
		t.Errorf("X-Amz-Expires %d is past the credentials' expiry", q)
	}
	if status, _ := fetch(t, su.URL.Reveal(), ""); status != 200 {
		t.Errorf("GET presigned with expiring credentials: %d", status)
	}

	// Credentials about to expire are refreshed once; still expiring, the
	// error is Permission.
	calls.Store(0)
	s = r.source(t, Options{Credentials: expiring(r, time.Now().Add(90*time.Second), &calls)})
	_, err = s.PresignGet(t.Context(), bucket, providers.Object{Key: "k"}, time.Hour)
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("presign with credentials expiring in 90s: %v, want Permission", err)
	}
	if calls.Load() < 2 {
		t.Errorf("credentials retrieved %d times, want a refresh", calls.Load())
	}
}

// A version id pins the presigned URL and OpenRange to that version.
// testenv's shared versitygw runs without --versioning-dir, so this test
// starts its own with it.
func TestVersionPin(t *testing.T) {
	r := newRig(t)
	r = startVersioned(t, r)
	s := r.source(t, Options{})
	bucket := r.newBucket(t, nil)
	_, err := r.raw.PutBucketVersioning(t.Context(), &s3sdk.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		t.Skipf("versioning unavailable on this server: %v", err)
	}
	v1 := r.put(t, bucket, providertest.SeedObject{Key: "k", Data: []byte("version one")})
	v2 := r.put(t, bucket, providertest.SeedObject{Key: "k", Data: []byte("version two")})
	if v1 == "" || v1 == v2 {
		t.Skipf("server returned version ids %q and %q", v1, v2)
	}
	info, err := s.Stat(t.Context(), bucket, "k")
	if err != nil || info.VersionID != v2 {
		t.Errorf("Stat VersionID = %q, %v; want the current version %q", info.VersionID, err, v2)
	}
	for _, c := range []struct{ id, want string }{{v1, "version one"}, {v2, "version two"}, {"", "version two"}} {
		obj := providers.Object{Key: "k", VersionID: c.id}
		su, err := s.PresignGet(t.Context(), bucket, obj, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if status, body := fetch(t, su.URL.Reveal(), ""); status != 200 || string(body) != c.want {
			t.Errorf("GET presigned URL pinned to %q: %d %q, want 200 %q", c.id, status, body, c.want)
		}
		rc, err := s.OpenRange(t.Context(), bucket, obj, providers.Range{Offset: 8})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(rc); string(b) != c.want[8:] {
			t.Errorf("OpenRange pinned to %q = %q, want %q", c.id, b, c.want[8:])
		}
		rc.Close()
	}
	// The pin is in the signed part of the URL: changing it breaks the URL.
	su, err := s.PresignGet(t.Context(), bucket, providers.Object{Key: "k", VersionID: v1}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	swapped := strings.Replace(su.URL.Reveal(), url.QueryEscape(v1), url.QueryEscape(v2), 1)
	if status, _ := fetch(t, swapped, ""); status != 403 {
		t.Errorf("GET with the version id swapped: HTTP %d, want 403", status)
	}
	// Tags are pinned to the version too.
	t1 := r.put(t, bucket, providertest.SeedObject{Key: "t", Data: []byte("1"), Props: providers.Properties{Tags: map[string]string{"v": "one"}}})
	t2 := r.put(t, bucket, providertest.SeedObject{Key: "t", Data: []byte("2"), Props: providers.Properties{Tags: map[string]string{"v": "two"}}})
	for _, c := range []struct{ id, want string }{{t1, "one"}, {t2, "two"}, {"", "two"}} {
		tags, err := s.Tags(t.Context(), bucket, providers.Object{Key: "t", VersionID: c.id})
		if err != nil || len(tags) != 1 || tags["v"] != c.want {
			t.Errorf("Tags pinned to %q = %v, %v; want v=%s", c.id, tags, err, c.want)
		}
	}
	_, err = s.Tags(t.Context(), bucket, providers.Object{Key: "t", VersionID: "01NOSUCHVERSION0000000000"})
	if k := providers.KindOf(err); k != providers.KindNotFound && k != providers.KindInvalid {
		t.Errorf("Tags of a missing version: %v, want NotFound or Invalid", err)
	}
	_, err = s.OpenRange(t.Context(), bucket, providers.Object{Key: "k", VersionID: "01NOSUCHVERSION0000000000"}, providers.Range{})
	if k := providers.KindOf(err); k != providers.KindNotFound && k != providers.KindInvalid {
		t.Errorf("OpenRange of a missing version: %v, want NotFound or Invalid", err)
	} else {
		t.Logf("missing version: %v", err)
	}
}

// startVersioned starts a private versitygw with --versioning-dir next to
// the shared one's binary and returns a rig of it; it is stopped (by its own
// pid) when t ends.
func startVersioned(t *testing.T, shared *rig) *rig {
	t.Helper()
	tools, err := testenv.ToolsDir()
	if err != nil {
		t.Skipf("no tools dir: %v", err)
	}
	bin := testenv.VersityGWPath(tools)
	dir := t.TempDir()
	for _, d := range []string{"root", "versions"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", "--versioning-dir", filepath.Join(dir, "versions"), filepath.Join(dir, "root"))
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+shared.srv.AccessKey, "ROOT_SECRET_KEY="+shared.srv.SecretKey, "VGW_REGION="+shared.srv.Region)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	srv := *shared.srv
	srv.Endpoint = "http://" + addr
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(srv.Endpoint + "/"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-tick.C:
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("versitygw exited: %s", b)
		case <-deadline.C:
			t.Fatal("versitygw did not answer within 15s")
		}
	}
	raw, err := srv.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &rig{srv: &srv, raw: raw}
}

func TestOpenRangeDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	data := []byte("0123456789abcdef")
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "k", Data: data}})
	p, err := s.List(t.Context(), bucket, providers.ListOptions{})
	if err != nil || len(p.Objects) != 1 {
		t.Fatalf("List: %v %v", p, err)
	}
	obj := p.Objects[0]
	read := func(o providers.Object, rg providers.Range) (string, error) {
		rc, err := s.OpenRange(t.Context(), bucket, o, rg)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	for _, c := range []struct {
		r    providers.Range
		want string
	}{
		{providers.Range{}, string(data)},
		{providers.Range{Offset: 10}, "abcdef"},
		{providers.Range{Offset: 3, Count: 4}, "3456"},
		{providers.Range{Offset: 14, Count: 10}, "ef"},
	} {
		if got, err := read(obj, c.r); err != nil || got != c.want {
			t.Errorf("OpenRange %+v = %q, %v; want %q", c.r, got, err, c.want)
		}
	}
	if _, err := read(obj, providers.Range{Offset: 100, Count: 1}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("range past the end: %v, want Invalid", err)
	}
	if _, err := read(obj, providers.Range{Offset: -1}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("negative offset: %v, want Invalid", err)
	}
	// Replaced since listed: the listed ETag no longer matches.
	r.put(t, bucket, providertest.SeedObject{Key: "k", Data: []byte("new content")})
	_, err = read(obj, providers.Range{})
	if providers.KindOf(err) != providers.KindPrecondition {
		t.Errorf("OpenRange of a replaced object: %v, want Precondition", err)
	}
}

// Canceling while a body is read gives Canceled from Read.
func TestOpenRangeCancelMidRead(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "big", Data: bytes.Repeat([]byte("z"), 8<<20)}})
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := s.OpenRange(ctx, bucket, providers.Object{Key: "big"}, providers.Range{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, rc)
	if providers.KindOf(err) != providers.KindCanceled || !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v (kind %v), want Canceled matching context.Canceled", err, providers.KindOf(err))
	}
}

func TestListBucketsDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	a := r.newBucket(t, nil)
	b := r.newBucket(t, nil)
	bs, err := s.ListBuckets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, bi := range bs {
		if bi.Name == a || bi.Name == b {
			found++
			if bi.Region != r.srv.Region {
				t.Errorf("bucket %s region %q, want %q", bi.Name, bi.Region, r.srv.Region)
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d of 2 new buckets among %d", found, len(bs))
	}
}

// Errors from the real server are classified, reach the SDK's error, and
// never show the secret key.
func TestErrorsFromServer(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "k", Data: []byte("v")}})
	ctx := t.Context()

	_, err := s.List(ctx, bucket+"-missing", providers.ListOptions{})
	checkErr(t, "List missing bucket", err, providers.KindNotFound, "NoSuchBucket", 404)
	_, err = s.Stat(ctx, bucket, "missing")
	checkErr(t, "Stat missing key", err, providers.KindNotFound, "", 404)
	_, err = s.OpenRange(ctx, bucket, providers.Object{Key: "missing"}, providers.Range{})
	checkErr(t, "GetObject missing key", err, providers.KindNotFound, "NoSuchKey", 404)

	const badSecret = "not-the-secret-XYZZY"
	bad := r.source(t, Options{Credentials: credentials.NewStaticCredentialsProvider(r.srv.AccessKey, badSecret, "")})
	var errs []error
	_, err = bad.List(ctx, bucket, providers.ListOptions{})
	checkErr(t, "List with a wrong secret", err, providers.KindPermission, "SignatureDoesNotMatch", 403)
	errs = append(errs, err)
	_, err = bad.OpenRange(ctx, bucket, providers.Object{Key: "k"}, providers.Range{})
	checkErr(t, "GetObject with a wrong secret", err, providers.KindPermission, "SignatureDoesNotMatch", 403)
	errs = append(errs, err)
	_, err = bad.Stat(ctx, bucket, "k")
	checkErr(t, "HEAD with a wrong secret", err, providers.KindPermission, "", 403)
	errs = append(errs, err)
	t.Logf("wrong secret: %v", err)

	// A session token the server does not know: versitygw answers 400
	// InvalidToken.
	tok := r.source(t, Options{Credentials: credentials.NewStaticCredentialsProvider(r.srv.AccessKey, badSecret, "SESSIONTOKEN123")})
	_, err = tok.List(ctx, bucket, providers.ListOptions{})
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("List with an unknown session token: %v, want Permission", err)
	}
	errs = append(errs, err)

	// An unknown access key id: AWS says 403 InvalidAccessKeyId, versitygw
	// 404 XAdminUserNotFound (and a bare 404 to HEAD, which no client can
	// tell from a missing object).
	unknown := r.source(t, Options{Credentials: credentials.NewStaticCredentialsProvider("nobody", badSecret, "")})
	_, err = unknown.List(ctx, bucket, providers.ListOptions{})
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("List with an unknown key id: %v, want Permission", err)
	}
	errs = append(errs, err)
	for _, err := range errs {
		for _, leak := range []string{badSecret, "SESSIONTOKEN123", "Signature=", "X-Amz-Signature"} {
			if err != nil && strings.Contains(err.Error(), leak) {
				t.Errorf("error text contains %q: %v", leak, err)
			}
		}
	}

	// A port nobody listens on: connection refused is Transient.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	_, err = r.source(t, Options{Endpoint: dead}).Stat(ctx, bucket, "k")
	checkErr(t, "HEAD to a closed port", err, providers.KindTransient, "", 0)
}

func checkErr(t *testing.T, what string, err error, kind providers.Kind, code string, status int) {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Errorf("%s: %v (%T), want *providers.Error", what, err, err)
		return
	}
	if pe.Kind != kind || (code != "" && pe.Code != code) || pe.Status != status {
		t.Errorf("%s: kind %v code %q status %d, want %v %q %d (%v)", what, pe.Kind, pe.Code, pe.Status, kind, code, status, err)
	}
	if pe.Where == "" || pe.Op == "" {
		t.Errorf("%s: Op %q Where %q", what, pe.Op, pe.Where)
	}
	if status != 0 {
		var oe *smithy.OperationError
		if !errors.As(err, &oe) {
			t.Errorf("%s: errors.As does not reach the SDK's *smithy.OperationError", what)
		}
	}
}

// The SDK does not retry: a 503 SlowDown and a 500 are one request each.
func TestNoSDKRetries(t *testing.T) {
	var n atomic.Int64
	var status atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		code := map[int]string{503: "SlowDown", 500: "InternalError"}[int(status.Load())]
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>`, code)
	}))
	defer srv.Close()
	t.Setenv("AWS_CA_BUNDLE", caBundle)
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		status int
		kind   providers.Kind
	}{{503, providers.KindThrottled}, {500, providers.KindTransient}} {
		status.Store(int64(c.status))
		n.Store(0)
		_, err := s.List(t.Context(), "bucket", providers.ListOptions{})
		if providers.KindOf(err) != c.kind || n.Load() != 1 {
			t.Errorf("HTTP %d: %d requests, %v; want 1 request, %v", c.status, n.Load(), err, c.kind)
		}
	}
}

func TestNewRejectsNegativeTTL(t *testing.T) {
	_, err := New(t.Context(), Options{Region: "us-east-1", PresignTTL: -time.Second,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if providers.KindOf(err) != providers.KindInvalid {
		t.Fatalf("New with negative ttl: %v", err)
	}
}

// Many concurrent requests reuse a bounded set of connections: the
// transport keeps enough idle connections per host (Go's default is 2).
// Against an httptest server: versitygw closes every connection unless
// started with --keep-alive, which testenv does not pass.
func TestConcurrentRequestsReuseConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1")
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var fresh, reused atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused.Add(1)
		} else {
			fresh.Add(1)
		}
	}}
	wrap := func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			return rt.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		})
	}
	t.Setenv("AWS_CA_BUNDLE", caBundle)
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1", WrapTransport: wrap,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.Stat(t.Context(), "bucket", "k"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d HEADs by %d workers in %v: %d new connections, %d reused", workers*each, workers, time.Since(start).Round(time.Millisecond), fresh.Load(), reused.Load())
	if fresh.Load() > workers+workers/4 {
		t.Errorf("%d new connections for %d workers: idle connections are not kept", fresh.Load(), workers)
	}
}
