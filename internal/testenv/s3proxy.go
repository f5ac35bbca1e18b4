package testenv

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// S3Record is one request an S3Proxy saw.
type S3Record struct {
	Method           string
	Bucket           string // "" for service-level requests
	Key              string // "" for bucket-level requests
	RawQueryRedacted string // the query with credentials redacted
	Presigned        bool   // X-Amz-Signature in the query
	Authorized       bool   // an Authorization header was sent
	Status           int
	RespBytes        int64  // response body bytes sent to the client
	Refused          bool   // answered by RefusePresigned or the hook, not forwarded
	Range            string // the Range header, if any
	// CopySource is the x-amz-copy-source header (CopyObject,
	// UploadPartCopy), "" for other requests.
	CopySource string
	ReqBytes   int64 // request body bytes the client sent
}

// S3Proxy is a reverse proxy before an S3 server (path-style addressing)
// that records every request and can refuse presigned GETs of chosen
// objects. Point a client, or a presigner, at URL instead of the server.
type S3Proxy struct {
	URL string // http://127.0.0.1:PORT

	proxy *httputil.ReverseProxy
	srv   *http.Server

	mu        sync.Mutex
	records   []S3Record
	refuse    map[[2]string]int
	presigned map[[2]string]int // presigned GETs seen, per object
	hook      func(bucket, key string, n int) int
	inflight  atomic.Int64 // requests being served, not yet recorded
	reqHook   func(S3Record) int
}

// NewS3Proxy starts a proxy on a free 127.0.0.1 port forwarding to target
// (e.g. S3Server.Endpoint). The Host header is forwarded unchanged, so SigV4
// signatures made for the proxy's URL (clients and presigned URLs pointed at
// p.URL) verify at the server.
func NewS3Proxy(target string) (*S3Proxy, error) {
	tu, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	p := &S3Proxy{URL: "http://" + ln.Addr().String(), refuse: map[[2]string]int{}, presigned: map[[2]string]int{}}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(tu)
			pr.Out.Host = pr.In.Host
		},
		Transport:     tr,
		FlushInterval: -1,
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Records returns a copy of the requests seen so far, in completion order.
// A client can read a whole response before the proxy has recorded it, so
// Records first waits (up to 2 s) until no request is still in flight.
func (p *S3Proxy) Records() []S3Record {
	for deadline := time.Now().Add(2 * time.Second); p.inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]S3Record(nil), p.records...)
}

// Reset forgets the records and every refusal.
func (p *S3Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = nil
	p.refuse = map[[2]string]int{}
	p.presigned = map[[2]string]int{}
	p.hook, p.reqHook = nil, nil
}

// RefusePresigned makes presigned GETs (and HEADs) of bucket/key answer
// status with an S3 XML error body instead of being forwarded: 403
// AccessDenied, 404 NoSuchKey, 412 PreconditionFailed, 500 InternalError,
// 503 SlowDown, others a generic code. Status 0 lifts the refusal.
func (p *S3Proxy) RefusePresigned(bucket, key string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == 0 {
		delete(p.refuse, [2]string{bucket, key})
		return
	}
	p.refuse[[2]string{bucket, key}] = status
}

// SetPresignedHook calls f before forwarding each presigned GET, with the
// object and how many presigned GETs of it the proxy has now seen (1 for the
// first). f may act (change the object, say) and may refuse the request by
// returning a status, as RefusePresigned does; 0 forwards it. nil removes
// the hook. f runs on the proxy's goroutines.
func (p *S3Proxy) SetPresignedHook(f func(bucket, key string, n int) int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = f
}

// SetRequestHook calls f before forwarding every request, with what the
// record of it will say (Method, Bucket, Key, RawQueryRedacted, Presigned,
// Authorized, Range). A non-zero return refuses the request with that
// status, as RefusePresigned does. nil removes the hook. f runs on the
// proxy's goroutines.
func (p *S3Proxy) SetRequestHook(f func(S3Record) int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqHook = f
}

// Close stops the proxy.
func (p *S3Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		return p.srv.Close()
	}
	return nil
}

func (p *S3Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	bucket, key := splitS3Path(r.URL.Path)
	q := r.URL.Query()
	rec := S3Record{
		Method:           r.Method,
		Bucket:           bucket,
		Key:              key,
		RawQueryRedacted: redactQuery(r.URL.RawQuery),
		Presigned:        q.Get("X-Amz-Signature") != "",
		Authorized:       r.Header.Get("Authorization") != "",
	}
	rec.Range = r.Header.Get("Range")
	rec.CopySource = r.Header.Get("X-Amz-Copy-Source")
	var body *countingReader
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingReader{ReadCloser: r.Body}
		r.Body = body
	}
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	p.mu.Lock()
	status, refused := p.refuse[[2]string{bucket, key}]
	refused = refused && rec.Presigned && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	hook, reqHook := p.hook, p.reqHook
	n := 0
	if rec.Presigned && r.Method == http.MethodGet {
		p.presigned[[2]string{bucket, key}]++
		n = p.presigned[[2]string{bucket, key}]
	}
	p.mu.Unlock()
	if hook != nil && n > 0 && !refused {
		if st := hook(bucket, key, n); st != 0 {
			status, refused = st, true
		}
	}
	if reqHook != nil && !refused {
		if st := reqHook(rec); st != 0 {
			status, refused = st, true
		}
	}
	if refused {
		rec.Refused = true
		writeS3Error(cw, r, status, bucket, key)
	} else {
		p.proxy.ServeHTTP(cw, r)
	}
	rec.Status, rec.RespBytes = cw.status, cw.n
	if body != nil {
		rec.ReqBytes = body.n.Load()
	}
	p.mu.Lock()
	p.records = append(p.records, rec)
	p.mu.Unlock()
}

func splitS3Path(path string) (bucket, key string) {
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	u := providers.RedactURL("http://h/?" + raw)
	_, q, _ := strings.Cut(u, "?")
	return q
}

// s3ErrorCodes are the codes S3 uses with these statuses.
var s3ErrorCodes = map[int][2]string{
	http.StatusBadRequest:          {"InvalidRequest", "Invalid Request"},
	http.StatusForbidden:           {"AccessDenied", "Access Denied"},
	http.StatusNotFound:            {"NoSuchKey", "The specified key does not exist."},
	http.StatusPreconditionFailed:  {"PreconditionFailed", "At least one of the pre-conditions you specified did not hold"},
	http.StatusInternalServerError: {"InternalError", "We encountered an internal error. Please try again."},
	http.StatusServiceUnavailable:  {"SlowDown", "Please reduce your request rate."},
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, bucket, key string) {
	code, msg := "Error"+strconv.Itoa(status), http.StatusText(status)
	if c, ok := s3ErrorCodes[status]; ok {
		code, msg = c[0], c[1]
	}
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><Key>%s</Key><BucketName>%s</BucketName><RequestId>%s</RequestId></Error>`,
		code, msg, html.EscapeString(key), html.EscapeString(bucket), strings.ReplaceAll(requestID(), "-", ""))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// countingWriter records the status and counts body bytes.
type countingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	n           int64
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wroteHeader = true
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// countingReader counts the bytes read from a request body.
type countingReader struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}
