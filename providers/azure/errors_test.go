package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/migrate-tool/migrate/providers"
)

const testSAS = "sv=2024-08-04&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00%3A00%3A00Z&sig=TOPSECRETSIGNATURE%2Bx%3D"

// responseError builds the error azcore returns for a response.
func responseError(t *testing.T, status int, code string, hdr map[string]string, body string) error {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "https://acct.blob.core.windows.net/c/b?comp=block&"+testSAS, nil)
	resp := &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
	if code != "" {
		resp.Header.Set("x-ms-error-code", code)
	}
	for k, v := range hdr {
		resp.Header.Set(k, v)
	}
	err := runtime.NewResponseError(resp)
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("NewResponseError gave %T", err)
	}
	return err
}

func xmlBody(code, msg string) string {
	return `<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>` + msg +
		"\nRequestId:1234\nTime:2025-01-01T00:00:00Z</Message></Error>"
}

func TestClassify(t *testing.T) {
	src := func(status, code string) map[string]string {
		m := map[string]string{}
		if status != "" {
			m[hdrCopySourceStatus] = status
		}
		if code != "" {
			m[hdrCopySourceCode] = code
		}
		return m
	}
	tests := []struct {
		name    string
		status  int
		code    string
		hdr     map[string]string
		want    providers.Kind
		wantMsg string
	}{
		{"blob not found", 404, "BlobNotFound", nil, providers.KindNotFound, "The specified blob does not exist."},
		{"container not found", 404, "ContainerNotFound", nil, providers.KindNotFound, ""},
		{"bare 404", 404, "", nil, providers.KindNotFound, ""},
		{"auth failed", 403, "AuthenticationFailed", nil, providers.KindPermission, ""},
		{"authz failure", 403, "AuthorizationFailure", nil, providers.KindPermission, ""},
		{"bare 403", 403, "", nil, providers.KindPermission, ""},
		{"bare 401", 401, "", nil, providers.KindPermission, ""},
		{"server busy", 503, "ServerBusy", nil, providers.KindThrottled, ""},
		{"bare 503", 503, "", nil, providers.KindThrottled, ""},
		{"429", 429, "", nil, providers.KindThrottled, ""},
		{"op timed out", 500, "OperationTimedOut", nil, providers.KindTransient, ""},
		{"internal", 500, "InternalError", nil, providers.KindTransient, ""},
		{"502", 502, "", nil, providers.KindTransient, ""},
		{"504", 504, "", nil, providers.KindTransient, ""},
		{"408", 408, "", nil, providers.KindTransient, ""},
		{"invalid metadata", 400, "InvalidMetadata", nil, providers.KindInvalid, ""},
		{"invalid header", 400, "InvalidHeaderValue", nil, providers.KindInvalid, ""},
		{"bare 400", 400, "", nil, providers.KindInvalid, ""},
		{"413", 413, "RequestBodyTooLarge", nil, providers.KindInvalid, ""},
		{"md5 mismatch", 400, "Md5Mismatch", nil, providers.KindInvalid, ""},
		{"condition", 412, "ConditionNotMet", nil, providers.KindPrecondition, ""},
		{"bare 412", 412, "", nil, providers.KindPrecondition, ""},
		{"being deleted", 409, "ContainerBeingDeleted", nil, providers.KindTransient, ""},
		{"other 409", 409, "SomethingElse", nil, providers.KindUnknown, ""},

		{"source 403", 403, codeCannotVerify, src("403", "AccessDenied"), providers.KindSourceUnreachable, "Azure could not read the source: HTTP 403 AccessDenied"},
		{"source 401", 401, codeCannotVerify, src("401", ""), providers.KindSourceUnreachable, "HTTP 401"},
		{"source 404", 404, codeCannotVerify, src("404", "NoSuchKey"), providers.KindNotFound, "HTTP 404 NoSuchKey"},
		{"source 412", 412, codeCannotVerify, src("412", "PreconditionFailed"), providers.KindPrecondition, "HTTP 412 PreconditionFailed"},
		{"source 429", 409, codeCannotVerify, src("429", "SlowDown"), providers.KindThrottled, "HTTP 429"},
		{"source 503", 409, codeCannotVerify, src("503", "SlowDown"), providers.KindThrottled, "HTTP 503 SlowDown"},
		{"source 500", 409, codeCannotVerify, src("500", "InternalError"), providers.KindTransient, "HTTP 500"},
		{"source 502", 502, codeCannotVerify, src("502", ""), providers.KindTransient, "HTTP 502"},
		{"source 504", 504, codeCannotVerify, src("504", ""), providers.KindTransient, "HTTP 504"},
		{"source 503 as status", 503, codeCannotVerify, src("503", "SlowDown"), providers.KindThrottled, "HTTP 503 SlowDown"},
		{"source status missing 403", 403, codeCannotVerify, nil, providers.KindSourceUnreachable, "HTTP 403"},
		{"source status missing 404", 404, codeCannotVerify, nil, providers.KindNotFound, "HTTP 404"},
		{"source status 0", 400, codeCannotVerify, src("0", ""), providers.KindSourceUnreachable, "could not connect"},
		{"source unreachable", 500, codeCannotVerify, nil, providers.KindSourceUnreachable, "Azure could not connect to the source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := xmlBody(tt.code, "The specified blob does not exist.")
			if tt.code == "" {
				body = ""
			}
			raw := responseError(t, tt.status, tt.code, tt.hdr, body)
			err := classify(context.Background(), "PutBlobFromURL", "c/b", raw)
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("classify gave %T", err)
			}
			if pe.Kind != tt.want {
				t.Errorf("kind = %v, want %v (err: %v)", pe.Kind, tt.want, err)
			}
			if pe.Status != tt.status || pe.Code != tt.code {
				t.Errorf("status/code = %d/%q, want %d/%q", pe.Status, pe.Code, tt.status, tt.code)
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) {
				t.Error("errors.As does not reach *azcore.ResponseError")
			}
			text := err.Error()
			if !strings.Contains(text, tt.wantMsg) {
				t.Errorf("text %q does not contain %q", text, tt.wantMsg)
			}
			checkClean(t, text)
			if !strings.HasPrefix(text, "PutBlobFromURL c/b: ") {
				t.Errorf("text %q does not start with op and where", text)
			}
		})
	}
}

func TestClassifyTagsAndTier(t *testing.T) {
	withHeader := func(code, msg, header string) string {
		return `<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>` + msg +
			"\nRequestId:1234\nTime:2025-01-01T00:00:00Z</Message><HeaderName>" + header + `</HeaderName><HeaderValue>v</HeaderValue></Error>`
	}
	for _, tt := range []struct {
		name, code, body, wantMsg string
	}{
		{"invalid tag", "InvalidTag", xmlBody("InvalidTag", "The tags specified are invalid. It contains characters that are not permitted."),
			tagRules + ": The tags specified are invalid."},
		{"too many tags", "TagsTooLarge", xmlBody("TagsTooLarge", "The tags specified exceed the maximum permissible limit."),
			tagRules + ": The tags specified exceed"},
		{"Azurite's code for a bad character", "DuplicateTagNames", xmlBody("DuplicateTagNames", "The tags specified are invalid. It contains characters that are not permitted."),
			tagRules},
		{"malformed x-ms-tags", "InvalidHeaderValue", withHeader("InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", "x-ms-tags"),
			tagRules + ": The value for one of the HTTP headers is not in the correct format."},
		{"unknown tier", "InvalidHeaderValue", withHeader("InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", "x-ms-access-tier"),
			"The value for one of the HTTP headers is not in the correct format. (header x-ms-access-tier)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(context.Background(), "CommitBlocks", "c/b", responseError(t, 400, tt.code, nil, tt.body))
			if providers.KindOf(err) != providers.KindInvalid || providers.CodeOf(err) != tt.code {
				t.Errorf("kind %v code %q, want Invalid %q (err: %v)", providers.KindOf(err), providers.CodeOf(err), tt.code, err)
			}
			if text := err.Error(); !strings.Contains(text, tt.wantMsg) {
				t.Errorf("text %q does not contain %q", text, tt.wantMsg)
			}
			checkClean(t, err.Error())
		})
	}
}

// checkClean fails when an error text holds a secret or spans lines.
func checkClean(t *testing.T, text string) {
	t.Helper()
	for _, bad := range []string{"TOPSECRET", "sig=TOP", "\n", "RequestId"} {
		if strings.Contains(text, bad) {
			t.Errorf("error text contains %q: %q", bad, text)
		}
	}
}

func TestClassifyTransport(t *testing.T) {
	u := "https://acct.blob.core.windows.net/c/b?" + testSAS
	wrapURL := func(err error) error { return &url.Error{Op: "Put", URL: u, Err: err} }
	tests := []struct {
		name string
		err  error
		want providers.Kind
	}{
		{"reset", wrapURL(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), providers.KindTransient},
		{"refused", wrapURL(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), providers.KindTransient},
		{"eof", wrapURL(io.ErrUnexpectedEOF), providers.KindTransient},
		{"timeout", wrapURL(&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}), providers.KindTransient},
		{"dns", wrapURL(&net.DNSError{Err: "no such host", Name: "acct.blob.core.windows.net"}), providers.KindTransient},
		{"deadline without ctx", wrapURL(context.DeadlineExceeded), providers.KindTransient},
		{"other", errors.New("weird"), providers.KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(context.Background(), "StageBlock", "c/b", tt.err)
			if k := providers.KindOf(err); k != tt.want {
				t.Errorf("kind = %v, want %v (%v)", k, tt.want, err)
			}
			if !errors.Is(err, tt.err) {
				t.Error("the SDK error is not wrapped")
			}
			checkClean(t, err.Error())
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, raw := range []error{context.Canceled, &url.Error{Op: "Put", URL: "https://x/?" + testSAS, Err: context.Canceled}, errors.New("anything")} {
		err := classify(ctx, "CommitBlocks", "c/b", raw)
		if providers.KindOf(err) != providers.KindCanceled {
			t.Errorf("%v: kind %v", raw, providers.KindOf(err))
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, providers.ErrCanceled) {
			t.Errorf("%v: errors.Is(context.Canceled / ErrCanceled) false", raw)
		}
		checkClean(t, err.Error())
	}
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	err := classify(dctx, "CommitBlocks", "c/b", errors.New("x"))
	if !errors.Is(err, context.DeadlineExceeded) || providers.KindOf(err) != providers.KindCanceled {
		t.Errorf("deadline: %v", err)
	}
}

// TestSASErrorsClean drives a SAS-credentialed Destination against a fake
// service answering errors, and against a closed port, and checks that no
// error text carries the signature.
func TestSASErrorsClean(t *testing.T) {
	var gotSig bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotSig = r.URL.Query().Get("sig") != ""
		w.Header().Set("x-ms-error-code", "AuthenticationFailed")
		w.WriteHeader(http.StatusForbidden)
		// Real Azure echoes details; make the body carry the signature too.
		io.WriteString(w, xmlBody("AuthenticationFailed", "Server failed to authenticate the request. sig=TOPSECRETSIGNATURE"))
	}))
	defer srv.Close()
	d, err := New(Options{ServiceURL: srv.URL + "/devstoreaccount1", Credential: Credential{SAS: testSAS}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = d.EnsureContainer(ctx, "cont")
	if !gotSig {
		t.Fatal("the SAS was not sent")
	}
	if providers.KindOf(err) != providers.KindPermission {
		t.Errorf("kind %v: %v", providers.KindOf(err), err)
	}
	checkClean(t, err.Error())
	err = d.StageBlock(ctx, "cont", "b", "id-0001", bytes.NewReader([]byte("abc")), 3)
	checkClean(t, err.Error())
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 {
		t.Errorf("errors.As ResponseError: %v", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %s", err, err, err), "TOPSECRET") {
		t.Error("formatted error leaks the signature")
	}

	// No server at all: the transport error carries the full URL.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	d2, err := New(Options{ServiceURL: "http://" + addr + "/devstoreaccount1?" + testSAS})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d2.StatBlob(ctx, "cont", "blob")
	if providers.KindOf(err) != providers.KindTransient {
		t.Errorf("closed port: kind %v: %v", providers.KindOf(err), err)
	}
	checkClean(t, err.Error())
	t.Logf("closed port: %v", err)
}

func TestNewOptions(t *testing.T) {
	const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	tests := []struct {
		name        string
		o           Options
		wantURL     string
		wantAccount string
		wantErr     string
	}{
		{name: "key and account", o: Options{Account: "acct", Credential: Credential{AccountKey: key}},
			wantURL: "https://acct.blob.core.windows.net/", wantAccount: "acct"},
		{name: "emulator url gives account", o: Options{ServiceURL: "http://127.0.0.1:10000/devstoreaccount1", Credential: Credential{AccountKey: key}},
			wantURL: "http://127.0.0.1:10000/devstoreaccount1/", wantAccount: "devstoreaccount1"},
		{name: "connection string", o: Options{Credential: Credential{ConnectionString: providers.Secret("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:10001/devstoreaccount1;")}},
			wantURL: "http://127.0.0.1:10001/devstoreaccount1/", wantAccount: "devstoreaccount1"},
		{name: "connection string, ServiceURL wins", o: Options{ServiceURL: "http://127.0.0.1:9/devstoreaccount1/", Credential: Credential{ConnectionString: providers.Secret("AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:10001/devstoreaccount1")}},
			wantURL: "http://127.0.0.1:9/devstoreaccount1/", wantAccount: "devstoreaccount1"},
		{name: "connection string suffix", o: Options{Credential: Credential{ConnectionString: providers.Secret("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.chinacloudapi.cn")}},
			wantURL: "https://acct.blob.core.chinacloudapi.cn/", wantAccount: "acct"},
		{name: "dev storage", o: Options{Credential: Credential{ConnectionString: "UseDevelopmentStorage=true"}},
			wantURL: "http://127.0.0.1:10000/devstoreaccount1/", wantAccount: "devstoreaccount1"},
		{name: "sas", o: Options{ServiceURL: "https://acct.blob.core.windows.net", Credential: Credential{SAS: testSAS}},
			wantURL: "https://acct.blob.core.windows.net/", wantAccount: "acct"},
		{name: "two credentials", o: Options{Account: "acct", Credential: Credential{AccountKey: key, SAS: testSAS}}, wantErr: "at most one"},
		{name: "nothing", o: Options{Credential: Credential{AccountKey: key}}, wantErr: "need ServiceURL or Account"},
		{name: "bad key", o: Options{Account: "acct", Credential: Credential{AccountKey: "not base64!!TOPSECRET"}}, wantErr: "not valid base64"},
		{name: "bad conn string", o: Options{Credential: Credential{ConnectionString: "AccountKey=TOPSECRET"}}, wantErr: "needs BlobEndpoint or AccountName"},
		{name: "bad conn string syntax", o: Options{Credential: Credential{ConnectionString: "TOPSECRET"}}, wantErr: "Key=Value"},
		{name: "bad url", o: Options{ServiceURL: "ftp://x/?" + testSAS, Credential: Credential{AccountKey: key}}, wantErr: "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				checkClean(t, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.ServiceURL() != tt.wantURL || d.Account() != tt.wantAccount {
				t.Errorf("got %q %q, want %q %q", d.ServiceURL(), d.Account(), tt.wantURL, tt.wantAccount)
			}
		})
	}
}

func TestValidationBeforeSending(t *testing.T) {
	var requests int
	d, err := New(Options{ServiceURL: "http://127.0.0.1:9/devstoreaccount1", Credential: Credential{SAS: testSAS},
		WrapTransport: func(http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(*http.Request) (*http.Response, error) {
				requests++
				return nil, errors.New("must not send")
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := providers.SourceURL{URL: "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc"}
	checks := map[string]error{
		"too big":        d.PutBlobFromURL(ctx, "c", "b", src, MaxPutBlobFromURL+1, providers.Properties{}),
		"negative size":  d.PutBlobFromURL(ctx, "c", "b", src, -1, providers.Properties{}),
		"empty id":       d.StageBlockFromURL(ctx, "c", "b", "", src, providers.Range{Count: 1}),
		"long id":        d.StageBlockFromURL(ctx, "c", "b", providers.BlockID(strings.Repeat("x", 65)), src, providers.Range{Count: 1}),
		"bad range":      d.StageBlockFromURL(ctx, "c", "b", "id", src, providers.Range{Offset: 5}),
		"huge block":     d.StageBlockFromURL(ctx, "c", "b", "id", src, providers.Range{Count: MaxBlockSize + 1}),
		"short body":     d.StageBlock(ctx, "c", "b", "id", bytes.NewReader([]byte("ab")), 3),
		"zero block":     d.StageBlock(ctx, "c", "b", "id", bytes.NewReader(nil), 0),
		"unequal ids":    d.CommitBlocks(ctx, "c", "b", []providers.BlockID{"a1", "b22"}, providers.Properties{}),
		"too many":       d.CommitBlocks(ctx, "c", "b", make([]providers.BlockID, MaxBlocks+1), providers.Properties{}),
		"neg maxresults": func() error { _, err := d.ListBlobs(ctx, "c", providers.ListOptions{MaxResults: -1}); return err }(),
	}
	for name, err := range checks {
		if providers.KindOf(err) != providers.KindInvalid {
			t.Errorf("%s: kind %v: %v", name, providers.KindOf(err), err)
		}
	}
	if requests != 0 {
		t.Errorf("%d requests sent", requests)
	}
	if !strings.Contains(checks["too big"].Error(), "5000 MiB") {
		t.Errorf("too big: %v", checks["too big"])
	}
}

// TestSingleTry checks that the SDK does not retry: one request per call
// even for statuses azcore would retry (503, 500) and for a reset
// connection.
func TestSingleTry(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("x-ms-error-code", "ServerBusy")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("x-ms-error-code", "InternalError")
			w.WriteHeader(http.StatusInternalServerError)
		default:
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		}
	}))
	defer srv.Close()
	d, err := New(Options{ServiceURL: srv.URL + "/devstoreaccount1", Credential: Credential{SAS: testSAS}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []providers.Kind{providers.KindThrottled, providers.KindTransient, providers.KindTransient} {
		err := d.CommitBlocks(context.Background(), "c", "b", nil, providers.Properties{})
		if providers.KindOf(err) != want || !providers.IsRetryable(err) {
			t.Errorf("call %d: %v, want %v", i+1, err, want)
		}
		if got := n.Load(); got != int64(i+1) {
			t.Fatalf("after call %d the server saw %d requests: the SDK retried", i+1, got)
		}
		checkClean(t, err.Error())
		t.Logf("call %d: %v", i+1, err)
	}
}

// TestTokenCredential checks the Entra ID path sends a bearer token (the
// SDK refuses bearer tokens over plain http, so this uses TLS).
func TestTokenCredential(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("x-ms-error-code", "ContainerAlreadyExists")
		w.WriteHeader(http.StatusConflict)
	}))
	defer srv.Close()
	d, err := New(Options{ServiceURL: srv.URL + "/devstoreaccount1", Credential: Credential{Token: fakeToken{}},
		WrapTransport: func(http.RoundTripper) http.RoundTripper { return srv.Client().Transport }})
	if err != nil {
		t.Fatal(err)
	}
	created, err := d.EnsureContainer(context.Background(), "cont")
	if err != nil || created {
		t.Errorf("EnsureContainer = %v, %v; want false, nil", created, err)
	}
	if got, _ := auth.Load().(string); got != "Bearer TOKEN123" {
		t.Errorf("Authorization = %q", got)
	}
}

type fakeToken struct{}

func (fakeToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "TOKEN123", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Retry-After and x-ms-retry-after-ms fill Error.RetryAfter.
func TestClassifyRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		hdr      map[string]string
		kind     providers.Kind
		min, max time.Duration
	}{
		{"ServerBusy without header", 503, "ServerBusy", nil, providers.KindThrottled, 0, 0},
		{"ServerBusy, seconds", 503, "ServerBusy", map[string]string{"Retry-After": "5"}, providers.KindThrottled, 5 * time.Second, 5 * time.Second},
		{"ServerBusy, x-ms-retry-after-ms", 503, "ServerBusy", map[string]string{"x-ms-retry-after-ms": "750"}, providers.KindThrottled, 750 * time.Millisecond, 750 * time.Millisecond},
		{"ms wins", 503, "ServerBusy", map[string]string{"x-ms-retry-after-ms": "100", "Retry-After": "9"}, providers.KindThrottled, 100 * time.Millisecond, 100 * time.Millisecond},
		{"429, HTTP date", 429, "", map[string]string{"Retry-After": time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)}, providers.KindThrottled, 18 * time.Second, 20 * time.Second},
		{"OperationTimedOut, seconds", 500, "OperationTimedOut", map[string]string{"Retry-After": "1"}, providers.KindTransient, time.Second, time.Second},
		{"CannotVerifyCopySource 503", 503, codeCannotVerify, map[string]string{hdrCopySourceStatus: "503", "Retry-After": "2"}, providers.KindThrottled, 2 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(context.Background(), "StageBlockFromURL", "c/b", responseError(t, tc.status, tc.code, tc.hdr, ""))
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("classify gave %T", err)
			}
			if pe.Kind != tc.kind || pe.RetryAfter < tc.min || pe.RetryAfter > tc.max {
				t.Errorf("kind %v RetryAfter %v, want %v in [%v, %v]", pe.Kind, pe.RetryAfter, tc.kind, tc.min, tc.max)
			}
		})
	}
}

// Against a live server through the real client: a 503 ServerBusy with
// x-ms-retry-after-ms is one request, returned at once with the wait the
// service asked for; the SDK does not sleep on it.
func TestSingleTryRetryAfter(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("x-ms-error-code", "ServerBusy")
		w.Header().Set("x-ms-retry-after-ms", "4000")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, xmlBody("ServerBusy", "The server is busy."))
	}))
	defer srv.Close()
	d, err := New(Options{ServiceURL: srv.URL + "/devstoreaccount1", Credential: Credential{SAS: testSAS}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = d.StageBlock(context.Background(), "c", "b", "id-0001", bytes.NewReader([]byte("abc")), 3)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.KindThrottled || pe.Code != "ServerBusy" || pe.RetryAfter != 4*time.Second {
		t.Fatalf("%v; want ServerBusy, throttled, RetryAfter 4s", err)
	}
	if n.Load() != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("%d requests in %v; want 1 and no wait", n.Load(), time.Since(start))
	}
}
