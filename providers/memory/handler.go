package memory

import (
	"crypto/hmac"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// Handler serves presigned GETs: GET /bucket/key?Expires=unix&Signature=hex
// (with versionId before Signature when the URL pins a version). Signature is
// hex(hmac-sha256(secret, "GET\n/escaped-bucket/escaped-key\nexpires\nversion")). It answers like S3: 200 with
// the object, 206 with Content-Range for a satisfiable single Range
// (bytes=a-b, bytes=a-, bytes=-n), 416 for an unsatisfiable one, the whole
// object for a Range it cannot parse; 412 PreconditionFailed when If-Match
// names no ETag the object has (quoted or not, as S3 accepts, or "*"); 403
// for a bad or missing signature or an expired URL, 404 for a missing bucket
// or object, 405 for other methods.
// Errors carry an S3-style XML body.
func (s *Store) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	bucket, key, ok := splitPath(r.URL.EscapedPath())
	where := bucket + "/" + key
	s.callsMu.Lock()
	s.calls["Serve"]++
	s.callsMu.Unlock()
	if s.opts.Fault != nil {
		if err := s.opts.Fault("Serve", where); err != nil {
			status := statusOf(providers.KindOf(err))
			writeError(w, status, "InjectedFault", err.Error())
			return
		}
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is presigned")
		return
	}
	if !ok {
		writeError(w, http.StatusForbidden, "AccessDenied", "not a presigned object URL")
		return
	}
	q := r.URL.Query()
	exp, sig, version := q.Get(paramExpires), q.Get(paramSignature), q.Get(paramVersion)
	path := "/" + url.PathEscape(bucket) + "/" + url.PathEscape(key)
	want := s.sign(r.Method, path, exp, version)
	if sig == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		writeError(w, http.StatusForbidden, "SignatureDoesNotMatch", "the request signature does not match")
		return
	}
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.opts.Clock().Before(time.Unix(expUnix, 0)) {
		writeError(w, http.StatusForbidden, "AccessDenied", "request has expired")
		return
	}
	s.mu.Lock()
	b := s.buckets[bucket]
	var e *entry
	if b != nil {
		e = b.objects[key]
	}
	s.mu.Unlock()
	switch {
	case b == nil:
		writeError(w, http.StatusNotFound, "NoSuchBucket", "the specified bucket does not exist")
		return
	case e == nil:
		writeError(w, http.StatusNotFound, "NoSuchKey", "the specified key does not exist")
		return
	}

	if im := r.Header.Get("If-Match"); im != "" && !etagMatches(im, e.etag()) {
		writeError(w, http.StatusPreconditionFailed, "PreconditionFailed", "at least one of the pre-conditions you specified did not hold")
		return
	}

	size := int64(len(e.data))
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	props := e.properties()
	h.Set("ETag", `"`+e.etag()+`"`)
	h.Set("Last-Modified", e.lastModified().Format(http.TimeFormat))
	ct := props.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for name, v := range map[string]string{
		"Content-Encoding":    props.ContentEncoding,
		"Content-Disposition": props.ContentDisposition,
		"Content-Language":    props.ContentLanguage,
		"Cache-Control":       props.CacheControl,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
	for k, v := range props.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}

	start, end, status := int64(0), size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" {
		a, z, res := parseRange(rh, size)
		switch res {
		case rangeUnsatisfiable:
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			writeError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "the requested range is not satisfiable")
			return
		case rangeOK:
			start, end, status = a, z, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	n, _ := w.Write(e.data[start:end])
	s.served.Add(int64(n))
}

// etagMatches reports whether an If-Match value names etag (unquoted):
// "*", or a comma-separated list of ETags, each quoted or not (S3 accepts
// both).
func etagMatches(ifMatch, etag string) bool {
	for v := range strings.SplitSeq(ifMatch, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

// splitPath splits an escaped "/bucket/key" path; the key may hold any
// bytes, escaped "/" included.
func splitPath(p string) (bucket, key string, ok bool) {
	p = strings.TrimPrefix(p, "/")
	eb, ek, found := strings.Cut(p, "/")
	if !found || eb == "" || ek == "" {
		return "", "", false
	}
	bucket, err1 := url.PathUnescape(eb)
	key, err2 := url.PathUnescape(ek)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return bucket, key, true
}

type rangeResult int

const (
	rangeIgnored       rangeResult = iota // unparseable or multiple: serve all
	rangeOK                               // [start, end) is satisfiable
	rangeUnsatisfiable                    // 416
)

// parseRange parses one "bytes=" range against size, returning the half-open
// [start, end) it selects, the way S3 does.
func parseRange(h string, size int64) (start, end int64, res rangeResult) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, rangeIgnored
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, rangeIgnored
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, rangeIgnored
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		return max(size-n, 0), size, rangeOK
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, rangeIgnored
	}
	z := size - 1
	if last != "" {
		z, err = strconv.ParseInt(last, 10, 64)
		if err != nil || z < a {
			return 0, 0, rangeIgnored
		}
	}
	if a >= size {
		return 0, 0, rangeUnsatisfiable
	}
	return a, min(z, size-1) + 1, rangeOK
}

// statusOf is the HTTP status Handler answers for an injected fault.
func statusOf(k providers.Kind) int {
	switch k {
	case providers.KindNotFound:
		return http.StatusNotFound
	case providers.KindPermission, providers.KindSourceUnreachable:
		return http.StatusForbidden
	case providers.KindThrottled:
		return http.StatusServiceUnavailable
	case providers.KindInvalid:
		return http.StatusBadRequest
	case providers.KindPrecondition:
		return http.StatusPreconditionFailed
	default:
		return http.StatusInternalServerError
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, html.EscapeString(msg))
}
