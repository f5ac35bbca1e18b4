package testenv

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/azure"
	"github.com/migrate-tool/migrate/providers/s3"
)

// backend answers 200 "ok" and records the Host headers it saw.
func faultBackend(t *testing.T) (*httptest.Server, *atomic.Int64, *sync.Map) {
	t.Helper()
	var n atomic.Int64
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		hosts.Store(r.Host, true)
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &hosts
}

func newFaultProxy(t *testing.T, target string, o FaultOptions) *FaultProxy {
	t.Helper()
	p, err := NewFaultProxy(target, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// A client without keep-alive: net/http would otherwise replay an
// idempotent request once by itself after a reset on a reused connection.
var freshClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

type faultOutcome struct {
	status int
	code   string // <Code> of the body, or x-ms-error-code
	reset  bool
}

func do(t *testing.T, method, u string, hdr map[string]string) faultOutcome {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := freshClient.Do(req)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		return faultOutcome{reset: true}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	o := faultOutcome{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code")}
	if o.code == "" && resp.StatusCode >= 400 {
		var e struct {
			Code string `xml:"Code"`
		}
		_ = xml.Unmarshal(body, &e)
		o.code = e.Code
	}
	return o
}

func TestFaultProxyShapesAndRates(t *testing.T) {
	for _, tc := range []struct {
		target           FaultTarget
		code503, code500 string
		wantXMSErrorCode bool
	}{
		{FaultS3, "SlowDown", "InternalError", false},
		{FaultAzure, "ServerBusy", "OperationTimedOut", true},
	} {
		t.Run(fmt.Sprint(tc.target), func(t *testing.T) {
			backend, hits, hosts := faultBackend(t)
			p := newFaultProxy(t, backend.URL, FaultOptions{Target: tc.target, Throttle: 0.1, ServerError: 0.1, Reset: 0.1, Seed: 42, RetryAfter: 1500 * time.Millisecond})
			const n = 2000
			var got [4]int
			for i := 0; i < n; i++ {
				o := do(t, http.MethodGet, fmt.Sprintf("%s/bucket/key-%d", p.URL, i), nil)
				switch {
				case o.reset:
					got[3]++
				case o.status == 503:
					if o.code != tc.code503 {
						t.Fatalf("503 with code %q, want %q", o.code, tc.code503)
					}
					got[1]++
				case o.status == 500:
					if o.code != tc.code500 {
						t.Fatalf("500 with code %q, want %q", o.code, tc.code500)
					}
					got[2]++
				case o.status == 200:
					got[0]++
				default:
					t.Fatalf("unexpected answer %+v", o)
				}
			}
			s := p.Stats()
			t.Logf("%v", s)
			if s.Requests != n || s.Forwarded != int64(got[0]) || s.Throttled != int64(got[1]) || s.ServerErrors != int64(got[2]) || s.Resets != int64(got[3]) {
				t.Errorf("stats %+v do not match what the client saw %v", s, got)
			}
			if hits.Load() != s.Forwarded {
				t.Errorf("backend saw %d requests, %d forwarded", hits.Load(), s.Forwarded)
			}
			for i, c := range got[1:] {
				if c < n/10*7/10 || c > n/10*13/10 {
					t.Errorf("fault %d: %d of %d, want about 10%%", i+1, c, n)
				}
			}
			// The Host header reaches the target unchanged (SigV4).
			if _, ok := hosts.Load(strings.TrimPrefix(p.URL, "http://")); !ok {
				t.Error("the target did not see the proxy's Host header")
			}
		})
	}
}

func TestFaultProxyRetryAfterAndHead(t *testing.T) {
	backend, _, _ := faultBackend(t)
	p := newFaultProxy(t, backend.URL, FaultOptions{Target: FaultAzure, Throttle: 1, RetryAfter: 1500 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodHead, p.URL+"/devstoreaccount1/c/b", nil)
	resp, err := freshClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("x-ms-error-code") != "ServerBusy" {
		t.Errorf("HEAD: %d, Retry-After %q, code %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("x-ms-error-code"))
	}
}

// The same request is never faulted twice in a row, even at a fault rate
// of 1: faults and successes alternate.
func TestFaultProxyNeverTwiceInARow(t *testing.T) {
	backend, _, _ := faultBackend(t)
	for _, o := range []FaultOptions{{Throttle: 1}, {ServerError: 1}, {Reset: 1}, {Throttle: 0.3, ServerError: 0.3, Reset: 0.3}} {
		p := newFaultProxy(t, backend.URL, o)
		prevFault := false
		for i := 0; i < 200; i++ {
			// A retry: the signature and date change, the request does not.
			u := fmt.Sprintf("%s/b/k?partNumber=3&uploadId=u1&X-Amz-Date=2025010%dT000000Z&X-Amz-Signature=%x", p.URL, i%9, i)
			r := do(t, http.MethodGet, u, map[string]string{"Range": "bytes=0-9"})
			fault := r.reset || r.status != 200
			if fault && prevFault {
				t.Fatalf("%+v: request faulted twice in a row (try %d)", o, i+1)
			}
			if o.Throttle+o.ServerError+o.Reset == 1 && !fault && !prevFault {
				t.Fatalf("%+v: rate 1 but try %d after a success was not faulted", o, i+1)
			}
			prevFault = fault
		}
		if s := p.Stats(); s.Spared == 0 && o.Throttle == 1 {
			t.Errorf("%+v: nothing spared: %v", o, s)
		}
	}
}

// Same seed, same requests: the same faults whatever the order; another
// seed: other faults.
func TestFaultProxyDeterministic(t *testing.T) {
	backend, _, _ := faultBackend(t)
	run := func(seed uint64, reverse bool) map[string]faultOutcome {
		p := newFaultProxy(t, backend.URL, FaultOptions{Throttle: 0.1, ServerError: 0.1, Reset: 0.1, Seed: seed})
		out := map[string]faultOutcome{}
		for j := 0; j < 300; j++ {
			i := j
			if reverse {
				i = 299 - j
			}
			k := fmt.Sprintf("/b/obj-%d", i)
			out[k] = do(t, http.MethodPut, p.URL+k, nil)
		}
		return out
	}
	a, b, c := run(7, false), run(7, true), run(8, false)
	diff := 0
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %+v then %+v with the same seed", k, v, b[k])
		}
		if c[k] != v {
			diff++
		}
	}
	if diff == 0 {
		t.Error("another seed gave the same faults")
	}
}

func TestFaultProxyEligibleAndDisabled(t *testing.T) {
	backend, _, _ := faultBackend(t)
	p := newFaultProxy(t, backend.URL, FaultOptions{Throttle: 1, Eligible: func(r *http.Request) bool { return r.Method == http.MethodPut }})
	if o := do(t, http.MethodGet, p.URL+"/b/k", nil); o.status != 200 {
		t.Errorf("GET (not eligible): %+v", o)
	}
	if o := do(t, http.MethodPut, p.URL+"/b/k", nil); o.status != 503 {
		t.Errorf("PUT: %+v", o)
	}
	p.SetEnabled(false)
	if o := do(t, http.MethodPut, p.URL+"/b/k2", nil); o.status != 200 {
		t.Errorf("PUT while disabled: %+v", o)
	}
	if _, err := NewFaultProxy(backend.URL, FaultOptions{Throttle: 0.6, Reset: 0.6}); err == nil {
		t.Error("fractions over 1 accepted")
	}
	if _, err := NewFaultProxy("ftp://x", FaultOptions{}); err == nil {
		t.Error("ftp target accepted")
	}
}

// What the providers make of the faults, through their real SDK clients:
// each fault is one request, classified retryable with the service's code.
func TestFaultProxyClassifiedByProviders(t *testing.T) {
	backend, _, _ := faultBackend(t)
	ctx := context.Background()
	t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
	cases := []struct {
		opts FaultOptions
		kind providers.Kind
		code string
	}{
		{FaultOptions{Target: FaultS3, Throttle: 1}, providers.KindThrottled, "SlowDown"},
		{FaultOptions{Target: FaultS3, ServerError: 1}, providers.KindTransient, "InternalError"},
		{FaultOptions{Target: FaultS3, Reset: 1}, providers.KindTransient, ""},
		{FaultOptions{Target: FaultAzure, Throttle: 1}, providers.KindThrottled, "ServerBusy"},
		{FaultOptions{Target: FaultAzure, ServerError: 1}, providers.KindTransient, "OperationTimedOut"},
		{FaultOptions{Target: FaultAzure, Reset: 1}, providers.KindTransient, ""},
	}
	for _, tc := range cases {
		p := newFaultProxy(t, backend.URL, tc.opts)
		var err error
		if tc.opts.Target == FaultS3 {
			src, nerr := s3.New(ctx, s3.Options{Endpoint: p.URL, Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
			if nerr != nil {
				t.Fatal(nerr)
			}
			_, err = src.List(ctx, "bucket", providers.ListOptions{})
		} else {
			dst, nerr := azure.New(azure.Options{ServiceURL: p.URL + "/" + AzureAccount, Credential: azure.Credential{AccountKey: AzureKey}})
			if nerr != nil {
				t.Fatal(nerr)
			}
			_, err = dst.EnsureContainer(ctx, "cont")
		}
		s := p.Stats()
		if providers.KindOf(err) != tc.kind || providers.CodeOf(err) != tc.code || s.Requests != 1 || s.Faults() != 1 {
			t.Errorf("%+v: %v (kind %v code %q), %v; want %v %q after one faulted request", tc.opts, err, providers.KindOf(err), providers.CodeOf(err), s, tc.kind, tc.code)
		}
	}
}
