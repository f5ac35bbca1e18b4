// Package memory is the in-memory reference provider: one *Store holds
// buckets (which double as containers) and implements every interface and
// capability of package providers, as a source and as a destination. It is
// what the pipeline's unit tests run against (with fault injection and
// request counters), what scale tests fill with a million small objects, and
// the first provider the providertest conformance suite must pass. Presigned
// URLs are real: Handler serves them over HTTP with S3-like Range and
// signature behaviour (If-Match included), and the URLIngester methods
// fetch source URLs over HTTP like Azure does, conditional on the URL's
// IfMatch, so no payload passes through the caller. Tags and
// tiers follow the services: a source Stat reports only the number of tags
// (as S3's HEAD does) and Tags fetches them, while StatBlob reports a
// blob's tags and tier; blob writes check tags and tiers against Azure's
// rules.
package memory

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// Compile-time checks: a *Store is every kind of provider.
var (
	_ providers.Source           = (*Store)(nil)
	_ providers.Presigner        = (*Store)(nil)
	_ providers.RangeReader      = (*Store)(nil)
	_ providers.BucketLister     = (*Store)(nil)
	_ providers.TagReader        = (*Store)(nil)
	_ providers.Destination      = (*Store)(nil)
	_ providers.URLIngester      = (*Store)(nil)
	_ providers.BlockStager      = (*Store)(nil)
	_ providers.Limiter          = (*Store)(nil)
	_ providers.ContainerLister  = (*Store)(nil)
	_ providers.BlockLister      = (*Store)(nil)
	_ providers.StartAfterLister = (*Store)(nil)
	_ providers.Deleter          = (*Store)(nil)
)

// MiB is 2^20 bytes.
const MiB = int64(1) << 20

// DefaultLimits are Azure's: the limits a Store states unless told others.
var DefaultLimits = providers.Limits{
	MaxPutBlobFromURL: 5000 * MiB,
	MaxBlockSize:      4000 * MiB,
	MaxBlocks:         50000,
}

// MaxPresignTTL is the longest a presigned URL lives (S3 SigV4's limit).
const MaxPresignTTL = 7 * 24 * time.Hour

// Options configure a Store. The zero value is usable.
type Options struct {
	// Client fetches source URLs for the URLIngester methods
	// (default http.DefaultClient).
	Client *http.Client
	// Limits the Store states and enforces; zero fields take DefaultLimits.
	Limits providers.Limits
	// Clock gives LastModified times and judges URL expiry (default
	// time.Now).
	Clock func() time.Time
	// PageSize is the page size when ListOptions.MaxResults is 0 (default
	// 1000).
	PageSize int
	// Region is the region of buckets created without one (default
	// "us-east-1").
	Region string
	// BaseURL is where Handler is served, e.g. "http://127.0.0.1:1234";
	// without it PresignGet fails with providers.ErrCantServerSide. It can
	// be set later with SetBaseURL.
	BaseURL string
	// Secret keys presigned URL signatures (default: random per Store).
	Secret []byte
	// Fault, when set, is called at the start of every provider method with
	// the operation ("List", "Stat", "Tags", "PresignGet", "OpenRange",
	// "ListBuckets", "EnsureContainer", "StatBlob", "ListBlobs",
	// "ListContainers", "PutBlobFromURL", "StageBlockFromURL",
	// "StageBlock", "CommitBlocks", "UncommittedBlocks", "DeleteBlob")
	// and where it applies ("bucket", "bucket/key"); a non-nil return is
	// returned as is, and nothing else happens. Handler calls it too, with
	// op "Serve": an error is answered with the HTTP status of its kind.
	Fault func(op, where string) error
}

// Store is an in-memory object store: buckets of objects as a source, the
// same buckets as containers of blobs as a destination. It is safe for
// concurrent use.
type Store struct {
	opts   Options
	limits providers.Limits
	secret []byte
	client *http.Client

	mu      sync.Mutex
	buckets map[string]*bucket
	baseURL string

	callsMu sync.Mutex
	calls   map[string]int

	served atomic.Int64
}

// bucket holds one bucket's objects: a map for lookups and a key slice
// sorted lazily (appending keys in ascending order keeps it sorted, so
// seeding a million objects in order never sorts).
type bucket struct {
	region  string
	objects map[string]*entry
	keys    []string // may hold stale (deleted) and duplicate keys until tidy
	sorted  bool
	stale   int // keys deleted since the last tidy
	staged  map[string]*stagedBlob
}

// entry is one object, kept small for stores of millions: data is never
// modified after it is stored, so readers may use it without the lock;
// props is nil when the object has no properties.
type entry struct {
	data   []byte
	md5    [md5.Size]byte
	mod    int64 // LastModified, Unix nanoseconds
	props  *providers.Properties
	blocks []committedBlock // set when committed from blocks
}

type committedBlock struct {
	id     providers.BlockID
	offset int64
	size   int64
}

// stagedBlob holds the uncommitted blocks of one blob.
type stagedBlob struct {
	idLen  int
	blocks map[providers.BlockID][]byte
}

// New returns an empty Store.
func New(o Options) *Store {
	s := &Store{
		opts:    o,
		limits:  o.Limits,
		secret:  o.Secret,
		client:  o.Client,
		buckets: map[string]*bucket{},
		baseURL: strings.TrimRight(o.BaseURL, "/"),
		calls:   map[string]int{},
	}
	if s.limits.MaxPutBlobFromURL == 0 {
		s.limits.MaxPutBlobFromURL = DefaultLimits.MaxPutBlobFromURL
	}
	if s.limits.MaxBlockSize == 0 {
		s.limits.MaxBlockSize = DefaultLimits.MaxBlockSize
	}
	if s.limits.MaxBlocks == 0 {
		s.limits.MaxBlocks = DefaultLimits.MaxBlocks
	}
	if len(s.secret) == 0 {
		s.secret = make([]byte, 32)
		_, _ = rand.Read(s.secret)
	}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	if s.opts.Clock == nil {
		s.opts.Clock = time.Now
	}
	if s.opts.PageSize <= 0 {
		s.opts.PageSize = 1000
	}
	if s.opts.Region == "" {
		s.opts.Region = "us-east-1"
	}
	return s
}

// SetBaseURL sets where Handler is served (e.g. an httptest.Server's URL).
func (s *Store) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// Limits returns the limits the Store enforces.
func (s *Store) Limits() providers.Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits
}

// SetLimits changes the limits the Store states and enforces; zero fields
// take DefaultLimits.
func (s *Store) SetLimits(l providers.Limits) {
	if l.MaxPutBlobFromURL == 0 {
		l.MaxPutBlobFromURL = DefaultLimits.MaxPutBlobFromURL
	}
	if l.MaxBlockSize == 0 {
		l.MaxBlockSize = DefaultLimits.MaxBlockSize
	}
	if l.MaxBlocks == 0 {
		l.MaxBlocks = DefaultLimits.MaxBlocks
	}
	s.mu.Lock()
	s.limits = l
	s.mu.Unlock()
}

// Calls returns how many times op was called (faulted calls included); op
// is a method name as given to Options.Fault, or "Serve" for requests to
// Handler.
func (s *Store) Calls(op string) int {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	return s.calls[op]
}

// BytesServed returns the number of body bytes Handler has sent.
func (s *Store) BytesServed() int64 { return s.served.Load() }

// CreateBucket creates an empty bucket (container) in region ("" for the
// Store's default). An existing bucket is left as it is.
func (s *Store) CreateBucket(name, region string) {
	if region == "" {
		region = s.opts.Region
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; !ok {
		s.buckets[name] = newBucket(region)
	}
}

func newBucket(region string) *bucket {
	return &bucket{region: region, objects: map[string]*entry{}, sorted: true}
}

// Put stores an object (creating the bucket when missing) with a copy of
// data and props; its ETag is the hex MD5 of data. props.Tags are the
// object's tags (Stat counts them, Tags returns them); nothing is
// validated, so a test can seed what S3 allows and Azure does not.
func (s *Store) Put(bucket, key string, data []byte, props providers.Properties) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		b = newBucket(s.opts.Region)
		s.buckets[bucket] = b
	}
	b.put(key, s.newEntry(slices.Clone(data), props))
}

// Get returns a copy of an object's bytes and its info (tags and tier
// included, as StatBlob reports them), and whether it exists.
func (s *Store) Get(bucket, key string) ([]byte, providers.ObjectInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return nil, providers.ObjectInfo{}, false
	}
	e := b.objects[key]
	if e == nil {
		return nil, providers.ObjectInfo{}, false
	}
	return slices.Clone(e.data), e.info(key), true
}

// Delete removes an object; a missing one is not an error.
func (s *Store) Delete(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucket]; b != nil {
		if _, ok := b.objects[key]; ok {
			delete(b.objects, key)
			b.stale++
		}
	}
}

// newEntry builds an entry owning data; props are copied.
func (s *Store) newEntry(data []byte, props providers.Properties) *entry {
	e := &entry{data: data, md5: md5.Sum(data), mod: s.opts.Clock().UnixNano()}
	if p := cloneProps(props); !isZeroProps(p) {
		e.props = &p
	}
	return e
}

func isZeroProps(p providers.Properties) bool {
	return p.ContentType == "" && p.ContentEncoding == "" && p.ContentDisposition == "" &&
		p.ContentLanguage == "" && p.CacheControl == "" && p.ContentMD5 == nil && p.Metadata == nil &&
		p.Tags == nil && p.Tier == ""
}

// cloneProps deep-copies p; empty maps become nil.
func cloneProps(p providers.Properties) providers.Properties {
	p.ContentMD5 = slices.Clone(p.ContentMD5)
	p.Metadata = cloneMap(p.Metadata)
	p.Tags = cloneMap(p.Tags)
	return p
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func (e *entry) etag() string { return hex.EncodeToString(e.md5[:]) }

func (e *entry) lastModified() time.Time { return time.Unix(0, e.mod).UTC() }

// properties returns the entry's properties; callers must not modify them.
func (e *entry) properties() providers.Properties {
	if e.props == nil {
		return providers.Properties{}
	}
	return *e.props
}

func (e *entry) object(key string) providers.Object {
	return providers.Object{
		Key:          key,
		Size:         int64(len(e.data)),
		ETag:         e.etag(),
		LastModified: e.lastModified(),
		StorageClass: "STANDARD",
	}
}

// info is the entry as StatBlob reports it: properties with tags and tier,
// and TagCount.
func (e *entry) info(key string) providers.ObjectInfo {
	p := cloneProps(e.properties())
	return providers.ObjectInfo{Object: e.object(key), Properties: p, TagCount: len(p.Tags)}
}

// put stores e under key; any existing object is replaced whole.
func (b *bucket) put(key string, e *entry) {
	if _, ok := b.objects[key]; !ok {
		if n := len(b.keys); n > 0 && key < b.keys[n-1] {
			b.sorted = false
		}
		b.keys = append(b.keys, key)
	}
	b.objects[key] = e
}

// tidy sorts the key slice and drops stale and duplicate keys.
func (b *bucket) tidy() {
	if b.sorted && b.stale == 0 {
		return
	}
	if !b.sorted {
		slices.Sort(b.keys)
	}
	b.keys = slices.Compact(b.keys)
	if b.stale > 0 {
		b.keys = slices.DeleteFunc(b.keys, func(k string) bool { _, ok := b.objects[k]; return !ok })
	}
	b.sorted, b.stale = true, 0
}

// page returns up to max objects under prefix after key after (exclusive,
// "" for the start), and whether more follow.
func (b *bucket) page(prefix, after string, max int) ([]providers.Object, bool) {
	b.tidy()
	start := sort.SearchStrings(b.keys, prefix)
	if after != "" && after >= prefix {
		start = sort.Search(len(b.keys), func(i int) bool { return b.keys[i] > after })
	}
	var objs []providers.Object
	for i := start; i < len(b.keys); i++ {
		k := b.keys[i]
		if !strings.HasPrefix(k, prefix) {
			break
		}
		if len(objs) == max {
			return objs, true
		}
		objs = append(objs, b.objects[k].object(k))
	}
	return objs, false
}
