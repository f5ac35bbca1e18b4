package testenv

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Azure's limits on what one request may pull from a URL.
const (
	MaxBlockFromURL = 4000 << 20 // Put Block From URL: 4000 MiB
	MaxBlobFromURL  = 5000 << 20 // Put Blob From URL: 5000 MiB
)

// FrontStats counts what a CopySourceFront did.
type FrontStats struct {
	SourceFetches  int64 // GETs sent to copy sources
	SourceBytes    int64 // body bytes read from copy sources
	SourceFailures int64 // fetches answered as CannotVerifyCopySource
	Replays        int64 // from-URL requests replayed to Azurite
	PassThrough    int64 // other requests forwarded unchanged
}

// CopySourceFront is an HTTP reverse proxy before Azurite that performs the
// server-side copies Azurite cannot: a PUT carrying x-ms-copy-source whose
// URL is outside this Azurite (Put Block From URL, Put Blob From URL) is
// served by fetching the source itself and replaying the request to Azurite
// as Put Block or Put Blob, re-signed when it was signed with SharedKey.
// Source failures are answered the way Azure answers them
// (CannotVerifyCopySource). Everything else passes through unchanged.
type CopySourceFront struct {
	// URL is the front's root, http://127.0.0.1:PORT (append /account).
	URL string

	target  *url.URL
	account string
	key     []byte
	proxy   *httputil.ReverseProxy
	client  *http.Client
	srv     *http.Server
	ln      net.Listener
	inside  map[string]bool // host:port values that mean "this Azurite"

	maxBlock atomic.Int64
	maxBlob  atomic.Int64

	fetches, bytes, failures, replays, passes atomic.Int64

	closeOnce sync.Once
}

// FrontOptions configure NewCopySourceFront.
type FrontOptions struct {
	// SourceTimeout bounds a source fetch until its response headers
	// arrive; 0 means 30 s.
	SourceTimeout time.Duration
}

// NewCopySourceFront starts a front on a free 127.0.0.1 port before the
// Azurite at target (http://127.0.0.1:PORT, no account path) for account
// with its base64 key (used to re-sign SharedKey requests).
func NewCopySourceFront(target, account, key string, opts FrontOptions) (*CopySourceFront, error) {
	tu, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	tu.Path, tu.RawPath = "", ""
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("testenv: account key: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	timeout := opts.SourceTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	srcTransport := http.DefaultTransport.(*http.Transport).Clone()
	srcTransport.ResponseHeaderTimeout = timeout
	srcTransport.Proxy = nil
	f := &CopySourceFront{
		URL:     "http://" + ln.Addr().String(),
		target:  tu,
		account: account,
		key:     k,
		client:  &http.Client{Transport: srcTransport},
		ln:      ln,
		inside:  map[string]bool{},
	}
	f.maxBlock.Store(MaxBlockFromURL)
	f.maxBlob.Store(MaxBlobFromURL)
	for _, hp := range []string{tu.Host, ln.Addr().String()} {
		f.inside[strings.ToLower(hp)] = true
		if _, port, err := net.SplitHostPort(hp); err == nil {
			f.inside["localhost:"+port] = true
			f.inside["127.0.0.1:"+port] = true
		}
	}
	toAzurite := http.DefaultTransport.(*http.Transport).Clone()
	toAzurite.Proxy = nil
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(tu)
			pr.Out.Host = pr.In.Host
		},
		Transport:     toAzurite,
		FlushInterval: -1,
		ErrorHandler:  f.proxyError,
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// SetLimits changes the largest block and blob the front pulls from a URL
// (defaults: Azure's MaxBlockFromURL and MaxBlobFromURL), so tests can
// reach the limits with small sources. Zero keeps a limit as it is.
func (f *CopySourceFront) SetLimits(block, blob int64) {
	if block > 0 {
		f.maxBlock.Store(block)
	}
	if blob > 0 {
		f.maxBlob.Store(blob)
	}
}

// Stats returns the counters so far.
func (f *CopySourceFront) Stats() FrontStats {
	return FrontStats{
		SourceFetches:  f.fetches.Load(),
		SourceBytes:    f.bytes.Load(),
		SourceFailures: f.failures.Load(),
		Replays:        f.replays.Load(),
		PassThrough:    f.passes.Load(),
	}
}

// Close stops the front.
func (f *CopySourceFront) Close() error {
	var err error
	f.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = f.srv.Shutdown(ctx)
		if err != nil {
			err = f.srv.Close()
		}
	})
	return err
}

type fromURLKind int

const (
	notFromURL fromURLKind = iota
	putBlockFromURL
	putBlobFromURL
)

// classify tells which from-URL operation r is, if it is one the front
// must serve itself.
func (f *CopySourceFront) classify(r *http.Request) (fromURLKind, *url.URL) {
	src := r.Header.Get("x-ms-copy-source")
	if r.Method != http.MethodPut || src == "" {
		return notFromURL, nil
	}
	su, err := url.Parse(src)
	if err != nil || (su.Scheme != "http" && su.Scheme != "https") || f.inside[strings.ToLower(su.Host)] {
		return notFromURL, nil // Azurite answers these itself
	}
	q := r.URL.Query()
	switch comp := q.Get("comp"); {
	case comp == "block":
		return putBlockFromURL, su
	case comp == "" && r.Header.Get("x-ms-blob-type") != "" && r.Header.Get("x-ms-requires-sync") == "":
		return putBlobFromURL, su
	}
	return notFromURL, nil
}

func (f *CopySourceFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, src := f.classify(r)
	if kind == notFromURL {
		f.passes.Add(1)
		f.proxy.ServeHTTP(w, r)
		return
	}
	f.serveFromURL(w, r, kind, src)
}

// byteRange is an inclusive range; end < 0 means "to the end".
type byteRange struct{ start, end int64 }

func (br byteRange) count() int64 {
	if br.end < 0 {
		return -1
	}
	return br.end - br.start + 1
}

func parseSourceRange(v string) (byteRange, bool, error) {
	if v == "" {
		return byteRange{}, false, nil
	}
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return byteRange{}, false, errors.New("range must start with bytes=")
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return byteRange{}, false, errors.New("range must be start-end")
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return byteRange{}, false, errors.New("bad range start")
	}
	end := int64(-1)
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return byteRange{}, false, errors.New("bad range end")
		}
	}
	return byteRange{start, end}, true, nil
}

func (f *CopySourceFront) serveFromURL(w http.ResponseWriter, r *http.Request, kind fromURLKind, src *url.URL) {
	limit := f.maxBlob.Load()
	if kind == putBlockFromURL {
		limit = f.maxBlock.Load()
	}
	rng, ranged, err := parseSourceRange(r.Header.Get("x-ms-source-range"))
	if err != nil || (ranged && kind == putBlobFromURL) {
		writeAzureError(w, r, http.StatusBadRequest, "InvalidHeaderValue",
			"The value for one of the HTTP headers is not in the correct format.", nil,
			xmlField{"HeaderName", "x-ms-source-range"})
		return
	}
	if ranged && rng.count() > limit {
		writeTooLarge(w, r, limit)
		return
	}
	var wantMD5, wantCRC []byte
	if v := r.Header.Get("x-ms-source-content-md5"); v != "" {
		if wantMD5, err = base64.StdEncoding.DecodeString(v); err != nil || len(wantMD5) != md5.Size {
			writeAzureError(w, r, http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", nil, xmlField{"HeaderName", "x-ms-source-content-md5"})
			return
		}
	}
	if v := r.Header.Get("x-ms-source-content-crc64"); v != "" {
		if wantCRC, err = base64.StdEncoding.DecodeString(v); err != nil || len(wantCRC) != 8 {
			writeAzureError(w, r, http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", nil, xmlField{"HeaderName", "x-ms-source-content-crc64"})
			return
		}
	}

	// Check a SharedKey signature before anything else, as Azure would: the
	// replay is re-signed, so a bad signature must not slip through.
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "SharedKey ") {
		if !f.validSharedKey(r, auth) {
			writeAzureError(w, r, http.StatusForbidden, "AuthenticationFailed",
				"Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.", nil)
			return
		}
	}

	// Fetch the source.
	sreq, err := http.NewRequestWithContext(r.Context(), http.MethodGet, src.String(), nil)
	if err != nil {
		f.failures.Add(1)
		writeAzureError(w, r, http.StatusBadRequest, "CannotVerifyCopySource", "The copy source URL is not valid.", nil)
		return
	}
	if ranged {
		v := "bytes=" + strconv.FormatInt(rng.start, 10) + "-"
		if rng.end >= 0 {
			v += strconv.FormatInt(rng.end, 10)
		}
		sreq.Header.Set("Range", v)
	}
	for from, to := range map[string]string{
		"x-ms-source-if-match":            "If-Match",
		"x-ms-source-if-none-match":       "If-None-Match",
		"x-ms-source-if-modified-since":   "If-Modified-Since",
		"x-ms-source-if-unmodified-since": "If-Unmodified-Since",
		"x-ms-copy-source-authorization":  "Authorization",
	} {
		if v := r.Header.Get(from); v != "" {
			sreq.Header.Set(to, v)
		}
	}
	f.fetches.Add(1)
	sresp, err := f.client.Do(sreq)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		f.failures.Add(1)
		// Azure answers an unreachable or slow source with 500
		// CannotVerifyCopySource ("Could not verify the copy source within
		// the specified time."); there is no source status to report.
		writeAzureError(w, r, http.StatusInternalServerError, "CannotVerifyCopySource",
			"Could not verify the copy source within the specified time.", nil)
		return
	}
	defer sresp.Body.Close()
	if sresp.StatusCode < 200 || sresp.StatusCode > 299 {
		f.failures.Add(1)
		writeSourceFailure(w, r, sresp)
		return
	}

	// Work out which bytes of the response are the content.
	body := io.Reader(sresp.Body)
	n := sresp.ContentLength
	if ranged && sresp.StatusCode == http.StatusOK {
		// The source ignored the range: cut it out ourselves.
		if _, err := io.CopyN(io.Discard, body, rng.start); err != nil {
			f.failures.Add(1)
			writeAzureError(w, r, http.StatusRequestedRangeNotSatisfiable, "CannotVerifyCopySource", "The range specified is invalid for the current size of the resource.", nil)
			return
		}
		f.bytes.Add(rng.start)
		if n >= 0 {
			n -= rng.start
		}
		if c := rng.count(); c >= 0 && (n < 0 || c < n) {
			body, n = io.LimitReader(body, c), c
		}
	}
	if n > limit {
		writeTooLarge(w, r, limit)
		return
	}
	if n < 0 {
		// Unknown length (chunked): spool to a temporary file to learn it.
		tmp, err := os.CreateTemp("", "migrate-front-*")
		if err != nil {
			writeAzureError(w, r, http.StatusInternalServerError, "InternalError", err.Error(), nil)
			return
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		c, err := io.Copy(tmp, io.LimitReader(body, limit+1))
		f.bytes.Add(c)
		if err != nil {
			f.failures.Add(1)
			writeAzureError(w, r, http.StatusInternalServerError, "CannotVerifyCopySource", "Could not verify the copy source within the specified time.", nil)
			return
		}
		if c > limit {
			writeTooLarge(w, r, limit)
			return
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			writeAzureError(w, r, http.StatusInternalServerError, "InternalError", err.Error(), nil)
			return
		}
		body, n = tmp, c
		f.bytes.Add(-c) // counted again by the verifier below
	}

	v := &verifyingReader{r: body, remaining: n, wantMD5: wantMD5, wantCRC: wantCRC, md5: md5.New(), crc: newCRC(), counter: &f.bytes}
	if n == 0 {
		if err := v.check(); err != nil {
			writeChecksumMismatch(w, r, err)
			return
		}
	}

	// Replay to Azurite as Put Block / Put Blob.
	out := r.Clone(context.WithValue(r.Context(), verifierKey{}, v))
	for name := range out.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-ms-copy-source") || strings.HasPrefix(l, "x-ms-source-") || l == "x-ms-file-request-intent" || l == "content-length" || l == "expect" {
			out.Header.Del(name)
		}
	}
	out.ContentLength = n
	out.Body = io.NopCloser(v)
	if n == 0 {
		out.Body = http.NoBody
	}
	if auth := out.Header.Get("Authorization"); strings.HasPrefix(auth, "SharedKey ") {
		if err := signSharedKey(out, f.account, f.key, n); err != nil {
			writeAzureError(w, r, http.StatusInternalServerError, "InternalError", err.Error(), nil)
			return
		}
	}
	f.replays.Add(1)
	f.proxy.ServeHTTP(w, out)
}

// validSharedKey reports whether auth is this account's SharedKey
// signature of r as received.
func (f *CopySourceFront) validSharedKey(r *http.Request, auth string) bool {
	acct, _, _ := strings.Cut(strings.TrimPrefix(auth, "SharedKey "), ":")
	if acct != f.account {
		return false
	}
	check := &http.Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone()}
	if err := signSharedKey(check, f.account, f.key, r.ContentLength); err != nil {
		return false
	}
	return hmac.Equal([]byte(check.Header.Get("Authorization")), []byte(auth))
}

type verifierKey struct{}

// proxyError answers a failed forward: a checksum mismatch or a source that
// broke off while its bytes were streamed to Azurite, else a 502.
func (f *CopySourceFront) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if v, ok := r.Context().Value(verifierKey{}).(*verifyingReader); ok && v.err != nil {
		if errors.Is(v.err, errChecksum) {
			writeChecksumMismatch(w, r, v.err)
			return
		}
		f.failures.Add(1)
		writeAzureError(w, r, http.StatusInternalServerError, "CannotVerifyCopySource", "Could not verify the copy source within the specified time.", nil)
		return
	}
	if r.Context().Err() != nil {
		return
	}
	writeAzureError(w, r, http.StatusBadGateway, "InternalError", "copy-source front: forwarding to Azurite failed: "+err.Error(), nil)
}

// azureCRC64 is the CRC-64 polynomial Azure Storage uses.
var azureCRC64 = crc64.MakeTable(0x9A6C9329AC4BC9B5)

var errChecksum = errors.New("checksum mismatch")

type checksumError struct{ code, msg string }

func (e *checksumError) Error() string        { return e.code + ": " + e.msg }
func (e *checksumError) Is(target error) bool { return target == errChecksum }

// verifyingReader streams exactly `remaining` bytes of a source to Azurite
// and checks the requested checksums before handing over the final bytes:
// on a mismatch (or a short source) it fails instead, so Azurite never
// receives a complete body and commits nothing.
type verifyingReader struct {
	r                io.Reader
	remaining        int64
	wantMD5, wantCRC []byte
	md5              hash.Hash
	crc              hash.Hash64
	counter          *atomic.Int64
	err              error
}

func (v *verifyingReader) check() error {
	if v.wantMD5 != nil {
		if got := v.md5.Sum(nil); !bytes.Equal(got, v.wantMD5) {
			return &checksumError{"Md5Mismatch", fmt.Sprintf("The MD5 value specified in the request did not match with the MD5 value calculated by the server. Specified %s, computed %s.", base64.StdEncoding.EncodeToString(v.wantMD5), base64.StdEncoding.EncodeToString(got))}
		}
	}
	if v.wantCRC != nil {
		got := make([]byte, 8)
		binary.LittleEndian.PutUint64(got, v.crc.Sum64())
		if !bytes.Equal(got, v.wantCRC) {
			return &checksumError{"Crc64Mismatch", fmt.Sprintf("The CRC64 value specified in the request did not match with the CRC64 value calculated by the server. Specified %s, computed %s.", base64.StdEncoding.EncodeToString(v.wantCRC), base64.StdEncoding.EncodeToString(got))}
		}
	}
	return nil
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > v.remaining {
		p = p[:v.remaining]
	}
	n, err := v.r.Read(p)
	v.md5.Write(p[:n])
	v.crc.Write(p[:n])
	v.remaining -= int64(n)
	v.counter.Add(int64(n))
	if v.remaining == 0 {
		if cerr := v.check(); cerr != nil {
			v.err = cerr
			return 0, cerr // withhold the last bytes
		}
		return n, nil
	}
	if err == io.EOF {
		v.err = io.ErrUnexpectedEOF
		return 0, v.err
	}
	if err != nil {
		v.err = err
		return 0, err
	}
	return n, nil
}

type xmlField struct{ name, value string }

// writeAzureError writes an error the way the storage service does: the
// status, x-ms-error-code, x-ms-request-id, x-ms-version and an XML body
// <Error><Code/><Message/>...</Error>. extraHeaders are set as given.
func writeAzureError(w http.ResponseWriter, r *http.Request, status int, code, msg string, extraHeaders map[string]string, fields ...xmlField) {
	id := requestID()
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-ms-error-code", code)
	h.Set("x-ms-request-id", id)
	if v := r.Header.Get("x-ms-version"); v != "" {
		h.Set("x-ms-version", v)
	}
	if v := r.Header.Get("x-ms-client-request-id"); v != "" {
		h.Set("x-ms-client-request-id", v)
	}
	h.Set("Server", "migrate-copy-source-front")
	for k, v := range extraHeaders {
		h.Set(k, v)
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><Error><Code>`)
	xml.EscapeText(&b, []byte(code))
	b.WriteString(`</Code><Message>`)
	xml.EscapeText(&b, []byte(msg+"\nRequestId:"+id+"\nTime:"+time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")))
	b.WriteString(`</Message>`)
	for _, f := range fields {
		b.WriteString("<" + f.name + ">")
		xml.EscapeText(&b, []byte(f.value))
		b.WriteString("</" + f.name + ">")
	}
	b.WriteString(`</Error>`)
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// writeTooLarge answers a source over the front's limit the way Azure
// answers one: CannotVerifyCopySource, "The source request body for copy
// source is too large and exceeds the maximum permissible limit (4000MB)."
// (seen for Put Blob From URL in ansible-collections/azure#1580). The 409
// status is the one Azure gives an oversized Copy Blob From URL source
// (Azure/azure-sdk-for-go#19880).
func writeTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	max := fmt.Sprintf("%dMB", limit>>20)
	if limit%(1<<20) != 0 {
		max = fmt.Sprintf("%d bytes", limit)
	}
	writeAzureError(w, r, http.StatusConflict, "CannotVerifyCopySource",
		"The source request body for copy source is too large and exceeds the maximum permissible limit ("+max+").", nil)
}

func writeChecksumMismatch(w http.ResponseWriter, r *http.Request, err error) {
	var ce *checksumError
	if !errors.As(err, &ce) {
		ce = &checksumError{"Md5Mismatch", err.Error()}
	}
	writeAzureError(w, r, http.StatusBadRequest, ce.code, ce.msg, nil)
}

// writeSourceFailure answers a source that refused the GET: Azure's
// CannotVerifyCopySource with the source's status as the response status
// and in x-ms-copy-source-status-code, the source's own error code (the
// <Code> of an S3 XML error body) in x-ms-copy-source-error-code.
func writeSourceFailure(w http.ResponseWriter, r *http.Request, sresp *http.Response) {
	var serr struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(sresp.Body, 64<<10))
	_ = xml.Unmarshal(raw, &serr)
	status := sresp.StatusCode
	if status == http.StatusNotModified {
		// A 304 answers an If-None-Match / If-Modified-Since condition:
		// a failed source condition is a precondition failure here.
		status = http.StatusPreconditionFailed
	} else if status < 400 {
		status = http.StatusBadRequest // e.g. an unfollowed redirect
	}
	srcMsg := serr.Message
	if srcMsg == "" {
		srcMsg = http.StatusText(sresp.StatusCode)
	}
	headers := map[string]string{"x-ms-copy-source-status-code": strconv.Itoa(sresp.StatusCode)}
	fields := []xmlField{{"CopySourceStatusCode", strconv.Itoa(sresp.StatusCode)}}
	if serr.Code != "" {
		headers["x-ms-copy-source-error-code"] = serr.Code
		fields = append(fields, xmlField{"CopySourceErrorCode", serr.Code})
	}
	fields = append(fields, xmlField{"CopySourceErrorMessage", srcMsg})
	writeAzureError(w, r, status, "CannotVerifyCopySource", http.StatusText(sresp.StatusCode), headers, fields...)
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func newCRC() hash.Hash64 { return crc64.New(azureCRC64) }
