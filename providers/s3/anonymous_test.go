package s3

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAnonymousSendsNoSignature: --s3-anonymous reads a public bucket with
// unsigned requests, and the URL Azure gets carries no signature.
func TestAnonymousSendsNoSignature(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.Header().Set("Content-Length", "3")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte("abc"))
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSHOULDNOTBEUSED")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-should-not-be-used")
	src, err := New(context.Background(), Options{Endpoint: srv.URL, Region: "us-east-1", Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	info, err := src.Stat(context.Background(), "public", "k")
	if err != nil || info.Size != 3 {
		t.Fatalf("Stat: %+v, %v", info, err)
	}
	u, err := src.PresignGet(context.Background(), "public", info.Object, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	raw := u.URL.Reveal()
	if strings.Contains(raw, "X-Amz-Signature") || strings.Contains(raw, "X-Amz-Credential") || !strings.HasSuffix(strings.SplitN(raw, "?", 2)[0], "/public/k") {
		t.Errorf("anonymous URL %q", raw)
	}
	resp, err := http.Get(raw)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	for i, a := range auth {
		if a != "" {
			t.Errorf("request %d was signed: %q", i, a)
		}
	}
}
