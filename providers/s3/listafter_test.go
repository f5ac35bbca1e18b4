package s3

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestListAfterDirect: against versitygw, ListAfter then List from its Next
// gives exactly the keys after the start string, in order, under a prefix
// or not, for keys that need URL encoding too; the token is ignored.
func TestListAfterDirect(t *testing.T) {
	r := newRig(t)
	s := r.source(t, Options{})
	keys := []string{"a b", "a+b", "a%2Bb", "a&b=c", "é", "日本/x", "z~", "d/k", "d/k 1"}
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("d/k%02d", i))
	}
	var seeds []providertest.SeedObject
	for _, k := range keys {
		seeds = append(seeds, providertest.SeedObject{Key: k, Data: []byte(k)})
	}
	bucket := r.newBucket(t, seeds)
	sort.Strings(keys)

	listAll := func(prefix, after string, max int) []string {
		t.Helper()
		p, err := s.ListAfter(t.Context(), bucket, providers.ListOptions{Prefix: prefix, MaxResults: max, Token: "ignored-token"}, after)
		if err != nil {
			t.Fatalf("ListAfter(%q, %q): %v", prefix, after, err)
		}
		var got []string
		for pages := 1; ; pages++ {
			if len(p.Objects) > max {
				t.Fatalf("page of %d objects, max %d", len(p.Objects), max)
			}
			for _, o := range p.Objects {
				got = append(got, o.Key)
				if o.Size != int64(len(o.Key)) || o.ETag == "" || strings.Contains(o.ETag, `"`) || o.LastModified.IsZero() {
					t.Errorf("object %+v", o)
				}
			}
			if p.Next == "" {
				return got
			}
			if pages > len(keys) {
				t.Fatal("listing does not end")
			}
			if p, err = s.List(t.Context(), bucket, providers.ListOptions{Prefix: prefix, MaxResults: max, Token: p.Next}); err != nil {
				t.Fatalf("List after ListAfter(%q, %q): %v", prefix, after, err)
			}
		}
	}
	afters := append([]string{"", "a", "a ", "d/", "d/k0", "d/k05", "d/k055", "e", "zzz", "\U0010FFFF"}, keys...)
	for _, prefix := range []string{"", "d/", "a"} {
		for _, after := range afters {
			var want []string
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) && k > after {
					want = append(want, k)
				}
			}
			if got := listAll(prefix, after, 3); !slices.Equal(got, want) {
				t.Errorf("prefix %q after %q: %q, want %q", prefix, after, got, want)
			}
		}
	}
	// One key at a time: what the pipeline's split-point probes ask.
	if got := listAll("", "d/k05", 1); len(got) == 0 || got[0] != "d/k06" {
		t.Errorf("first key after d/k05: %q", got)
	}

	if _, err := s.ListAfter(t.Context(), "absent-bucket-listafter", providers.ListOptions{}, "a"); providers.KindOf(err) != providers.KindNotFound {
		t.Errorf("ListAfter of a missing bucket: %v, want NotFound", err)
	}
	if _, err := s.ListAfter(t.Context(), "", providers.ListOptions{}, "a"); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("ListAfter of bucket \"\": %v, want Invalid", err)
	}
	if _, err := s.ListAfter(t.Context(), bucket, providers.ListOptions{MaxResults: -1}, "a"); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("ListAfter MaxResults -1: %v, want Invalid", err)
	}
}

// TestListAfterRequest: the request carries start-after (the raw string)
// and no continuation token, asks for URL-encoded keys and decodes them,
// and follows the bucket's region like List.
func TestListAfterRequest(t *testing.T) {
	type seen struct{ region, startAfter, token, encoding, maxKeys string }
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, scope, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		parts := strings.Split(scope, "/") // AKID/date/region/s3/aws4_request
		q := r.URL.Query()
		s := seen{startAfter: q.Get("start-after"), token: q.Get("continuation-token"), encoding: q.Get("encoding-type"), maxKeys: q.Get("max-keys")}
		if len(parts) > 2 {
			s.region = parts[2]
		}
		reqs = append(reqs, s)
		w.Header().Set("Content-Type", "application/xml")
		if s.region != "eu-west-1" {
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
			w.WriteHeader(http.StatusMovedPermanently)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>`)
			return
		}
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>`+
			`<NextContinuationToken>next-1</NextContinuationToken><Contents><Key>a+b%2Bc</Key><Size>3</Size><ETag>"abc"</ETag></Contents></ListBucketResult>`)
	}))
	t.Cleanup(srv.Close)
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.ListAfter(t.Context(), "eu-bucket", providers.ListOptions{MaxResults: 1, Token: "old"}, "a b+c/é")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Objects) != 1 || p.Objects[0].Key != "a b+c" || p.Objects[0].ETag != "abc" || p.Next != "next-1" {
		t.Errorf("page %+v", p)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (refused in us-east-1, then eu-west-1): %+v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if r.startAfter != "a b+c/é" || r.token != "" || r.encoding != "url" || r.maxKeys != "1" {
			t.Errorf("request %+v", r)
		}
	}
}
