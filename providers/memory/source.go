package memory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// begin counts a call, runs the fault hook and checks ctx: every provider
// method starts with it.
func (s *Store) begin(ctx context.Context, op, where string) error {
	s.callsMu.Lock()
	s.calls[op]++
	s.callsMu.Unlock()
	if s.opts.Fault != nil {
		if err := s.opts.Fault(op, where); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return &providers.Error{Kind: providers.KindCanceled, Op: op, Where: where, Err: err}
	}
	return nil
}

func notFound(op, where, code string) error {
	return &providers.Error{Kind: providers.KindNotFound, Op: op, Where: where, Code: code, Status: 404}
}

func invalid(op, where, code, msg string) error {
	return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Code: code, Status: 400, Msg: msg}
}

const tokenPrefix = "m1:"

func encodeToken(lastKey string) string { return providers.KeyToken(tokenPrefix, lastKey) }

func decodeToken(tok string) (string, bool) { return providers.KeyFromToken(tokenPrefix, tok) }

// List returns one page of bucket's objects in ascending byte order of key.
// Tokens name the last key returned, so they stay valid across writes and
// may be reused; a malformed token is Invalid.
func (s *Store) List(ctx context.Context, bucket string, opts providers.ListOptions) (providers.Page, error) {
	return s.list(ctx, "List", "NoSuchBucket", bucket, opts)
}

// ListAfter returns the first page of bucket's objects under opts.Prefix
// whose keys sort after startAfter (S3's start-after; opts.Token is
// ignored). Its Next continues with List. Counted as "ListAfter".
func (s *Store) ListAfter(ctx context.Context, bucket string, opts providers.ListOptions, startAfter string) (providers.Page, error) {
	opts.Token = ""
	return s.listAfter(ctx, "ListAfter", "NoSuchBucket", bucket, opts, startAfter)
}

func (s *Store) list(ctx context.Context, op, code, bucket string, opts providers.ListOptions) (providers.Page, error) {
	return s.listAfter(ctx, op, code, bucket, opts, "")
}

func (s *Store) listAfter(ctx context.Context, op, code, bucket string, opts providers.ListOptions, after string) (providers.Page, error) {
	if err := s.begin(ctx, op, bucket); err != nil {
		return providers.Page{}, err
	}
	if opts.Token != "" {
		k, ok := decodeToken(opts.Token)
		if !ok {
			return providers.Page{}, invalid(op, bucket, "InvalidArgument", "malformed continuation token")
		}
		after = k
	}
	max := opts.MaxResults
	if max <= 0 {
		max = s.opts.PageSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return providers.Page{}, notFound(op, bucket, code)
	}
	objs, more := b.page(opts.Prefix, after, max)
	if op == "ListBlobs" {
		// Azure lists a blob's Content-MD5; an S3 listing has no MD5.
		for i := range objs {
			objs[i].ListedMD5 = slices.Clone(b.objects[objs[i].Key].properties().ContentMD5)
		}
	}
	p := providers.Page{Objects: objs}
	if more {
		p.Next = encodeToken(objs[len(objs)-1].Key)
	}
	return p, nil
}

// Stat returns an object's listing fields and properties. Like S3's HEAD
// it reports how many tags the object has (TagCount, 0 without tags) but
// not the tags themselves: Properties.Tags is nil, and Tags fetches them.
// Tier is empty, as for every source.
func (s *Store) Stat(ctx context.Context, bucket, key string) (providers.ObjectInfo, error) {
	info, err := s.stat(ctx, "Stat", "NoSuchBucket", "NoSuchKey", bucket, key)
	info.Tags, info.Tier = nil, ""
	return info, err
}

// Tags returns a copy of obj's tags, nil when it has none (the TagReader
// request S3 needs after a HEAD). obj.VersionID is ignored: a Store keeps
// one version. A missing bucket or object is NotFound.
func (s *Store) Tags(ctx context.Context, bucket string, obj providers.Object) (map[string]string, error) {
	const op = "Tags"
	where := bucket + "/" + obj.Key
	if err := s.begin(ctx, op, where); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return nil, notFound(op, where, "NoSuchBucket")
	}
	e := b.objects[obj.Key]
	if e == nil {
		return nil, notFound(op, where, "NoSuchKey")
	}
	return cloneMap(e.properties().Tags), nil
}

func (s *Store) stat(ctx context.Context, op, bcode, ocode, bucket, key string) (providers.ObjectInfo, error) {
	where := bucket + "/" + key
	if err := s.begin(ctx, op, where); err != nil {
		return providers.ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return providers.ObjectInfo{}, notFound(op, where, bcode)
	}
	e := b.objects[key]
	if e == nil {
		return providers.ObjectInfo{}, notFound(op, where, ocode)
	}
	return e.info(key), nil
}

// ListBuckets returns every bucket, sorted by name, with its region.
func (s *Store) ListBuckets(ctx context.Context) ([]providers.BucketInfo, error) {
	if err := s.begin(ctx, "ListBuckets", ""); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]providers.BucketInfo, 0, len(s.buckets))
	for name, b := range s.buckets {
		out = append(out, providers.BucketInfo{Name: name, Region: b.region})
	}
	slices.SortFunc(out, func(a, b providers.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// OpenRange returns a reader of r's bytes of obj. A range reaching past the
// end of the object, or negative, is Invalid.
func (s *Store) OpenRange(ctx context.Context, bucket string, obj providers.Object, r providers.Range) (io.ReadCloser, error) {
	const op = "OpenRange"
	where := bucket + "/" + obj.Key
	if err := s.begin(ctx, op, where); err != nil {
		return nil, err
	}
	s.mu.Lock()
	b := s.buckets[bucket]
	var e *entry
	if b != nil {
		e = b.objects[obj.Key]
	}
	s.mu.Unlock()
	switch {
	case b == nil:
		return nil, notFound(op, where, "NoSuchBucket")
	case e == nil:
		return nil, notFound(op, where, "NoSuchKey")
	}
	size := int64(len(e.data))
	if r == (providers.Range{}) {
		return io.NopCloser(bytes.NewReader(e.data)), nil
	}
	if r.Offset < 0 || r.Count <= 0 || r.Offset+r.Count > size {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Code: "InvalidRange", Status: 416,
			Msg: fmt.Sprintf("range %d+%d outside object of %d bytes", r.Offset, r.Count, size)}
	}
	return io.NopCloser(bytes.NewReader(e.data[r.Offset : r.Offset+r.Count])), nil
}

// Query parameters of a presigned URL.
const (
	paramExpires   = "Expires"
	paramVersion   = "versionId"
	paramSignature = "Signature" // a name providers.RedactURL redacts
)

// PresignGet returns a URL of Handler for obj, valid for ttl (at most
// MaxPresignTTL), with IfMatch set to obj.ETag. Without a base URL it fails
// with ErrCantServerSide. Presigning checks nothing about the object, as
// S3's does not.
func (s *Store) PresignGet(ctx context.Context, bucket string, obj providers.Object, ttl time.Duration) (providers.SourceURL, error) {
	const op = "PresignGet"
	where := bucket + "/" + obj.Key
	if err := s.begin(ctx, op, where); err != nil {
		return providers.SourceURL{}, err
	}
	s.mu.Lock()
	base := s.baseURL
	s.mu.Unlock()
	if base == "" {
		return providers.SourceURL{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: "memory store has no base URL", Err: providers.ErrCantServerSide}
	}
	if ttl <= 0 {
		return providers.SourceURL{}, invalid(op, where, "", fmt.Sprintf("ttl %v is not positive", ttl))
	}
	ttl = min(ttl, MaxPresignTTL)
	// Whole seconds, rounded down, so the URL never outlives ttl.
	expires := s.opts.Clock().Add(ttl).Truncate(time.Second)
	path := "/" + url.PathEscape(bucket) + "/" + url.PathEscape(obj.Key)
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := paramExpires + "=" + exp
	if obj.VersionID != "" {
		q += "&" + paramVersion + "=" + url.QueryEscape(obj.VersionID)
	}
	q += "&" + paramSignature + "=" + s.sign("GET", path, exp, obj.VersionID)
	return providers.SourceURL{URL: providers.Secret(base + path + "?" + q), Expires: expires, IfMatch: obj.ETag}, nil
}

// sign is hex(hmac-sha256(secret, method \n escaped-path \n expires \n version)).
func (s *Store) sign(method, path, expires, version string) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s", method, path, expires, version)
	return hex.EncodeToString(m.Sum(nil))
}
