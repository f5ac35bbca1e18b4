// Package providers defines the boundary between the migration pipeline and
// the storage services it reads from and writes to: the small interfaces a
// source and a destination must implement, the optional capabilities the
// pipeline discovers by type assertion (presigning, ingesting from a URL,
// staging blocks from a reader, reading byte ranges), the shared value types
// (objects, properties, pages) and the error kinds every provider classifies
// its failures into. It knows no provider by name and imports none.
//
// Contract shared by every method below unless it says otherwise:
//   - A missing bucket, container, object or blob gives an error whose Kind is
//     NotFound (test with errors.Is(err, providers.ErrNotFound) or KindOf).
//   - A canceled or expired ctx gives an error whose Kind is Canceled and
//     which also matches ctx.Err() under errors.Is; nothing partial is
//     committed by a canceled write (staged blocks may remain uncommitted).
//   - Errors are *Error values wrapping the SDK's own error with %w, so
//     errors.As still reaches it; their text never contains a secret.
//   - Providers do not retry: the pipeline owns the single retry layer, so
//     SDK retries must be disabled in the clients a provider builds.
package providers

import (
	"context"
	"io"
	"time"
)

// Object is one source object as a listing reports it. Listing never needs a
// per-object HEAD to fill it; fields a listing cannot give stay zero.
type Object struct {
	Key          string    // full key within the bucket, exactly as stored
	Size         int64     // bytes
	ETag         string    // without surrounding quotes; "" if unknown
	LastModified time.Time // zero if unknown
	StorageClass string    // provider's storage class name; "" if unknown
	VersionID    string    // "" when the source is not versioned
	// ListedMD5 is the MD5 of the content when the listing knows it
	// (Azure lists a blob's Content-MD5); nil otherwise. S3 listings leave
	// it nil: an S3 ETag is an MD5 only for some objects, which the listing
	// cannot tell apart. (Properties.ContentMD5 is what a Stat knows.)
	ListedMD5 []byte
}

// Properties are the HTTP headers and user metadata stored with an object or
// blob. Metadata keys are as the service reports them (S3 lowercases them);
// a nil map and an empty map mean the same.
type Properties struct {
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	ContentMD5         []byte // raw 16 bytes, nil when unknown
	Metadata           map[string]string
	// Tags are the object's tags (S3) or blob index tags (Azure). A Stat
	// may leave them nil when fetching them needs another request: see
	// ObjectInfo.TagCount and TagReader.
	Tags map[string]string
	// Tier is the destination access tier to set ("Hot", "Cool", "Cold",
	// "Archive"; "" = the account's default); StatBlob reports the blob's
	// tier. Sources leave it empty (their class is Object.StorageClass).
	Tier string
}

// ObjectInfo is what Stat and StatBlob return: the listing fields and the
// properties together, plus what a source knows that has no destination
// equivalent (reported, never silently lost).
type ObjectInfo struct {
	Object
	Properties
	// TagCount is how many tags the source says the object has (S3's
	// x-amz-tagging-count), so a TagReader is asked only when it is > 0.
	// -1 means unknown (ask when tags are wanted).
	TagCount int
	// Expires is the raw Expires header; Azure has no equivalent.
	Expires string
	// WebsiteRedirect is x-amz-website-redirect-location; no equivalent.
	WebsiteRedirect string
	// Encryption is the server-side encryption: "", "AES256", "aws:kms",
	// "aws:kms:dsse", or "SSE-C" (customer-provided key).
	Encryption string
	// Restore is the raw x-amz-restore header of an archived object:
	// `ongoing-request="false", expiry-date="..."` once restored.
	Restore string
}

// ListOptions selects one page of a listing.
type ListOptions struct {
	// Prefix restricts the listing to keys starting with it ("" for all).
	Prefix string
	// Token continues a listing: pass Page.Next of the previous page, "" to
	// start. Tokens are opaque and may be journaled and reused later.
	Token string
	// MaxResults caps the page size; 0 lets the provider choose (S3: 1000).
	MaxResults int
}

// Page is one page of a listing. Objects are in ascending byte order of Key
// (S3's and Azure's order; UTF-8 byte order). Next is "" on the last page; a
// page may be empty while Next is not.
type Page struct {
	Objects []Object
	Next    string
}

// Source is the required interface of a place objects are copied from.
type Source interface {
	// List returns one page of the objects of bucket under opts.Prefix.
	// A missing bucket is NotFound.
	List(ctx context.Context, bucket string, opts ListOptions) (Page, error)
	// Stat returns the listing fields and properties of one object.
	Stat(ctx context.Context, bucket, key string) (ObjectInfo, error)
}

// Range is a byte range of an object: Count bytes from Offset. Count 0 with
// Offset 0 means the whole object.
type Range struct {
	Offset int64
	Count  int64
}

// Presigner is a Source that can hand out a short-lived URL through which
// another service can GET an object (or a range of it) without credentials.
type Presigner interface {
	// PresignGet returns a URL valid for at most ttl and never past the
	// expiry of the credentials that signed it. The URL is a secret.
	// obj carries the version id to pin when the source is versioned.
	PresignGet(ctx context.Context, bucket string, obj Object, ttl time.Duration) (SourceURL, error)
}

// SourceURL is a presigned URL, when it stops working, and the condition
// the source must still meet when the destination fetches it.
type SourceURL struct {
	URL     Secret
	Expires time.Time
	// IfMatch, when set, is the ETag (without quotes) the object had when
	// it was listed: a destination that ingests from this URL makes its
	// fetch conditional on it (Azure: x-ms-source-if-match), so an object
	// that changed fails with KindPrecondition instead of mixing versions.
	IfMatch string
}

// TagReader is a Source whose object tags cost a request of their own.
type TagReader interface {
	// Tags returns the tags of obj (nil or empty when it has none).
	Tags(ctx context.Context, bucket string, obj Object) (map[string]string, error)
}

// RangeReader is a Source that can stream bytes of an object through the
// client (the fallback when server-side copy cannot work). A Destination may
// implement it too, to read blobs back (bucket is then the container): that
// is how verify --deep hashes both sides.
type RangeReader interface {
	// OpenRange returns a reader of r's bytes of obj (the whole object for a
	// zero Range). The caller closes it.
	OpenRange(ctx context.Context, bucket string, obj Object, r Range) (io.ReadCloser, error)
}

// BucketInfo names one bucket of an account and the region it lives in.
type BucketInfo struct {
	Name   string
	Region string
}

// BucketLister is a Source that can enumerate the buckets of an account.
type BucketLister interface {
	ListBuckets(ctx context.Context) ([]BucketInfo, error)
}

// Destination is the required interface of a place blobs are written to.
type Destination interface {
	// EnsureContainer creates the container when missing. created reports
	// whether this call created it; an existing container is not an error.
	EnsureContainer(ctx context.Context, container string) (created bool, err error)
	// StatBlob returns the size, ETag, last-modified time and properties of
	// a committed blob. A missing blob or container is NotFound.
	StatBlob(ctx context.Context, container, name string) (ObjectInfo, error)
	// ListBlobs returns one page of committed blobs (Key is the blob name),
	// with the ordering and token rules of Source.List.
	ListBlobs(ctx context.Context, container string, opts ListOptions) (Page, error)
}

// ContainerLister is a Destination that can list its containers, so that a
// mapping never fills an unrelated existing container by accident.
type ContainerLister interface {
	// ListContainers returns the names of every container whose name
	// starts with prefix ("" for all), in ascending order.
	ListContainers(ctx context.Context, prefix string) ([]string, error)
}

// BlockID names one block of a block blob. Every block of one blob has an ID
// of the same length, at most 48 bytes of printable ASCII; the provider
// encodes it as its API needs (Azure: base64).
type BlockID string

// BlockLister is a Destination that can say which blocks of a blob are
// staged but not yet committed, so an interrupted copy stages only the rest.
type BlockLister interface {
	// UncommittedBlocks returns the IDs of the staged, uncommitted blocks
	// of blob name (none, not an error, when the blob has none or does not
	// exist).
	UncommittedBlocks(ctx context.Context, container, name string) ([]BlockID, error)
}

// BlockCommitter commits staged blocks, in order, as the blob's content and
// sets its properties in the same request. Blocks not listed are discarded.
// A commit replaces an existing blob whole; until it succeeds any existing
// blob is untouched.
type BlockCommitter interface {
	CommitBlocks(ctx context.Context, container, name string, ids []BlockID, props Properties) error
}

// URLIngester is a Destination that pulls bytes itself from a URL: the
// server-side copy path. The bytes never pass through this process.
type URLIngester interface {
	BlockCommitter
	// PutBlobFromURL creates or replaces blob name with the whole content
	// at src (size bytes) and props, in one request. Providers document the
	// largest size they accept (Azure: 5000 MiB) and refuse larger with an
	// Invalid error before sending anything.
	PutBlobFromURL(ctx context.Context, container, name string, src SourceURL, size int64, props Properties) error
	// StageBlockFromURL stages bytes r of src as block id of blob name.
	StageBlockFromURL(ctx context.Context, container, name string, id BlockID, src SourceURL, r Range) error
}

// BlockStager is a Destination that accepts block bytes from this process:
// the streaming path.
type BlockStager interface {
	BlockCommitter
	// StageBlock uploads size bytes read from body, starting at its current
	// position, as block id of blob name. body may be read more than once
	// (to checksum it, or to retry): the provider seeks back to that
	// starting position itself.
	StageBlock(ctx context.Context, container, name string, id BlockID, body io.ReadSeeker, size int64) error
}

// Deleter is a Destination that can delete blobs (sync --delete-destination).
type Deleter interface {
	// DeleteBlob deletes blob name; a missing blob is NotFound.
	DeleteBlob(ctx context.Context, container, name string) error
}

// Limits are a destination's size rules, used by the planner.
type Limits struct {
	// MaxPutBlobFromURL is the largest source of one PutBlobFromURL, or of
	// one ObjectCopier.CopyObject (S3: 5 GiB).
	MaxPutBlobFromURL int64
	MaxBlockSize      int64 // largest block
	MaxBlocks         int   // most committed blocks of one blob
	// MinBlockSize is the smallest block but the last (S3: 5 MiB parts);
	// 0 for none.
	MinBlockSize int64
	// AnyMetadataName says metadata names need only be valid HTTP header
	// field names (S3). When false they must be C# identifiers (Azure) and
	// the metadata policy applies.
	AnyMetadataName bool
	// AnyBlobName says a blob name may be any key a source can hold (S3
	// keys); when false, Azure's blob name rules apply (naming.CheckBlobName)
	// and keys that break them are skipped or renamed.
	AnyBlobName bool
}

// Limiter is a Destination that states its limits; the pipeline assumes
// Azure's when a destination does not.
type Limiter interface {
	Limits() Limits
}

// SourceDeleter is a Source that can delete objects: 'migrate move' deletes
// each source object once its copy is verified.
type SourceDeleter interface {
	// DeleteObject deletes obj (its version, when obj.VersionID is set);
	// a missing object is NotFound.
	DeleteObject(ctx context.Context, bucket string, obj Object) error
}

// BlobPutter is a Destination that writes a whole blob from this process in
// one request (Azure Put Blob, S3 PutObject): the streaming path of an
// object that fits in one block, and of most local files.
type BlobPutter interface {
	// PutBlob creates or replaces blob name with size bytes read from body,
	// from its current position, and props. body may be read more than once
	// (to checksum it, or to retry): the provider seeks back itself.
	PutBlob(ctx context.Context, container, name string, body io.ReadSeeker, size int64, props Properties) error
}

// BlockUploader is a Destination whose blocks belong to an upload that is
// begun, with the blob's properties and the complete ordered list of its
// block IDs, before any block is staged, and that must be aborted when the
// copy fails, or it lingers (S3 multipart uploads: block ids[i] is part
// i+1). The pipeline calls BeginBlocks before the first StageBlock or
// StageBlockFromCopy of a blob, and AbortBlocks when the blob cannot be
// committed, the run's cancellation included.
type BlockUploader interface {
	// BeginBlocks starts the upload of blob name. Incomplete uploads of the
	// same name that an earlier, killed run left behind are aborted first,
	// so nothing is ever orphaned and nothing is staged yet.
	BeginBlocks(ctx context.Context, container, name string, ids []BlockID, props Properties) error
	// AbortBlocks discards the upload begun for blob name and every block
	// staged in it; no error when there is none.
	AbortBlocks(ctx context.Context, container, name string) error
}

// CopySource names an object that an ObjectCopier copies server-side.
type CopySource struct {
	Bucket string
	// Object is the object as listed: Key and Size always; VersionID pins
	// a version; ETag, when set, must still match (S3:
	// x-amz-copy-source-if-match) or the copy fails with KindPrecondition.
	Object Object
}

// ObjectCopier is a Destination that copies objects server-side from a
// Source of its own service (S3 CopyObject and UploadPartCopy): the bytes
// never pass through this process.
type ObjectCopier interface {
	BlockCommitter
	// CopiesFrom reports whether this destination can copy objects of src
	// server-side: the same service and endpoint, and credentials that can
	// read it.
	CopiesFrom(src Source) bool
	// CopyObject creates or replaces blob name with the whole of src (at
	// most Limits().MaxPutBlobFromURL bytes). With props nil the source's
	// metadata, headers and tags are kept as they are (S3: metadata and
	// tagging directives COPY); otherwise they are replaced by *props.
	CopyObject(ctx context.Context, container, name string, src CopySource, props *Properties) error
	// StageBlockFromCopy stages bytes r of src as block id of blob name
	// (S3: UploadPartCopy).
	StageBlockFromCopy(ctx context.Context, container, name string, id BlockID, src CopySource, r Range) error
}

// StartAfterLister is a Source whose listing can begin after any string,
// not only at a continuation token it handed out: S3 ListObjectsV2's
// start-after. It is what makes a parallel listing possible.
type StartAfterLister interface {
	// ListAfter returns the first page of the keys of bucket under
	// opts.Prefix that sort after startAfter (opts.Token is ignored); the
	// page's Next continues it with Source.List as usual.
	ListAfter(ctx context.Context, bucket string, opts ListOptions, startAfter string) (Page, error)
}
