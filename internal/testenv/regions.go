package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// A RegionalS3 is an S3 account spread over several regions: one versitygw
// per region (versitygw serves a single region; it checks each signature's
// credential scope against it and refuses another LocationConstraint),
// all with the same root credentials, behind a router on 127.0.0.1 that
// plays S3's endpoint with path-style addressing:
//
//   - ListBuckets (GET /) is authenticated by the server of the region the
//     request is signed for (the first region's when it names none), then
//     answered by the router with every server's buckets, sorted by name,
//     each with its BucketRegion, as S3 lists them. It honours prefix,
//     bucket-region, max-buckets and continuation-token (an opaque token
//     of the router's).
//   - CreateBucket goes to the server of the body's LocationConstraint (no
//     constraint: the first region), unless the bucket exists already; it
//     must be signed for that region, as at the region's own S3 endpoint.
//   - Every other bucket-addressed request goes to the server that holds
//     the bucket (a bucket the router does not know: the signing region's
//     server, which answers NoSuchBucket), unchanged, Host header
//     included, so the signature is checked by the bucket's region: a
//     request signed for another region fails there as at S3 (versitygw:
//     400 AuthorizationHeaderMalformed, or AuthorizationQueryParametersError
//     for a presigned URL). On such answers (400, 301) and on every HeadBucket
//     answer the router adds x-amz-bucket-region, as S3 does, when the
//     server did not.
//
// GetBucketLocation is forwarded like any bucket request, so, unlike at S3,
// it must be signed for the bucket's region. The router learns where
// buckets are from its own listings, refreshed whenever a request names a
// bucket it does not know, so buckets made directly on a server are found
// too.
type RegionalS3 struct {
	Endpoint  string // the router: http://127.0.0.1:PORT
	AccessKey string
	SecretKey string

	regions []string
	servers map[string]*S3Server    // region -> its server
	clients map[string]*s3.Client   // region -> the router's own client of its server
	proxies map[string]http.Handler // region -> reverse proxy to its server
	srv     *http.Server
	dataDir string
	owns    bool

	mu      sync.Mutex
	buckets map[string]string // bucket -> region
	records []RegionalRecord
}

// RegionalOptions configure StartRegionalS3.
type RegionalOptions struct {
	// Regions names the regions, one server each; the first one takes
	// CreateBucket without a LocationConstraint. Empty means us-east-1 only.
	Regions  []string
	ToolsDir string    // where InstallTools put versitygw; "" means ToolsDir()
	DataDir  string    // "" means a new temporary directory, removed by Stop
	Log      io.Writer // progress lines; nil discards
}

// RegionalRecord is one request the router saw.
type RegionalRecord struct {
	Method        string
	Bucket        string // "" for service-level requests
	Key           string
	SigningRegion string // the credential scope's region (header or X-Amz-Credential), "" when unsigned
	Presigned     bool   // X-Amz-Signature in the query
	ServedBy      string // the region whose server the request went to (for ListBuckets: the one that authenticated it)
	Status        int    // the status answered (recorded before the body is sent)
}

// StartRegionalS3 starts one versitygw per region and the router before
// them. On error everything started is stopped.
func StartRegionalS3(ctx context.Context, opts RegionalOptions) (rs *RegionalS3, err error) {
	regions := opts.Regions
	if len(regions) == 0 {
		regions = []string{S3Region}
	}
	seen := map[string]bool{}
	for _, r := range regions {
		if r == "" || seen[r] {
			return nil, fmt.Errorf("testenv: regions %q: each must be named once", regions)
		}
		seen[r] = true
	}
	dir, owns, err := dataDir(opts.DataDir, "migrate-regional-s3-*")
	if err != nil {
		return nil, err
	}
	rs = &RegionalS3{
		AccessKey: S3AccessKey,
		SecretKey: S3SecretKey,
		regions:   slices.Clone(regions),
		servers:   map[string]*S3Server{},
		clients:   map[string]*s3.Client{},
		proxies:   map[string]http.Handler{},
		dataDir:   dir,
		owns:      owns,
		buckets:   map[string]string{},
	}
	defer func() {
		if err != nil {
			rs.Stop()
			rs = nil
		}
	}()
	for _, region := range regions {
		sub := filepath.Join(dir, region)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return rs, err
		}
		srv, err := StartS3(ctx, S3Options{ToolsDir: opts.ToolsDir, DataDir: sub, Region: region, Log: opts.Log})
		if err != nil {
			return rs, fmt.Errorf("testenv: versitygw for %s: %w", region, err)
		}
		rs.servers[region] = srv
		if rs.clients[region], err = srv.NewClient(ctx); err != nil {
			return rs, err
		}
		target, err := url.Parse(srv.Endpoint)
		if err != nil {
			return rs, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		rs.proxies[region] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Host = pr.In.Host // SigV4 signed the router's host
			},
			ModifyResponse: rs.addBucketRegion,
			Transport:      tr,
			FlushInterval:  -1,
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rs, err
	}
	rs.Endpoint = "http://" + ln.Addr().String()
	rs.srv = &http.Server{Handler: rs, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = rs.srv.Serve(ln) }()
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "testenv: regional S3 router on %s for %s\n", rs.Endpoint, strings.Join(regions, ", "))
	return rs, nil
}

// Regions returns the regions, first the one that takes CreateBucket
// without a LocationConstraint.
func (rs *RegionalS3) Regions() []string { return slices.Clone(rs.regions) }

// Server returns the versitygw of region, nil for a region not served.
// Requests sent to it directly bypass the router.
func (rs *RegionalS3) Server(region string) *S3Server { return rs.servers[region] }

// NewClient returns a raw client of the router signing for region (see
// NewS3Client); CreateBucket through it makes buckets in that region when
// given the region as LocationConstraint (none for the first region).
func (rs *RegionalS3) NewClient(ctx context.Context, region string) (*s3.Client, error) {
	return NewS3Client(ctx, rs.Endpoint, region, rs.AccessKey, rs.SecretKey)
}

// CreateBucket makes bucket in region through the router, with the
// LocationConstraint S3 wants (none for us-east-1).
func (rs *RegionalS3) CreateBucket(ctx context.Context, bucket, region string) error {
	c, err := rs.NewClient(ctx, region)
	if err != nil {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err = c.CreateBucket(ctx, in)
	return err
}

// Records returns a copy of the requests the router has answered, in the
// order their answers began. A request's record is there before the first
// byte of its answer's body is sent.
func (rs *RegionalS3) Records() []RegionalRecord {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.records)
}

// ResetRecords forgets the records.
func (rs *RegionalS3) ResetRecords() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.records = nil
}

// Stop stops the router and every server, and removes the data directory
// when StartRegionalS3 created it.
func (rs *RegionalS3) Stop() error {
	if rs == nil {
		return nil
	}
	var errs []error
	if rs.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := rs.srv.Shutdown(ctx); err != nil {
			errs = append(errs, rs.srv.Close())
		}
		cancel()
	}
	for _, region := range rs.regions {
		if srv := rs.servers[region]; srv != nil {
			errs = append(errs, srv.Stop())
		}
	}
	if rs.owns {
		errs = append(errs, os.RemoveAll(rs.dataDir))
	}
	return errors.Join(errs...)
}

// routeInfo travels with a forwarded request to addBucketRegion.
type routeInfo struct {
	bucket        string
	bucketRegion  string // "" when the router does not know the bucket
	signingRegion string
	headBucket    bool
}

type routeInfoKey struct{}

func (rs *RegionalS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key := splitS3Path(r.URL.Path)
	rw := &recordingWriter{ResponseWriter: w, rs: rs, rec: RegionalRecord{
		Method:        r.Method,
		Bucket:        bucket,
		Key:           key,
		SigningRegion: signingRegion(r),
		Presigned:     r.URL.Query().Get("X-Amz-Signature") != "",
	}}
	rs.serve(rw, r, bucket, key, rw.rec.SigningRegion)
	if !rw.recorded {
		rw.record(http.StatusOK) // nothing written: net/http sends 200
	}
}

// recordingWriter appends its request's record as soon as the status is
// known, before any byte of the body is sent: whoever has read an answer
// finds its record in Records.
type recordingWriter struct {
	http.ResponseWriter
	rs       *RegionalS3
	rec      RegionalRecord
	recorded bool
}

func (rw *recordingWriter) record(status int) {
	rw.rec.Status, rw.recorded = status, true
	rw.rs.mu.Lock()
	rw.rs.records = append(rw.rs.records, rw.rec)
	rw.rs.mu.Unlock()
}

func (rw *recordingWriter) WriteHeader(code int) {
	if !rw.recorded && code >= 200 { // 1xx answers are not the answer
		rw.record(code)
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recordingWriter) Write(b []byte) (int, error) {
	if !rw.recorded {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *recordingWriter) Flush() {
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// serve answers r, naming in w's record the region whose server answers.
func (rs *RegionalS3) serve(w *recordingWriter, r *http.Request, bucket, key, signed string) {
	home := signed // the server a request for no known bucket goes to
	if rs.servers[home] == nil {
		home = rs.regions[0]
	}
	if bucket == "" {
		if r.Method == http.MethodGet {
			w.rec.ServedBy = home
			rs.listBuckets(w, r, home)
			return
		}
		w.rec.ServedBy = home
		rs.forward(w, r, home, routeInfo{signingRegion: signed})
		return
	}
	region, known := rs.lookup(r.Context(), bucket)
	info := routeInfo{bucket: bucket, signingRegion: signed,
		headBucket: r.Method == http.MethodHead && key == "" && isPlainBucketRequest(r.URL.Query())}
	if known {
		info.bucketRegion = region
	}
	switch {
	case !known && r.Method == http.MethodPut && key == "" && isPlainBucketRequest(r.URL.Query()):
		// CreateBucket: to the region the body names.
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		region = rs.regions[0]
		var cfg struct {
			LocationConstraint string
		}
		if len(bytes.TrimSpace(body)) > 0 && xml.Unmarshal(body, &cfg) == nil && cfg.LocationConstraint != "" {
			region = cfg.LocationConstraint
		}
		if rs.servers[region] == nil {
			// Not a region of this rig: the home server refuses it as
			// S3 refuses an unknown region.
			region = home
		}
		w.rec.ServedBy = region
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		rs.forward(cw, r, region, info)
		if cw.status/100 == 2 {
			rs.mu.Lock()
			rs.buckets[bucket] = region
			rs.mu.Unlock()
		}
	case !known:
		w.rec.ServedBy = home
		rs.forward(w, r, home, info)
	case r.Method == http.MethodDelete && key == "" && isPlainBucketRequest(r.URL.Query()):
		w.rec.ServedBy = region
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		rs.forward(cw, r, region, info)
		if cw.status/100 == 2 {
			rs.mu.Lock()
			delete(rs.buckets, bucket)
			rs.mu.Unlock()
		}
	default:
		w.rec.ServedBy = region
		rs.forward(w, r, region, info)
	}
}

func (rs *RegionalS3) forward(w http.ResponseWriter, r *http.Request, region string, info routeInfo) {
	r = r.WithContext(context.WithValue(r.Context(), routeInfoKey{}, info))
	rs.proxies[region].ServeHTTP(w, r)
}

// addBucketRegion adds x-amz-bucket-region where S3 sends it and the
// server did not: on HeadBucket answers, and on the 400 and 301 answers to
// requests signed for another region than the bucket's.
func (rs *RegionalS3) addBucketRegion(resp *http.Response) error {
	info, _ := resp.Request.Context().Value(routeInfoKey{}).(routeInfo)
	if info.bucketRegion == "" || resp.Header.Get("X-Amz-Bucket-Region") != "" {
		return nil
	}
	wrongRegion := info.signingRegion != info.bucketRegion &&
		(resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusMovedPermanently)
	if info.headBucket || wrongRegion {
		resp.Header.Set("X-Amz-Bucket-Region", info.bucketRegion)
	}
	return nil
}

// isPlainBucketRequest says whether a bucket-level query names no
// subresource (?location, ?tagging, ?uploads, ...), i.e. the request is
// CreateBucket, DeleteBucket or HeadBucket rather than a bucket
// subresource's operation. The SDK's x-id is not a subresource.
func isPlainBucketRequest(q url.Values) bool {
	for k := range q {
		if k != "x-id" && !strings.HasPrefix(k, "X-Amz-") {
			return false
		}
	}
	return true
}

// signingRegion returns the region of a SigV4 credential scope
// (AKID/DATE/REGION/SERVICE/aws4_request), from the Authorization header or
// a presigned URL's X-Amz-Credential; "" when the request is not signed so.
func signingRegion(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if cred == "" {
		auth := r.Header.Get("Authorization")
		_, after, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(after, ",")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[2]
}

// lookup returns the region of bucket, refreshing the router's map from
// every server once when the bucket is not in it.
func (rs *RegionalS3) lookup(ctx context.Context, bucket string) (string, bool) {
	rs.mu.Lock()
	region, ok := rs.buckets[bucket]
	rs.mu.Unlock()
	if ok {
		return region, true
	}
	if _, err := rs.allBuckets(ctx); err != nil {
		return "", false
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	region, ok = rs.buckets[bucket]
	return region, ok
}

// listedBucket is one bucket of the merged listing.
type listedBucket struct {
	Name         string
	CreationDate time.Time
	BucketRegion string
}

// allBuckets lists every server's buckets with the router's own
// credentials, records where each is, and returns them sorted by name.
func (rs *RegionalS3) allBuckets(ctx context.Context) ([]listedBucket, error) {
	var all []listedBucket
	where := map[string]string{}
	for _, region := range rs.regions {
		p := s3.NewListBucketsPaginator(rs.clients[region], &s3.ListBucketsInput{MaxBuckets: aws.Int32(1000)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("testenv: list the buckets of %s: %w", region, err)
			}
			for _, b := range page.Buckets {
				name := aws.ToString(b.Name)
				if other, dup := where[name]; dup {
					return nil, fmt.Errorf("testenv: bucket %s exists in %s and %s", name, other, region)
				}
				where[name] = region
				all = append(all, listedBucket{Name: name, CreationDate: aws.ToTime(b.CreationDate), BucketRegion: region})
			}
		}
	}
	rs.mu.Lock()
	rs.buckets = where
	rs.mu.Unlock()
	slices.SortFunc(all, func(a, b listedBucket) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

const s3XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

type listAllMyBucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	XMLNS   string   `xml:"xmlns,attr"`
	Owner   struct {
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName,omitempty"`
	} `xml:"Owner"`
	Buckets []struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion"`
	} `xml:"Buckets>Bucket"`
	ContinuationToken string `xml:"ContinuationToken,omitempty"`
	Prefix            string `xml:"Prefix,omitempty"`
}

// listBuckets answers ListBuckets with every server's buckets, once the
// home server (the signing region's) has accepted the request.
func (rs *RegionalS3) listBuckets(w http.ResponseWriter, r *http.Request, home string) {
	// Authentication: the home server answers the very request.
	auth := httptest.NewRecorder()
	rs.forward(auth, r, home, routeInfo{signingRegion: signingRegion(r)})
	if auth.Code != http.StatusOK {
		for k, v := range auth.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(auth.Code)
		_, _ = w.Write(auth.Body.Bytes())
		return
	}
	var owner listAllMyBucketsResult
	_ = xml.Unmarshal(auth.Body.Bytes(), &owner)

	q := r.URL.Query()
	limit := -1
	if s := q.Get("max-buckets"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeS3Error(w, r, http.StatusBadRequest, "", "")
			return
		}
		limit = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			writeS3Error(w, r, http.StatusBadRequest, "", "")
			return
		}
		after = string(b)
	}
	all, err := rs.allBuckets(r.Context())
	if err != nil {
		writeS3Error(w, r, http.StatusInternalServerError, "", "")
		return
	}
	res := listAllMyBucketsResult{XMLNS: s3XMLNS, Owner: owner.Owner, Prefix: q.Get("prefix")}
	for _, b := range all {
		if b.Name <= after && after != "" ||
			!strings.HasPrefix(b.Name, res.Prefix) ||
			q.Get("bucket-region") != "" && b.BucketRegion != q.Get("bucket-region") {
			continue
		}
		if limit >= 0 && len(res.Buckets) == limit {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[len(res.Buckets)-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, struct {
			Name         string `xml:"Name"`
			CreationDate string `xml:"CreationDate"`
			BucketRegion string `xml:"BucketRegion"`
		}{b.Name, b.CreationDate.UTC().Format("2006-01-02T15:04:05.000Z"), b.BucketRegion})
	}
	body, err := xml.Marshal(res)
	if err != nil {
		writeS3Error(w, r, http.StatusInternalServerError, "", "")
		return
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
