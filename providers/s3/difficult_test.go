package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// testKey is a 32-byte SSE-C key and its base64 form, as a user gives it.
var (
	testKey    = bytes.Repeat([]byte{0xA5, 0x3C}, 16)
	testKeyB64 = base64.StdEncoding.EncodeToString(testKey)
)

func TestNewSSECustomerKey(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("a", "b", "")
	raw32 := strings.Repeat("k", 32) // a raw key, not base64 of one
	for _, c := range []struct {
		name, key string
		ok        bool
	}{
		{"base64 of 32 bytes", testKeyB64, true},
		{"with surrounding space", " " + testKeyB64 + "\n", true},
		{"not base64", "not*base64!", false},
		{"a raw 32-character key", raw32, false},
		{"base64 of 16 bytes", base64.StdEncoding.EncodeToString(testKey[:16]), false},
		{"unpadded", strings.TrimRight(testKeyB64, "="), false},
	} {
		_, err := New(t.Context(), Options{Region: "us-east-1", Credentials: creds, SSECustomerKey: providers.Secret(c.key)})
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if providers.KindOf(err) != providers.KindInvalid {
			t.Errorf("%s: %v, want Invalid", c.name, err)
		}
		if err != nil && strings.TrimSpace(c.key) != "" && strings.Contains(err.Error(), strings.TrimSpace(c.key)) {
			t.Errorf("%s: the error shows the key: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// TestPresignCantServerSide: a customer key, requester pays or an endpoint
// Azure cannot reach make PresignGet refuse with ErrCantServerSide, before
// any request.
func TestPresignCantServerSide(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		opts Options
		text string
	}{
		{"SSE-C", Options{SSECustomerKey: providers.Secret(testKeyB64)}, "objects encrypted with a customer key cannot be fetched by Azure"},
		{"requester pays", Options{RequestPayer: true}, "requester-pays objects are streamed"},
		{"unreachable", Options{SourceUnreachable: true}, "cannot reach this S3 endpoint"},
	} {
		c.opts.Endpoint, c.opts.Region = srv.URL, "us-east-1"
		c.opts.Credentials = credentials.NewStaticCredentialsProvider("a", "b", "")
		s, err := New(t.Context(), c.opts)
		if err != nil {
			t.Fatalf("%s: New: %v", c.name, err)
		}
		n.Store(0)
		su, err := s.PresignGet(t.Context(), "bucket", providers.Object{Key: "k", ETag: "e"}, time.Minute)
		if !errors.Is(err, providers.ErrCantServerSide) {
			t.Errorf("%s: PresignGet = %v, want ErrCantServerSide", c.name, err)
		}
		if providers.KindOf(err) != providers.KindInvalid || providers.IsRetryable(err) {
			t.Errorf("%s: kind %v, want invalid, not retryable", c.name, providers.KindOf(err))
		}
		if err != nil && !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %q lacks %q", c.name, err, c.text)
		}
		if err != nil && strings.Contains(err.Error(), testKeyB64) {
			t.Errorf("%s: the error shows the key", c.name)
		}
		if su.URL != "" || n.Load() != 0 {
			t.Errorf("%s: URL %q after %d requests; want none, none", c.name, su.URL, n.Load())
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// recorder is a fake S3 that answers HEAD, GET, ?tagging and ?list-type=2
// for bucket "b" and records each request's headers by operation. versitygw
// cannot check SSE-C (its POSIX backend ignores the headers), so what is
// sent is checked here.
type recorder struct {
	mu  sync.Mutex
	got map[string]http.Header // "HeadObject", "GetObject", "GetObjectTagging", "ListObjectsV2"
}

func newRecorder(t *testing.T) (*recorder, *httptest.Server) {
	rec := &recorder{got: map[string]http.Header{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		op := ""
		switch {
		case r.Method == http.MethodHead:
			op = "HeadObject"
			w.Header().Set("ETag", `"`+plainETag+`"`)
			w.Header().Set("Content-Length", "3")
			w.Header().Set("x-amz-server-side-encryption-customer-algorithm", "AES256")
		case q.Has("tagging"):
			op = "GetObjectTagging"
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`)
		case q.Get("list-type") == "2":
			op = "ListObjectsV2"
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size><ETag>"`+plainETag+`"</ETag></Contents></ListBucketResult>`)
		case r.Method == http.MethodGet:
			op = "GetObject"
			w.Header().Set("ETag", `"`+plainETag+`"`)
			io.WriteString(w, "abc")
		default:
			http.Error(w, "unexpected", http.StatusNotImplemented)
			return
		}
		rec.mu.Lock()
		rec.got[op] = r.Header.Clone()
		rec.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return rec, srv
}

func (rec *recorder) headers(op string) http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.got[op]
}

// readAll calls List, Stat, Tags and OpenRange of bucket "b", key "k".
func readAll(t *testing.T, s *Source) {
	t.Helper()
	if _, err := s.List(t.Context(), "b", providers.ListOptions{}); err != nil {
		t.Fatalf("List: %v", err)
	}
	if info, err := s.Stat(t.Context(), "b", "k"); err != nil {
		t.Fatalf("Stat: %v", err)
	} else if info.Encryption != "SSE-C" {
		t.Errorf("Stat Encryption %q, want SSE-C", info.Encryption)
	}
	if _, err := s.Tags(t.Context(), "b", providers.Object{Key: "k"}); err != nil {
		t.Fatalf("Tags: %v", err)
	}
	rc, err := s.OpenRange(t.Context(), "b", providers.Object{Key: "k"}, providers.Range{})
	if err != nil {
		t.Fatalf("OpenRange: %v", err)
	}
	if b, err := io.ReadAll(rc); err != nil || string(b) != "abc" {
		t.Errorf("OpenRange read %q, %v", b, err)
	}
	rc.Close()
}

// signed reports whether header name is among the SigV4 SignedHeaders.
func signed(h http.Header, name string) bool {
	_, list, _ := strings.Cut(h.Get("Authorization"), "SignedHeaders=")
	list, _, _ = strings.Cut(list, ",")
	for s := range strings.SplitSeq(list, ";") {
		if s == strings.ToLower(name) {
			return true
		}
	}
	return false
}

func TestSSECAndRequestPayerHeaders(t *testing.T) {
	sum := md5.Sum(testKey)
	wantMD5 := base64.StdEncoding.EncodeToString(sum[:])
	const (
		hAlg   = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
		hKey   = "X-Amz-Server-Side-Encryption-Customer-Key"
		hMD5   = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"
		hPayer = "X-Amz-Request-Payer"
	)
	ops := []string{"ListObjectsV2", "HeadObject", "GetObjectTagging", "GetObject"}
	sseOps := map[string]bool{"HeadObject": true, "GetObject": true}

	t.Run("both", func(t *testing.T) {
		rec, srv := newRecorder(t)
		s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
			Credentials:    credentials.NewStaticCredentialsProvider("a", "b", ""),
			SSECustomerKey: providers.Secret(" " + testKeyB64 + "\n"), RequestPayer: true})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, s)
		for _, op := range ops {
			h := rec.headers(op)
			if h == nil {
				t.Errorf("%s: not sent", op)
				continue
			}
			if got := h.Get(hPayer); got != "requester" || !signed(h, hPayer) {
				t.Errorf("%s: %s = %q (signed %v), want requester, signed", op, hPayer, got, signed(h, hPayer))
			}
			alg, key, md := h.Get(hAlg), h.Get(hKey), h.Get(hMD5)
			if !sseOps[op] {
				if alg != "" || key != "" || md != "" {
					t.Errorf("%s: SSE-C headers sent: %q %q %q", op, alg, key, md)
				}
				continue
			}
			if alg != "AES256" || key != testKeyB64 || md != wantMD5 {
				t.Errorf("%s: SSE-C headers %q, %q, %q; want AES256, the key in base64, %q", op, alg, key, md, wantMD5)
			}
		}
	})
	t.Run("neither", func(t *testing.T) {
		rec, srv := newRecorder(t)
		s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, s)
		for _, op := range ops {
			h := rec.headers(op)
			for _, name := range []string{hAlg, hKey, hMD5, hPayer} {
				if v := h.Get(name); v != "" {
					t.Errorf("%s: %s = %q without the option", op, name, v)
				}
			}
		}
	})
}

// TestRequestPayerAndSSECOnVersitygw reads through versitygw with both
// options set: the extra signed headers are accepted. versitygw's POSIX
// backend ignores both (it neither bills nor encrypts), so this proves
// signing and transport, not SSE-C itself; TestSSECAndRequestPayerHeaders
// checks the headers' values.
func TestRequestPayerAndSSECOnVersitygw(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", caBundle)
	r := newRig(t)
	var mu sync.Mutex
	var payer, sse int
	wrap := func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			if req.Header.Get("X-Amz-Request-Payer") == "requester" {
				payer++
			}
			if req.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key") != "" {
				sse++
			}
			mu.Unlock()
			return rt.RoundTrip(req)
		})
	}
	s := r.source(t, Options{RequestPayer: true, SSECustomerKey: providers.Secret(testKeyB64), WrapTransport: wrap})
	data := providertest.Data(3000, 9)
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "k", Data: data, Props: providers.Properties{Tags: map[string]string{"a": "b"}}}})
	objs, err := providertest.ListAll(t.Context(), s, bucket, "")
	if err != nil || len(objs) != 1 {
		t.Fatalf("List: %d objects, %v", len(objs), err)
	}
	if _, err := s.Stat(t.Context(), bucket, "k"); err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if tags, err := s.Tags(t.Context(), bucket, objs[0]); err != nil || tags["a"] != "b" {
		t.Fatalf("Tags: %v, %v", tags, err)
	}
	rc, err := s.OpenRange(t.Context(), bucket, objs[0], providers.Range{Offset: 100, Count: 1000})
	if err != nil {
		t.Fatalf("OpenRange: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[100:1100]) {
		t.Errorf("OpenRange: %d bytes, %v", len(got), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if payer != 4 || sse != 2 {
		t.Errorf("%d requests with x-amz-request-payer and %d with SSE-C headers; want 4 and 2", payer, sse)
	}
	_, err = s.PresignGet(t.Context(), bucket, objs[0], time.Minute)
	if !errors.Is(err, providers.ErrCantServerSide) {
		t.Errorf("PresignGet: %v, want ErrCantServerSide", err)
	}
}

// TestPresignedIfMatch: what Azure forwards from x-ms-source-if-match
// reaches versitygw as If-Match; it accepts the ETag quoted (what the azure
// provider sends) or not, and answers 412 once the object changed.
func TestPresignedIfMatch(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	data := []byte("version one")
	bucket := r.newBucket(t, []providertest.SeedObject{{Key: "k", Data: data}})
	objs, err := providertest.ListAll(t.Context(), s, bucket, "")
	if err != nil || len(objs) != 1 {
		t.Fatalf("List: %d objects, %v", len(objs), err)
	}
	su, err := s.PresignGet(t.Context(), bucket, objs[0], time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if su.IfMatch != objs[0].ETag || su.IfMatch == "" || strings.Contains(su.IfMatch, `"`) {
		t.Fatalf("IfMatch %q, want the listed ETag %q unquoted", su.IfMatch, objs[0].ETag)
	}
	get := func(ifMatch string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, su.URL.Reveal(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("If-Match", ifMatch)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(providers.Redact(err.Error()))
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, v := range []string{`"` + su.IfMatch + `"`, su.IfMatch} {
		if status := get(v); status != http.StatusOK {
			t.Errorf("If-Match %s on the unchanged object: HTTP %d, want 200", v, status)
		}
	}
	r.put(t, bucket, providertest.SeedObject{Key: "k", Data: []byte("version two")})
	for _, v := range []string{`"` + su.IfMatch + `"`, su.IfMatch} {
		if status := get(v); status != http.StatusPreconditionFailed {
			t.Errorf("If-Match %s on the changed object: HTTP %d, want 412", v, status)
		}
	}
}
