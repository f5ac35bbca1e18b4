package s3

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/providers"
)

// fakeRegional is an S3 front whose bucket "eu-bucket" lives in eu-west-1:
// requests signed for another region get AWS's answer, 301
// PermanentRedirect naming the region.
func fakeRegional(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, scope, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		parts := strings.Split(scope, "/") // AKID/date/region/s3/aws4_request
		region := ""
		if len(parts) > 2 {
			region = parts[2]
		}
		home := "us-east-1"
		if strings.HasPrefix(r.URL.Path, "/eu-bucket") {
			home = "eu-west-1"
		}
		w.Header().Set("X-Amz-Bucket-Region", home)
		if region != home {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusMovedPermanently)
			if r.Method != http.MethodHead {
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>`)
			}
			return
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch {
		case r.Method == http.MethodHead && key == "":
			w.WriteHeader(http.StatusOK)
		case r.Method == http.MethodHead:
			w.Header().Set("Content-Length", "3")
			w.Header().Set("ETag", `"900150983cd24fb0d6963f7d28e17f72"`)
			w.WriteHeader(http.StatusOK)
		case r.URL.Query().Get("list-type") == "2":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>%s</Name><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size><ETag>"x"</ETag></Contents></ListBucketResult>`, bucket)
		default:
			http.Error(w, "unexpected", http.StatusNotImplemented)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRegionRouting(t *testing.T) {
	srv, n := fakeRegional(t)
	newSource := func() *Source {
		s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := newSource()
	p, err := s.List(t.Context(), "eu-bucket", providers.ListOptions{})
	if err != nil || len(p.Objects) != 1 {
		t.Fatalf("List in another region: %+v, %v", p, err)
	}
	if got := n.Swap(0); got != 2 {
		t.Errorf("first List took %d requests, want 2 (redirect, then the bucket's region)", got)
	}
	if _, err := s.Stat(t.Context(), "eu-bucket", "k"); err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if got := n.Swap(0); got != 1 {
		t.Errorf("Stat after the region is known took %d requests, want 1", got)
	}
	su, err := s.PresignGet(t.Context(), "eu-bucket", providers.Object{Key: "k"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(su.URL.Reveal(), "%2Feu-west-1%2Fs3%2F") || n.Swap(0) != 0 {
		t.Errorf("presigned URL is not signed for eu-west-1 without a request: %s", su.URL)
	}
	// A home-region bucket needs no detour.
	if _, err := s.List(t.Context(), "home-bucket", providers.ListOptions{}); err != nil || n.Swap(0) != 1 {
		t.Errorf("List in the home region: %v", err)
	}

	// A fresh Source learns a bucket's region for presigning from one
	// HeadBucket (answered 301 with the region), then sends nothing.
	s = newSource()
	su, err = s.PresignGet(t.Context(), "eu-bucket", providers.Object{Key: "k"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(su.URL.Reveal(), "%2Feu-west-1%2Fs3%2F") {
		t.Errorf("presigned URL is not signed for eu-west-1: %s", su.URL)
	}
	if got := n.Swap(0); got != 1 {
		t.Errorf("first presign took %d requests, want 1 HeadBucket", got)
	}
	if _, err := s.PresignGet(t.Context(), "eu-bucket", providers.Object{Key: "k2"}, time.Minute); err != nil || n.Load() != 0 {
		t.Errorf("second presign: %v, %d requests; want none", err, n.Load())
	}
}

// fakeBuckets serves a two-page ListBuckets without BucketRegion and
// GetBucketLocation answers of every shape: "" (us-east-1), "EU", a region,
// and a 403.
func TestListBucketsLocations(t *testing.T) {
	var n, locs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		q := r.URL.Query()
		if r.URL.Path == "/" {
			start, next := 0, "<ContinuationToken>page2</ContinuationToken>"
			if q.Get("continuation-token") == "page2" {
				start, next = 10, ""
			}
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Buckets>`)
			for i := start; i < start+10; i++ {
				fmt.Fprintf(w, `<Bucket><Name>bucket-%02d</Name></Bucket>`, i)
			}
			fmt.Fprintf(w, `</Buckets>%s</ListAllMyBucketsResult>`, next)
			return
		}
		if _, ok := q["location"]; ok {
			locs.Add(1)
			var i int
			fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/bucket-"), "%d", &i)
			switch i % 4 {
			case 0:
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)
			case 1:
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">EU</LocationConstraint>`)
			case 2:
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">ap-south-1</LocationConstraint>`)
			case 3:
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>`)
			}
			return
		}
		http.Error(w, "unexpected "+r.URL.String(), http.StatusNotImplemented)
	}))
	defer srv.Close()
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s.ListBuckets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 20 || n.Load() != 22 || locs.Load() != 20 {
		t.Fatalf("%d buckets in %d requests (%d locations); want 20 in 2+20", len(bs), n.Load(), locs.Load())
	}
	want := []string{"us-east-1", "eu-west-1", "ap-south-1", ""}
	for i, b := range bs {
		if b.Name != fmt.Sprintf("bucket-%02d", i) || b.Region != want[i%4] {
			t.Errorf("bucket %d = %+v, want region %q", i, b, want[i%4])
		}
	}
}

// With encoding-type=url honoured (AWS does; versitygw ignores it), keys
// come back form-encoded and are decoded exactly.
func TestListURLEncodedKeys(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("encoding-type") != "url" {
			http.Error(w, "want encoding-type=url", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>`)
		for _, k := range []string{"with+space", "plus%2Bsign", "pct%25sign", "%E6%97%A5%2F%E8%AA%9E", "ctl%01char", "a//b"} {
			fmt.Fprintf(w, `<Contents><Key>%s</Key><Size>1</Size><ETag>&quot;abc&quot;</ETag></Contents>`, k)
		}
		fmt.Fprint(w, `</ListBucketResult>`)
	}))
	defer srv.Close()
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.List(t.Context(), "bkt", providers.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range p.Objects {
		keys = append(keys, o.Key)
		if o.ETag != "abc" {
			t.Errorf("ETag %q, want unquoted abc", o.ETag)
		}
	}
	want := []string{"with space", "plus+sign", "pct%sign", "日/語", "ctl\x01char", "a//b"}
	if fmt.Sprint(keys) != fmt.Sprint(want) || p.Next != "tok+/=" {
		t.Errorf("keys %q next %q; want %q, tok+/=", keys, p.Next, want)
	}
}
