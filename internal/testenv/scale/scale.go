// Package scale is a light fake of S3 and Azure Blob Storage for the scale
// benchmarks: two HTTP servers on 127.0.0.1 that speak just enough of each
// API for the real providers (providers/s3, providers/azure) and the real
// pipeline to copy through them, presenting millions of synthetic objects
// without storing their bytes. Object i of the bucket has key Key(i), a size
// given by a formula, an ETag and metadata derived from i, and tags when
// Options.TagEvery says so; the key space is spread over Options.Dirs
// prefixes. Every request waits Options.Latency (a timer, no lock held)
// and is counted by operation.
//
// The S3 side answers ListObjectsV2 (pagination, prefix, start-after),
// HeadBucket, HeadObject, GetObjectTagging and GetObject with a Range (bytes
// made on the fly). The Azure side answers Create Container, Put Blob From
// URL, Put Block From URL, Put Block, Put Block List, Get Block List, Get
// Blob Properties and List Blobs. It checks no signature, and it never
// fetches a copy source: it records that Azure would (FetchBytes), because
// fetching is the service's work, not the client's, and the benchmarks
// measure the client. Written blobs named Key(i) are remembered as one bit
// each, so a million of them cost 125 KB.
//
// This is benchmark infrastructure; the tool never imports it.
package scale

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one kind of request the fake serves.
type Op int

// Operations counted by the fake.
const (
	ListObjects Op = iota
	HeadBucket
	HeadObject
	GetObjectTagging
	GetObject
	CreateContainer
	PutBlobFromURL
	PutBlockFromURL
	PutBlock
	PutBlockList
	GetBlockList
	GetBlobProperties
	ListBlobs
	Other // anything the fake does not speak: answered 400
	numOps
)

var opNames = [numOps]string{"ListObjectsV2", "HeadBucket", "HeadObject", "GetObjectTagging", "GetObject",
	"CreateContainer", "PutBlobFromURL", "PutBlockFromURL", "PutBlock", "PutBlockList", "GetBlockList",
	"GetBlobProperties", "ListBlobs", "Other"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Options configure Start.
type Options struct {
	// Bucket is the one bucket the S3 side has (default "bench").
	Bucket string
	// Objects is how many objects it holds.
	Objects int
	// Dirs spreads the keys over this many prefixes, "p0000/" and up
	// (default 100).
	Dirs int
	// Size gives object i's size (default SmallSize).
	Size func(i int) int64
	// TagEvery gives every TagEvery-th object (i % TagEvery == 0) two tags;
	// 0 means no object has tags.
	TagEvery int
	// Latency is added to every request, S3 and Azure alike; SetLatency
	// changes it later.
	Latency time.Duration
	// Account is the Azure storage account name in the service URL
	// (default "devstoreaccount1").
	Account string
}

// SmallSize is the default size formula: 1 KiB to 64 KiB, spread evenly.
func SmallSize(i int) int64 { return 1024 + int64(uint32(i)*2654435761%(63*1024)) }

// Fake is a running pair of fake servers.
type Fake struct {
	// S3URL is the S3 endpoint (path-style), e.g. http://127.0.0.1:PORT.
	S3URL string
	// AzureURL is the blob service URL, http://127.0.0.1:PORT/ACCOUNT.
	AzureURL string

	o       Options
	latency atomic.Int64
	ops     [numOps]atomic.Int64

	// Tagging requests split by whether the object has tags.
	tagsTagged, tagsUntagged atomic.Int64
	// fetchBytes is what Azure would have pulled from copy sources.
	fetchBytes atomic.Int64
	// sentBytes and receivedBytes are body bytes the fake wrote and read
	// (GetObject payload, listings, XML; Put Block bodies).
	sentBytes, receivedBytes atomic.Int64

	mu         sync.Mutex
	containers map[string]*container

	servers []*http.Server
}

// container is what the Azure side remembers of one container.
type container struct {
	mu      sync.Mutex
	written []uint64         // bit i: blob Key(i) committed
	extra   map[string]int64 // other blob names and their sizes
}

// Start starts both servers on 127.0.0.1.
func Start(o Options) (*Fake, error) {
	if o.Bucket == "" {
		o.Bucket = "bench"
	}
	if o.Dirs <= 0 {
		o.Dirs = 100
	}
	if o.Dirs > 10000 {
		return nil, errors.New("scale: at most 10000 dirs")
	}
	if o.Objects < 0 || o.Objects > 1e9 {
		return nil, errors.New("scale: 0 to 1e9 objects")
	}
	if o.Size == nil {
		o.Size = SmallSize
	}
	if o.Account == "" {
		o.Account = "devstoreaccount1"
	}
	f := &Fake{o: o, containers: map[string]*container{}}
	f.latency.Store(int64(o.Latency))
	s3URL, err := f.serve(http.HandlerFunc(f.serveS3))
	if err != nil {
		return nil, err
	}
	azURL, err := f.serve(http.HandlerFunc(f.serveAzure))
	if err != nil {
		f.Close()
		return nil, err
	}
	f.S3URL, f.AzureURL = s3URL, azURL+"/"+o.Account
	return f, nil
}

func (f *Fake) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	f.servers = append(f.servers, srv)
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed on Close
	return "http://" + ln.Addr().String(), nil
}

// Close stops both servers.
func (f *Fake) Close() error {
	var errs []error
	for _, s := range f.servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Options returns the options the fake runs with (defaults filled in).
func (f *Fake) Options() Options { return f.o }

// SetLatency changes the latency of requests that arrive from now on.
func (f *Fake) SetLatency(d time.Duration) { f.latency.Store(int64(d)) }

// Stats is what the fake counted.
type Stats struct {
	Ops [numOps]int64
	// TagsTagged and TagsUntagged split GetObjectTagging by whether the
	// object has tags.
	TagsTagged, TagsUntagged int64
	// FetchBytes is what Azure would have fetched from copy sources (Put
	// Blob From URL and Put Block From URL): the payload of a server-side
	// copy, which never reached the client.
	FetchBytes int64
	// SentBytes and ReceivedBytes are the body bytes the fake sent to and
	// read from clients.
	SentBytes, ReceivedBytes int64
}

// Requests is the total of requests served.
func (s Stats) Requests() int64 {
	var n int64
	for _, v := range s.Ops {
		n += v
	}
	return n
}

// Sub returns s minus earlier counts, for the requests of one phase.
func (s Stats) Sub(earlier Stats) Stats {
	for i := range s.Ops {
		s.Ops[i] -= earlier.Ops[i]
	}
	s.TagsTagged -= earlier.TagsTagged
	s.TagsUntagged -= earlier.TagsUntagged
	s.FetchBytes -= earlier.FetchBytes
	s.SentBytes -= earlier.SentBytes
	s.ReceivedBytes -= earlier.ReceivedBytes
	return s
}

func (s Stats) String() string {
	var b strings.Builder
	for i, v := range s.Ops {
		if v != 0 {
			fmt.Fprintf(&b, "%s=%d ", Op(i), v)
		}
	}
	fmt.Fprintf(&b, "fetch=%dB sent=%dB received=%dB", s.FetchBytes, s.SentBytes, s.ReceivedBytes)
	return b.String()
}

// Stats returns the counts so far.
func (f *Fake) Stats() Stats {
	var s Stats
	for i := range f.ops {
		s.Ops[i] = f.ops[i].Load()
	}
	s.TagsTagged, s.TagsUntagged = f.tagsTagged.Load(), f.tagsUntagged.Load()
	s.FetchBytes = f.fetchBytes.Load()
	s.SentBytes, s.ReceivedBytes = f.sentBytes.Load(), f.receivedBytes.Load()
	return s
}

// Written reports how many blobs named Key(i) container holds.
func (f *Fake) Written(containerName string) int {
	c := f.container(containerName, false)
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.written {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n + len(c.extra)
}

// Key is the key of object i: "p" + its dir (4 digits) + "/o" + i (9
// digits). Keys sort in the order of i.
func (f *Fake) Key(i int) string {
	return string(f.appendKey(nil, i))
}

func (f *Fake) dir(i int) int { return int(int64(i) * int64(f.o.Dirs) / int64(max(f.o.Objects, 1))) }

func (f *Fake) appendKey(b []byte, i int) []byte {
	b = append(b, 'p')
	b = appendPadded(b, f.dir(i), 4)
	b = append(b, '/', 'o')
	return appendPadded(b, i, 9)
}

func appendPadded(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for n := len(s); n < width; n++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// index returns i such that key is Key(i), or -1.
func (f *Fake) index(key string) int {
	if len(key) != 16 || key[0] != 'p' || key[5] != '/' || key[6] != 'o' {
		return -1
	}
	i, err := strconv.Atoi(key[7:])
	if err != nil || i < 0 || i >= f.o.Objects || f.Key(i) != key {
		return -1
	}
	return i
}

// tagged says whether object i has tags.
func (f *Fake) tagged(i int) bool { return f.o.TagEvery > 0 && i%f.o.TagEvery == 0 }

// etag is object i's ETag (32 hex digits, no quotes).
func etag(i int) string {
	x := uint64(i)*0x9E3779B97F4A7C15 + 0x1234567
	y := x ^ (x>>29)*0xBF58476D1CE4E5B9
	return fmt.Sprintf("%016x%016x", x, y)
}

// modified is every object's last-modified time.
var modified = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// wait holds the request for the configured latency, or until the client
// goes away. It holds no lock.
func (f *Fake) wait(ctx context.Context) {
	d := time.Duration(f.latency.Load())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (f *Fake) count(op Op) { f.ops[op].Add(1) }

// bufPool holds response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (f *Fake) write(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	n, _ := w.Write(body)
	f.sentBytes.Add(int64(n))
}
