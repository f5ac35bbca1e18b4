package testenv

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultTarget is the service a FaultProxy stands before; it decides the
// shape of the errors the proxy answers with.
type FaultTarget int

const (
	// FaultS3: S3 XML errors, 503 SlowDown and 500 InternalError.
	FaultS3 FaultTarget = iota
	// FaultAzure: Azure XML errors with x-ms-error-code, 503 ServerBusy and
	// 500 OperationTimedOut.
	FaultAzure
)

func (t FaultTarget) String() string {
	switch t {
	case FaultS3:
		return "s3"
	case FaultAzure:
		return "azure"
	}
	return "target(" + strconv.Itoa(int(t)) + ")"
}

// FaultOptions configure NewFaultProxy. The three fractions are of the
// requests the proxy may fault; their sum must not exceed 1.
type FaultOptions struct {
	Target      FaultTarget
	Throttle    float64 // answered 503 (SlowDown / ServerBusy)
	ServerError float64 // answered 500 (InternalError / OperationTimedOut)
	Reset       float64 // connection reset (RST) without an answer
	// Seed makes the faults reproducible: the same request (see
	// FaultProxy) gets the same fate on its n-th arrival for a given seed,
	// whatever the order in which concurrent requests arrive.
	Seed uint64
	// RetryAfter, when positive, is sent with every 503 as Retry-After
	// (whole seconds, rounded up).
	RetryAfter time.Duration
	// Eligible, when set, limits faults to the requests it accepts; the
	// others are always forwarded.
	Eligible func(*http.Request) bool
}

// FaultStats counts what a FaultProxy did.
type FaultStats struct {
	Requests     int64 // requests received
	Forwarded    int64 // passed to the target
	Throttled    int64 // answered 503
	ServerErrors int64 // answered 500
	Resets       int64 // connections reset
	// Spared counts requests that drew a fault but were forwarded because
	// the previous arrival of the same request had been faulted.
	Spared int64
}

// Faults is the number of requests faulted in any way.
func (s FaultStats) Faults() int64 { return s.Throttled + s.ServerErrors + s.Resets }

func (s FaultStats) String() string {
	return fmt.Sprintf("%d requests: %d forwarded, %d faulted (%d × 503, %d × 500, %d resets), %d spared",
		s.Requests, s.Forwarded, s.Faults(), s.Throttled, s.ServerErrors, s.Resets, s.Spared)
}

// FaultProxy is a reverse proxy that answers a fraction of the requests
// with a throttling error, a server error or a reset connection, and
// forwards the rest unchanged (the Host header included, so SigV4
// signatures and presigned URLs made for the proxy's URL verify at the
// target). Put it before versitygw, or before an S3Proxy, as the tool's S3
// endpoint (presigned URLs then point at it, so the fetches Azure's side
// makes are faulted too), and before a CopySourceFront as the tool's Azure
// endpoint.
//
// A request is identified by its method, path, query (without the SigV4
// and SAS parameters, which change from one presigning or signing to the
// next) and range headers: a retry of a request is the same request. The
// proxy never faults a request whose previous arrival it faulted, so every
// retry after a fault gets through, and a client retrying at least once
// per fault always succeeds.
type FaultProxy struct {
	// URL is http://127.0.0.1:PORT.
	URL string

	opts  FaultOptions
	proxy *httputil.ReverseProxy
	srv   *http.Server

	mu   sync.Mutex
	seen map[string]*faultHistory

	disabled                                                atomic.Bool
	requests, forwarded, throttled, serverErrs, resets, spd atomic.Int64

	closeOnce sync.Once
}

type faultHistory struct {
	arrivals    uint64
	lastFaulted bool
}

type faultKind int

const (
	faultNone faultKind = iota
	faultThrottle
	faultServerError
	faultReset
)

// NewFaultProxy starts a fault proxy on a free 127.0.0.1 port forwarding
// to target (http://host:port, any path ignored).
func NewFaultProxy(target string, opts FaultOptions) (*FaultProxy, error) {
	tu, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if tu.Scheme != "http" && tu.Scheme != "https" || tu.Host == "" {
		return nil, fmt.Errorf("testenv: fault proxy target %q is not an http(s) URL", target)
	}
	for _, f := range []float64{opts.Throttle, opts.ServerError, opts.Reset} {
		if f < 0 || f > 1 || math.IsNaN(f) {
			return nil, fmt.Errorf("testenv: fault fraction %v outside [0,1]", f)
		}
	}
	if opts.Throttle+opts.ServerError+opts.Reset > 1+1e-9 {
		return nil, fmt.Errorf("testenv: fault fractions add up to more than 1")
	}
	if opts.Target != FaultS3 && opts.Target != FaultAzure {
		return nil, fmt.Errorf("testenv: unknown fault target %d", opts.Target)
	}
	tu.Path, tu.RawPath, tu.RawQuery = "", "", ""
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 64
	p := &FaultProxy{URL: "http://" + ln.Addr().String(), opts: opts, seen: map[string]*faultHistory{}}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(tu)
			pr.Out.Host = pr.In.Host
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// SetEnabled turns faulting on (the default) or off; a disabled proxy
// forwards everything and counts only Requests and Forwarded.
func (p *FaultProxy) SetEnabled(on bool) { p.disabled.Store(!on) }

// Stats returns the counters so far.
func (p *FaultProxy) Stats() FaultStats {
	return FaultStats{
		Requests:     p.requests.Load(),
		Forwarded:    p.forwarded.Load(),
		Throttled:    p.throttled.Load(),
		ServerErrors: p.serverErrs.Load(),
		Resets:       p.resets.Load(),
		Spared:       p.spd.Load(),
	}
}

// Close stops the proxy.
func (p *FaultProxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err = p.srv.Shutdown(ctx); err != nil {
			err = p.srv.Close()
		}
	})
	return err
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	switch p.decide(r) {
	case faultThrottle:
		p.throttled.Add(1)
		if p.opts.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((p.opts.RetryAfter+time.Second-1)/time.Second), 10))
		}
		p.writeError(w, r, http.StatusServiceUnavailable)
	case faultServerError:
		p.serverErrs.Add(1)
		p.writeError(w, r, http.StatusInternalServerError)
	case faultReset:
		p.resets.Add(1)
		resetConnection(w)
	default:
		p.forwarded.Add(1)
		p.proxy.ServeHTTP(w, r)
	}
}

// decide draws the fate of r's arrival.
func (p *FaultProxy) decide(r *http.Request) faultKind {
	if p.disabled.Load() || (p.opts.Eligible != nil && !p.opts.Eligible(r)) {
		return faultNone
	}
	key := requestKey(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.seen[key]
	if h == nil {
		h = &faultHistory{}
		p.seen[key] = h
	}
	h.arrivals++
	k := p.draw(key, h.arrivals)
	if k != faultNone && h.lastFaulted {
		p.spd.Add(1)
		k = faultNone
	}
	h.lastFaulted = k != faultNone
	return k
}

// draw maps (seed, request, arrival) to a fault by a hash, so the outcome
// does not depend on the order of concurrent requests.
func (p *FaultProxy) draw(key string, n uint64) faultKind {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], p.opts.Seed)
	binary.LittleEndian.PutUint64(b[8:], n)
	h.Write(b[:])
	h.Write([]byte(key))
	x := h.Sum64()
	// Finalize (splitmix64) so nearby inputs spread over [0,1).
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	u := float64(x>>11) / (1 << 53)
	switch o := p.opts; {
	case u < o.Throttle:
		return faultThrottle
	case u < o.Throttle+o.ServerError:
		return faultServerError
	case u < o.Throttle+o.ServerError+o.Reset:
		return faultReset
	}
	return faultNone
}

// authParams are query parameters of SigV4 presigned URLs and Azure SAS
// tokens: they differ between two signings of the same request.
var authParams = map[string]bool{
	"sv": true, "ss": true, "srt": true, "sp": true, "se": true, "st": true, "spr": true, "sig": true,
	"sr": true, "si": true, "sip": true, "skoid": true, "sktid": true, "skt": true, "ske": true, "sks": true,
	"skv": true, "sdd": true, "ses": true, "rscc": true, "rscd": true, "rsce": true, "rscl": true, "rsct": true,
}

// requestKey identifies a request across retries.
func requestKey(r *http.Request) string {
	q := r.URL.Query()
	for name := range q {
		if authParams[name] || strings.HasPrefix(strings.ToLower(name), "x-amz-") {
			q.Del(name)
		}
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(r.URL.EscapedPath())
	b.WriteByte('?')
	b.WriteString(q.Encode())
	for _, h := range []string{"Range", "X-Ms-Range", "X-Ms-Source-Range"} {
		if v := r.Header.Get(h); v != "" {
			b.WriteString(" " + h + "=" + v)
		}
	}
	return b.String()
}

func (p *FaultProxy) writeError(w http.ResponseWriter, r *http.Request, status int) {
	if p.opts.Target == FaultS3 {
		bucket, key := splitS3Path(r.URL.Path)
		writeS3Error(w, r, status, bucket, key)
		return
	}
	code, msg := "ServerBusy", "The server is busy."
	if status == http.StatusInternalServerError {
		code, msg = "OperationTimedOut", "Operation could not be completed within the specified time."
	}
	writeAzureError(w, r, status, code, msg, nil)
}

// resetConnection drops the client's connection with a TCP RST, before any
// response byte (the client sees "connection reset by peer").
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
