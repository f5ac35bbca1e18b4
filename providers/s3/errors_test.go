package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/migrate-tool/migrate/providers"
)

// apiErr builds the error chain the SDK returns for an HTTP error response.
func apiErr(op string, status int, code string) error {
	var inner error = &smithy.GenericAPIError{Code: code, Message: "msg for " + code}
	if code == "" {
		inner = errors.New("http error with no body")
	}
	resp := &http.Response{StatusCode: status, Header: http.Header{}}
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: inner},
			RequestID:     "REQ123",
		},
	}
}

func transportErr(err error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
		Err: &smithyhttp.RequestSendError{Err: &netURLError{err}}}
}

// netURLError mimics *url.Error's text without importing a live request.
type netURLError struct{ err error }

func (e *netURLError) Error() string { return `Get "https://b.s3.amazonaws.com/k": ` + e.err.Error() }
func (e *netURLError) Unwrap() error { return e.err }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		kind   providers.Kind
		code   string
		status int
	}{
		{"NoSuchKey", apiErr("GetObject", 404, "NoSuchKey"), providers.KindNotFound, "NoSuchKey", 404},
		{"HEAD 404", apiErr("HeadObject", 404, "NotFound"), providers.KindNotFound, "NotFound", 404},
		{"NoSuchBucket", apiErr("ListObjectsV2", 404, "NoSuchBucket"), providers.KindNotFound, "NoSuchBucket", 404},
		{"NoSuchVersion", apiErr("GetObject", 404, "NoSuchVersion"), providers.KindNotFound, "NoSuchVersion", 404},
		{"bare 404", apiErr("HeadObject", 404, ""), providers.KindNotFound, "", 404},
		{"AccessDenied", apiErr("GetObject", 403, "AccessDenied"), providers.KindPermission, "AccessDenied", 403},
		{"bare 403", apiErr("HeadObject", 403, ""), providers.KindPermission, "", 403},
		{"InvalidAccessKeyId", apiErr("GetObject", 403, "InvalidAccessKeyId"), providers.KindPermission, "InvalidAccessKeyId", 403},
		{"SignatureDoesNotMatch", apiErr("GetObject", 403, "SignatureDoesNotMatch"), providers.KindPermission, "SignatureDoesNotMatch", 403},
		{"ExpiredToken", apiErr("GetObject", 400, "ExpiredToken"), providers.KindPermission, "ExpiredToken", 400},
		{"InvalidObjectState", apiErr("GetObject", 403, "InvalidObjectState"), providers.KindInvalid, "InvalidObjectState", 403},
		{"SlowDown", apiErr("GetObject", 503, "SlowDown"), providers.KindThrottled, "SlowDown", 503},
		{"bare 503", apiErr("HeadObject", 503, ""), providers.KindThrottled, "", 503},
		{"429", apiErr("GetObject", 429, "TooManyRequests"), providers.KindThrottled, "TooManyRequests", 429},
		{"RequestLimitExceeded", apiErr("GetObject", 400, "RequestLimitExceeded"), providers.KindThrottled, "RequestLimitExceeded", 400},
		{"InternalError", apiErr("GetObject", 500, "InternalError"), providers.KindTransient, "InternalError", 500},
		{"bare 502", apiErr("GetObject", 502, ""), providers.KindTransient, "", 502},
		{"unknown code 504", apiErr("GetObject", 504, "GatewayTimeout"), providers.KindTransient, "GatewayTimeout", 504},
		{"RequestTimeout 400", apiErr("GetObject", 400, "RequestTimeout"), providers.KindTransient, "RequestTimeout", 400},
		{"InvalidRange", apiErr("GetObject", 416, "InvalidRange"), providers.KindInvalid, "InvalidRange", 416},
		{"InvalidArgument", apiErr("GetObject", 400, "InvalidArgument"), providers.KindInvalid, "InvalidArgument", 400},
		{"bare 400", apiErr("HeadObject", 400, ""), providers.KindInvalid, "", 400},
		{"PermanentRedirect", apiErr("ListObjectsV2", 301, "PermanentRedirect"), providers.KindInvalid, "PermanentRedirect", 301},
		{"PreconditionFailed", apiErr("GetObject", 412, "PreconditionFailed"), providers.KindPrecondition, "PreconditionFailed", 412},
		{"bare 412", apiErr("HeadObject", 412, ""), providers.KindPrecondition, "", 412},
		{"conn reset", transportErr(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), providers.KindTransient, "", 0},
		{"conn refused", transportErr(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), providers.KindTransient, "", 0},
		{"unexpected EOF", transportErr(io.ErrUnexpectedEOF), providers.KindTransient, "", 0},
		{"timeout", transportErr(timeoutErr{}), providers.KindTransient, "", 0},
		{"dns temporary", transportErr(&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}), providers.KindTransient, "", 0},
		{"dns no such host", transportErr(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), providers.KindInvalid, "", 0},
		{"no credentials", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &v4.SigningError{Err: fmt.Errorf("failed to retrieve credentials: %w", errors.New("no EC2 IMDS role found"))}}, providers.KindPermission, "", 0},
		{"canceled", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &smithy.CanceledError{Err: context.Canceled}}, providers.KindCanceled, "", 0},
		{"deadline", transportErr(context.DeadlineExceeded), providers.KindCanceled, "", 0},
		{"mystery", errors.New("something odd"), providers.KindUnknown, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(context.Background(), "Op", "bkt/key", tt.err)
			var e *providers.Error
			if !errors.As(err, &e) {
				t.Fatalf("classify gave %T, want *providers.Error", err)
			}
			if e.Kind != tt.kind || e.Code != tt.code || e.Status != tt.status {
				t.Errorf("got kind %v code %q status %d, want %v %q %d (%v)", e.Kind, e.Code, e.Status, tt.kind, tt.code, tt.status, err)
			}
			if e.Op != "Op" || e.Where != "bkt/key" {
				t.Errorf("Op/Where = %q %q", e.Op, e.Where)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("errors.Is(classified, original) is false")
			}
			if tt.status != 0 {
				var re *awshttp.ResponseError
				if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
					t.Errorf("errors.As does not reach *awshttp.ResponseError")
				}
			}
			if tt.code != "" {
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != tt.code {
					t.Errorf("errors.As does not reach smithy.APIError")
				}
			}
			if tt.kind == providers.KindCanceled && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("canceled error does not match the context error")
			}
			if !errors.Is(err, &providers.Error{Kind: tt.kind}) {
				t.Errorf("errors.Is(err, sentinel of its kind) is false")
			}
		})
	}
}

// A transport error raised because ctx ended, in the transport's own words,
// is still Canceled and still matches ctx.Err().
func TestClassifyCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := classify(ctx, "GetObject (read)", "b/k", transportErr(net.ErrClosed))
	if providers.KindOf(err) != providers.KindCanceled || !errors.Is(err, context.Canceled) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("got %v (kind %v)", err, providers.KindOf(err))
	}
	if classify(ctx, "x", "y", nil) != nil {
		t.Fatal("classify(nil) != nil")
	}
}

func TestClassifyRedirectNamesRegion(t *testing.T) {
	err := apiErr("ListObjectsV2", 301, "PermanentRedirect")
	var re *awshttp.ResponseError
	errors.As(err, &re)
	re.Response.Header.Set("X-Amz-Bucket-Region", "eu-west-3")
	got := classify(context.Background(), "ListObjectsV2", "bkt", err)
	if !strings.Contains(got.Error(), "eu-west-3") {
		t.Fatalf("error %q does not name the bucket's region", got)
	}
}

// Secrets an SDK error might carry in its text never reach Error().
func TestClassifyRedactsSecrets(t *testing.T) {
	leak := errors.New(`Get "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIDSECRET%2F2024&X-Amz-Security-Token=TOKENSECRET&X-Amz-Signature=abcdef0123": Authorization: AWS4-HMAC-SHA256 Credential=AKIDSECRET, Signature=SIGSECRET`)
	err := classify(context.Background(), "GetObject", "b/k", transportErr(&net.OpError{Op: "read", Net: "tcp", Err: leak}))
	for _, s := range []string{"AKIDSECRET", "TOKENSECRET", "abcdef0123", "SIGSECRET"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error text %q contains secret %q", err, s)
		}
	}
}

// Retry-After on an S3 error response (seconds or an HTTP date) fills
// Error.RetryAfter; S3 itself sends none with 503 SlowDown, so 0 is the
// usual value.
func TestClassifyRetryAfter(t *testing.T) {
	withHeader := func(status int, code string, h map[string]string) error {
		err := apiErr("PutObject", status, code)
		var re *awshttp.ResponseError
		errors.As(err, &re)
		for k, v := range h {
			re.Response.Header.Set(k, v)
		}
		return err
	}
	tests := []struct {
		name string
		err  error
		kind providers.Kind
		min  time.Duration
		max  time.Duration
	}{
		{"SlowDown without header", withHeader(503, "SlowDown", nil), providers.KindThrottled, 0, 0},
		{"SlowDown, seconds", withHeader(503, "SlowDown", map[string]string{"Retry-After": "4"}), providers.KindThrottled, 4 * time.Second, 4 * time.Second},
		{"SlowDown, HTTP date", withHeader(503, "SlowDown", map[string]string{"Retry-After": time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)}), providers.KindThrottled, 28 * time.Second, 30 * time.Second},
		{"bare 503, seconds", withHeader(503, "", map[string]string{"Retry-After": "1"}), providers.KindThrottled, time.Second, time.Second},
		{"429, seconds", withHeader(429, "TooManyRequests", map[string]string{"Retry-After": "2"}), providers.KindThrottled, 2 * time.Second, 2 * time.Second},
		{"InternalError, garbage", withHeader(500, "InternalError", map[string]string{"Retry-After": "later"}), providers.KindTransient, 0, 0},
		{"transport error", transportErr(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), providers.KindTransient, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e *providers.Error
			if !errors.As(classify(context.Background(), "PutObject", "b/k", tc.err), &e) {
				t.Fatal("not a *providers.Error")
			}
			if e.Kind != tc.kind || e.RetryAfter < tc.min || e.RetryAfter > tc.max {
				t.Errorf("kind %v RetryAfter %v, want %v in [%v, %v]", e.Kind, e.RetryAfter, tc.kind, tc.min, tc.max)
			}
		})
	}
}

// Against a live server through the real client: one request per call for
// a 503 SlowDown carrying Retry-After (whose value reaches the error) and
// for a reset connection: the SDK neither retries nor waits.
func TestSingleTryRetryAfterAndReset(t *testing.T) {
	var n atomic.Int64
	var reset atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if reset.Load() {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("Retry-After", "3")
		// A fresh connection for the next call: net/http itself replays an
		// idempotent request once when a reused keep-alive connection dies
		// before any response byte (stale-connection handling, not a retry
		// policy), which would blur the count below.
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}))
	defer srv.Close()
	t.Setenv("AWS_CA_BUNDLE", caBundle)
	s, err := New(t.Context(), Options{Endpoint: srv.URL, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.List(t.Context(), "bucket", providers.ListOptions{})
	var e *providers.Error
	if !errors.As(err, &e) || e.Kind != providers.KindThrottled || e.Code != "SlowDown" || e.RetryAfter != 3*time.Second {
		t.Errorf("503: %v (RetryAfter %v); want SlowDown, throttled, 3s", err, e.RetryAfter)
	}
	if n.Load() != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("503: %d requests in %v; want 1 and no wait", n.Load(), time.Since(start))
	}
	reset.Store(true)
	n.Store(0)
	_, err = s.List(t.Context(), "bucket", providers.ListOptions{})
	if providers.KindOf(err) != providers.KindTransient || n.Load() != 1 {
		t.Errorf("reset: %d requests, %v; want 1 request, transient", n.Load(), err)
	}
	t.Logf("reset: %v", err)
}

func TestPermissionErrorsSayWhatIsMissing(t *testing.T) {
	tests := []struct {
		err  error
		op   string
		want []string
	}{
		{apiErr("HeadObject", 403, "AccessDenied"), "HeadObject", []string{"S3 denied HeadObject", "s3:GetObject"}},
		{apiErr("ListObjectsV2", 403, "AccessDenied"), "ListObjectsV2", []string{"S3 denied ListObjectsV2", "s3:ListBucket"}},
		{apiErr("GetObjectTagging", 403, "AccessDenied"), "GetObjectTagging", []string{"s3:GetObjectTagging"}},
		{apiErr("ListBuckets", 403, "AccessDenied"), "ListBuckets", []string{"s3:ListAllMyBuckets"}},
		{apiErr("GetObject", 403, "SignatureDoesNotMatch"), "GetObject", []string{"S3 refused the credentials", "secret"}},
		{apiErr("GetObject", 403, "RequestTimeTooSkewed"), "GetObject", []string{"clock"}},
	}
	for _, tc := range tests {
		msg := classify(context.Background(), tc.op, "b/k", tc.err).Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q lacks %q", tc.op, msg, w)
			}
		}
	}
}
