package s3

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/providers"
)

// TestRegionRoutingBadRequest: at a regional endpoint (and at versitygw,
// which serves one region) a request signed for the wrong region gets 400
// AuthorizationHeaderMalformed naming the bucket's region in
// x-amz-bucket-region; a HEAD gets a bare 400 with that header, no body and
// so no error code. The Source follows both, once each.
func TestRegionRoutingBadRequest(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, scope, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		parts := strings.Split(scope, "/") // AKID/date/region/s3/aws4_request
		if len(parts) < 3 || parts[2] != "eu-west-1" {
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			if r.Method != http.MethodHead {
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>`)
			}
			return
		}
		switch {
		case r.Method == http.MethodHead:
			w.Header().Set("Content-Length", "3")
			w.Header().Set("ETag", `"900150983cd24fb0d6963f7d28e17f72"`)
			w.WriteHeader(http.StatusOK)
		case r.URL.Query().Get("list-type") == "2":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size><ETag>"x"</ETag></Contents></ListBucketResult>`)
		default:
			http.Error(w, "unexpected", http.StatusNotImplemented)
		}
	}))
	t.Cleanup(srv.Close)
	newSource := func() *Source {
		s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := newSource()
	info, err := s.Stat(t.Context(), "eu-bucket", "k")
	if err != nil || info.Size != 3 {
		t.Fatalf("Stat first, in another region: %+v, %v", info, err)
	}
	if got := n.Swap(0); got != 2 {
		t.Errorf("Stat took %d requests, want 2 (refusal, then the bucket's region)", got)
	}
	if _, err := s.List(t.Context(), "eu-bucket", providers.ListOptions{}); err != nil {
		t.Fatalf("List after Stat: %v", err)
	}
	if got := n.Swap(0); got != 1 {
		t.Errorf("List took %d requests once the region was known, want 1", got)
	}

	s = newSource()
	if p, err := s.List(t.Context(), "eu-bucket", providers.ListOptions{}); err != nil || len(p.Objects) != 1 {
		t.Fatalf("List first, in another region: %+v, %v", p, err)
	}
	if got := n.Swap(0); got != 2 {
		t.Errorf("List took %d requests, want 2", got)
	}
}
