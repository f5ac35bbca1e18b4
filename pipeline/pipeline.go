// Package pipeline moves objects from a source to a destination:
// enumerate (a page of the listing at a time), plan (blob name, metadata,
// how to move the bytes), execute (a bounded pool of workers under one
// global bound on requests in flight, with the tool's single retry layer)
// and report (a result per object and a final summary). It knows providers
// only through the interfaces of package providers and discovers their
// optional capabilities by type assertion; it never names a provider.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"encoding/hex"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/providers"
)

// Route is one bucket (or a prefix of it) going to one container (or a
// prefix of it).
type Route struct {
	Bucket string
	// Prefix selects the source keys; it is removed from each key to form
	// the tail of the blob name, and listed as given.
	Prefix     string
	Container  string // created when missing
	DestPrefix string // joined before every blob name
	// Err, when set, says why this bucket cannot be copied (its name has no
	// valid container, say): it is reported and not listed.
	Err error
	// Note says why Container differs from Bucket ("" when it does not).
	Note string
}

// TransferMode says how bytes may move.
type TransferMode string

// Transfer modes.
const (
	// Auto copies server-side and streams an object through this process
	// only when Azure cannot fetch it: the source cannot presign it (a
	// customer-key encrypted or requester-pays object, a source the user
	// says Azure cannot reach) or Azure's fetch was refused.
	Auto TransferMode = "auto"
	// ServerSide never streams: such objects fail instead.
	ServerSide TransferMode = "server-side"
	// Stream always reads ranges through this process and stages them
	// with Put Block.
	Stream TransferMode = "stream"
)

// ParseTransferMode reads auto, server-side or stream.
func ParseTransferMode(s string) (TransferMode, error) {
	switch m := TransferMode(strings.ToLower(s)); m {
	case Auto, ServerSide, Stream:
		return m, nil
	}
	return "", fmt.Errorf("unknown transfer mode %q (use auto, server-side or stream)", s)
}

// Overwrite is AzCopy's --overwrite.
type Overwrite string

// Overwrite policies.
const (
	OverwriteAlways        Overwrite = "true"
	OverwriteNever         Overwrite = "false"
	OverwriteIfSourceNewer Overwrite = "ifSourceNewer"
)

// ParseOverwrite reads true, false or ifSourceNewer (case-insensitive).
func ParseOverwrite(s string) (Overwrite, error) {
	for _, o := range []Overwrite{OverwriteAlways, OverwriteNever, OverwriteIfSourceNewer} {
		if strings.EqualFold(s, string(o)) {
			return o, nil
		}
	}
	return "", fmt.Errorf("unknown overwrite policy %q (use true, false or ifSourceNewer)", s)
}

// Journal is what the pipeline needs of a job journal (package journal).
type Journal interface {
	Route(route string) (journal.RouteState, error)
	RecordPage(route string, objs []journal.Entry, next string) error
	Finish(route string, e journal.Entry)
	Each(route string, states []journal.State, fn func(journal.Entry) error) error
}

// String names the route, as the journal records it.
func (r Route) String() string {
	return "s3://" + r.Bucket + "/" + r.Prefix + " -> " + r.Container + "/" + r.DestPrefix
}

// Options configure one run: one or more routes.
type Options struct {
	Routes []Route

	// TransferMode decides between server-side copies and streaming
	// (default Auto).
	TransferMode TransferMode
	// StreamMemory caps the memory of block buffers when streaming
	// (default DefaultStreamMemory): at most max(1, StreamMemory/block
	// size) blocks are held at once, fewer when Concurrency is lower.
	StreamMemory int64

	// Concurrency bounds the requests in flight at once, of every kind and
	// across all objects and blocks, and the objects worked on at once.
	// Default 64.
	Concurrency int
	// PutBlobMaxSize is the largest object copied with one Put Blob From
	// URL; larger objects go block by block. Default 256 MiB, at most the
	// destination's limit.
	PutBlobMaxSize int64
	// BlockSize is the block size of block-by-block copies (0 = choose;
	// see PlanBlocks).
	BlockSize int64
	// PresignTTL is how long each presigned source URL lives. Every request
	// gets a freshly signed URL, so this only needs to cover one request.
	// Default 15 minutes.
	PresignTTL time.Duration
	// MetadataPolicy decides what happens to user metadata whose names the
	// destination cannot hold.
	MetadataPolicy metadata.Policy
	// Tags carries object tags over as blob index tags (under
	// MetadataPolicy), asking the source for them only when it says the
	// object has some.
	Tags bool
	// BlobTier sets this access tier on every blob ("" = none).
	BlobTier string
	// PreserveTier maps each object's storage class to an access tier
	// (metadata.TierFor) when BlobTier is not set.
	PreserveTier bool
	// KeepS3Headers keeps Expires and the website redirect, which Azure has
	// no header for, as metadata (s3_expires, s3_website_redirect) instead
	// of dropping and reporting them.
	KeepS3Headers bool
	// PreserveSourceInfo records the source ETag, last-modified time and
	// version id in metadata (s3_etag, s3_last_modified, s3_version_id).
	PreserveSourceInfo bool
	// FailOnArchived makes archived (not restored) objects failures
	// instead of skips.
	FailOnArchived bool
	// RenameInvalidKeys encodes keys Azure cannot hold as blob names
	// (naming.EncodeBlobName) instead of skipping them; every key passes
	// through the encoding so no two keys can meet. Each renamed key is
	// written to RenameManifest.
	RenameInvalidKeys bool
	// RenameManifest receives one JSON line per renamed key (bucket, key,
	// container, blob). May be nil.
	RenameManifest io.Writer
	// KeepFolderMarkers copies keys ending in "/" as zero-byte blobs
	// instead of skipping them.
	KeepFolderMarkers bool
	// ContentType, when set, replaces every object's Content-Type (a local
	// file's is guessed from its extension by the source).
	ContentType string
	// Metadata is user metadata set on every blob, over the source's own
	// (a key in both takes this value); the metadata policy applies to it
	// as to the source's.
	Metadata map[string]string
	// DeleteSource makes the run a move: once an object is copied (or
	// found copied by an earlier run of the job), the destination is read
	// back and compared (size, and the MD5 or ETag where both sides have a
	// comparable one), and only then is the source object deleted (the
	// source must be a providers.SourceDeleter). An object whose
	// verification fails is a failure and its source is kept.
	DeleteSource bool

	// Sync compares each route's source listing with its destination
	// listing in one streaming pass (no per-object HEAD on either side) and
	// copies only what is missing or changed; see Changed. A sync is not
	// journaled: running it again is its resume.
	Sync bool
	// DeleteDestination, with Sync, deletes blobs whose source object is
	// gone (the destination must be a providers.Deleter). Blobs a filter or
	// a skip rule hides are never deleted.
	DeleteDestination bool
	// FromPlan, when set, replaces the listings: it calls yield with every
	// object of a saved plan (its bucket must be one of Routes'). An object
	// whose size or ETag changed since the plan is skipped as "changed
	// since the plan". Not journaled: such a run is re-run as it is.
	FromPlan func(yield func(PlannedObject) error) error
	// FromInventory says FromPlan yields the rows of an S3 Inventory
	// report, not a plan: Filter and each route's Prefix apply to them (a
	// row outside the prefix is passed over), and the source's HEAD
	// decides. An object whose size or ETag changed since the inventory is
	// copied as it is now and counted in Summary.ChangedSinceInventory; one
	// deleted since is skipped as "deleted since the inventory". Objects
	// created since are not in the inventory: not this run's.
	FromInventory bool
	// Filter selects the objects of every route; the others are counted
	// as filtered and never journaled or dispatched.
	Filter Filter
	// Shard, when set, keeps only this shard's objects (Shard.Owns), applied
	// where the filter is: the others are counted in Summary.OtherShards and
	// never journaled, dispatched or counted as the run's objects. Each
	// shard is its own job with its own journal.
	Shard Shard
	// Journal, when set, records the job: every listed page before its
	// objects are dispatched, and every object's end, so that a run killed
	// at any moment can be resumed. On a route the journal already knows,
	// listing continues after its last recorded page, and the objects still
	// pending or failed are dispatched again (pending ones are first looked
	// up at the destination: an earlier run may have copied them without
	// recording it).
	Journal Journal
	// JobStarted is when the job's first run began: a blob at least this
	// recent, of the right size, was written by this job.
	JobStarted time.Time
	// Overwrite decides what happens when a blob of that name exists:
	// OverwriteAlways (default, one request less per object), OverwriteNever
	// or OverwriteIfSourceNewer. The two last cost a destination HEAD per
	// object.
	Overwrite Overwrite
	// DryRun enumerates and plans everything and writes nothing: no
	// container is created and no write request is made. Objects that would
	// be copied end as Planned.
	DryRun bool
	// Retry is the retry policy of every request (zero = DefaultRetry).
	Retry RetryPolicy
	// PageSize is the listing page size asked for (0 = provider default).
	PageSize int
	// MaxFailuresKept bounds how many failures the summary lists
	// (default 1000); all are counted and all reach OnResult.
	MaxFailuresKept int
	// OnResult, when set, is called once per object as it finishes, from
	// any worker goroutine: it must be safe for concurrent use and quick.
	OnResult func(ObjectResult)
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// ListParallelism is how many key ranges a route's listing is split
	// into and listed at once when it goes on past its first pages (20)
	// and the source can list after any key (0 = DefaultListParallelism,
	// 1 = one sequential stream). A sync, and a run from a plan, always
	// list one stream.
	ListParallelism int
}

// Outcome is how one object ended.
type Outcome string

// Outcomes.
const (
	Copied      Outcome = "copied"
	Deleted     Outcome = "deleted" // sync --delete-destination
	Planned     Outcome = "planned" // dry run: would be copied
	Skipped     Outcome = "skipped"
	Failed      Outcome = "failed"
	Interrupted Outcome = "interrupted" // the run was canceled before it finished
)

// Mode is how an object's bytes were (or would be) moved.
type Mode string

// Modes.
const (
	ModeNone          Mode = ""                  // nothing moved (skipped, failed early)
	ModeEmpty         Mode = "empty"             // zero bytes: a blob committed with no blocks
	ModePutFromURL    Mode = "put-blob-from-url" // one server-side request
	ModeBlocksFromURL Mode = "blocks-from-url"   // server-side, block by block, then commit
	ModeStream        Mode = "stream"            // ranges read through this process, staged with Put Block
	ModeCopy          Mode = "copy-object"       // one server-side copy within the service (S3 CopyObject)
	ModeCopyParts     Mode = "upload-part-copy"  // server-side within the service, part by part, then complete
	ModeDelete        Mode = "delete"            // sync: the blob's source is gone
)

// ObjectResult is what happened to one object.
type ObjectResult struct {
	Bucket    string
	Key       string
	Container string
	Blob      string
	Size      int64
	ETag      string
	Outcome   Outcome
	Mode      Mode
	Blocks    int    // blocks of a block-by-block copy (planned or staged)
	Resumed   int    // blocks found already staged by an earlier run, not fetched again
	Streamed  string // why the bytes went through this process ("" when they did not)
	// SinglePut: a streamed object of one block, written with one request
	// (Put Blob, PutObject) instead of a block and a commit.
	SinglePut bool
	// SourceDeleted: a move deleted the source object after verifying
	// its copy.
	SourceDeleted bool
	// Found: an earlier run of the job had copied this object without
	// recording it; it was found at the destination and not copied again.
	Found bool
	// ChangedSinceInventory: the object's size or ETag differed from its
	// inventory row (Options.FromInventory); it was copied as it is now.
	ChangedSinceInventory bool
	Renamed               bool   // the blob name is the key's encoding, not the key
	Reason                string // why it was skipped or failed; one line, no secrets
	Err                   error  // the failure, for errors.As; nil unless Failed
	Attempts              int    // requests made for this object, retries included
	// Metadata lists what happened to each user metadata key (and to the
	// headers Azure cannot hold); Tags to each tag.
	Metadata []metadata.Decision
	Tags     []metadata.Decision
	Tier     string   // access tier set on the blob ("" = account default)
	Warnings []string // e.g. metadata keys dropped
}

// Failure is one failed object as the summary lists it.
type Failure struct {
	Bucket    string
	Key       string // "" for a sync's failed deletion
	Container string
	Blob      string
	Reason    string
}

// Counts are the object tallies of a run or of one route.
type Counts struct {
	Objects, Bytes        int64 // seen in the listing
	Copied, CopiedBytes   int64
	Planned, PlannedBytes int64 // dry run: would be copied
	Skipped, SkippedBytes int64
	Failed, FailedBytes   int64
	Interrupted           int64
}

func (c *Counts) add(r ObjectResult) {
	switch r.Outcome {
	case Copied:
		c.Copied++
		c.CopiedBytes += r.Size
	case Planned:
		if r.Mode == ModeDelete {
			return // counted in Summary.Deleted
		}
		c.Planned++
		c.PlannedBytes += r.Size
	case Skipped:
		c.Skipped++
		c.SkippedBytes += r.Size
	case Failed:
		c.Failed++
		c.FailedBytes += r.Size
	case Interrupted:
		c.Interrupted++
	}
}

// Changed is sync's rule: an object is copied again when its size differs
// from the blob's; else, when both sides know an MD5 (the blob's listed
// Content-MD5 and an ETag of 32 hex digits), when they differ; else when the
// object was modified after the blob was written (in whole seconds when
// the blob's time has no fraction, as listings give it). An ETag that looks like an
// MD5 but is not one (SSE-KMS) makes the object look changed: copied again,
// never skipped wrongly.
func Changed(src, dst providers.Object) (bool, string) {
	if src.Size != dst.Size {
		return true, "size differs"
	}
	if len(dst.ListedMD5) == 16 && len(src.ETag) == 32 {
		if hex.EncodeToString(dst.ListedMD5) != strings.ToLower(src.ETag) {
			return true, "content differs (MD5)"
		}
		return false, ""
	}
	// S3 and Azure listings give whole seconds: against those, a file
	// written in the second its copy was made is not newer than it.
	srcTime := src.LastModified
	if dst.LastModified.Nanosecond() == 0 {
		srcTime = srcTime.Truncate(time.Second)
	}
	if srcTime.After(dst.LastModified) {
		return true, "source is newer"
	}
	return false, ""
}

// RouteSummary is the result of one route.
type RouteSummary struct {
	Route
	Counts
	ContainerCreated bool
	// Error says why the route stopped or never started ("" when it ran to
	// the end); its objects that were not reached are not counted.
	Error string
}

// Summary is the result of a run.
type Summary struct {
	Counts
	Routes       []RouteSummary
	FailedRoutes int // routes with an Error
	Renamed      int64
	// Filtered counts the listed objects the filter left out, by reason.
	Filtered      map[string]int64
	FilteredBytes int64
	// OtherShards counts the listed objects that belong to other shards
	// (Options.Shard): not this run's objects, not counted in Objects.
	OtherShards, OtherShardsBytes int64
	// Unchanged counts objects a sync found identical at the destination;
	// Deleted the blobs it deleted, Extra the blobs it left (no source).
	Unchanged, Deleted, Extra int64
	// Found counts objects an earlier run of the job had copied without
	// recording it: found at the destination on resume, not copied again.
	Found int64
	// SourcesDeleted counts the source objects a move deleted, each after
	// its copy was verified.
	SourcesDeleted int64
	// ChangedSinceInventory counts objects of an inventory run
	// (Options.FromInventory) whose size or ETag differed from the
	// inventory's: copied (or planned) as they are now.
	ChangedSinceInventory int64
	// Streamed counts the objects whose bytes went through this process,
	// by reason; StreamedBytes is their payload.
	Streamed      map[string]int64
	StreamedBytes int64
	Warnings      int64
	SkipReasons   map[string]int64
	Failures      []Failure // the first MaxFailuresKept, by bucket and key
	// Estimate counts the requests of the run (or, in a dry run, of the
	// copy it plans) by kind.
	Estimate Requests
	// Largest are the largest objects copied or planned, largest first.
	Largest []SizedObject
	// MetadataActions counts metadata and tag decisions other than "kept"
	// (dropped, renamed, encoded, failed), by action.
	MetadataActions map[string]int64
	DryRun          bool
	Elapsed         time.Duration
	Requests        int64 // provider requests made, retries included
}

// Requests counts, per service and kind, the requests a run made or, in a
// dry run, would make: what a reviewer needs for a cost estimate. Retries
// are not included (they are in Summary.Requests).
type Requests struct {
	S3List    int64 `json:"s3_list"`
	S3Head    int64 `json:"s3_head"`
	S3Tagging int64 `json:"s3_tagging"`
	// S3Get are the GETs Azure makes of presigned URLs (or this process
	// makes when streaming): one per object or per block.
	S3Get int64 `json:"s3_get"`
	// AzureWrite are Put Blob From URL, Put Block (From URL), Put Block
	// List and Create Container requests; AzureRead are HEADs of blobs and
	// block-list reads.
	AzureWrite int64 `json:"azure_write"`
	AzureRead  int64 `json:"azure_read"`
	// EgressBytes is what S3 sends out: a server-side copy is still S3
	// egress.
	EgressBytes int64 `json:"egress_bytes"`
}

// PlannedObject is one object of a saved plan.
type PlannedObject struct {
	Bucket, Key string
	Size        int64
	ETag        string
	// LastModified is known for an inventory's rows (zero for a plan's
	// objects): --include-after and --include-before use it.
	LastModified time.Time
}

// SizedObject names one object and its size.
type SizedObject struct {
	Bucket, Key string
	Size        int64
}

// maxLargest is how many of the largest objects a summary keeps.
const maxLargest = 10

// ObjectsPerSecond is the rate of objects finished (copied, planned,
// skipped or failed) over the run.
func (s Summary) ObjectsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Copied+s.Planned+s.Skipped+s.Failed) / s.Elapsed.Seconds()
}

// OK reports whether every object and every route ended well.
func (s Summary) OK() bool { return s.Failed == 0 && s.FailedRoutes == 0 && s.Interrupted == 0 }

// SetupError is a failure before any object was copied: the destination
// container cannot be used or the source cannot be listed. It almost always
// means a configuration problem (endpoint, credentials, names, region).
type SetupError struct {
	What string // "source bucket \"b\"", "destination container \"c\""
	Err  error
}

func (e *SetupError) Error() string {
	hint := ""
	switch providers.KindOf(e.Err) {
	case providers.KindNotFound:
		hint = "; check the name, the endpoint and the region"
	case providers.KindPermission:
		hint = "; check the credentials and their permissions"
	case providers.KindTransient, providers.KindThrottled, providers.KindUnknown:
		hint = "; check that the endpoint is right and reachable"
	}
	return fmt.Sprintf("cannot use %s: %v%s", e.What, e.Err, hint)
}

func (e *SetupError) Unwrap() error { return e.Err }

// Copier runs the routes of one job.
type Copier struct {
	src    providers.Source
	dst    providers.Destination
	pre    providers.Presigner   // nil when server-side is impossible or off
	ingest providers.URLIngester // nil in a dry run: nothing can be written
	reader providers.RangeReader // nil when streaming is impossible or off
	stager providers.BlockStager // nil in a dry run or when streaming is off
	staged providers.BlockLister // nil when the destination cannot tell
	commit providers.BlockCommitter
	// copier copies server-side within one service (S3 → S3); when set,
	// pre and ingest are nil.
	copier   providers.ObjectCopier
	uploader providers.BlockUploader // blocks belong to an upload: begin, abort
	putter   providers.BlobPutter    // one-request writes of small streamed objects
	srcDel   providers.SourceDeleter // DeleteSource
	// canServerSide says the bytes can move server-side (known in a dry run
	// too, where the writers above are nil).
	canServerSide bool
	within        bool                // server-side copies go through an ObjectCopier
	canPut        bool                // the destination writes small objects in one request
	uploads       bool                // the destination\'s blocks belong to uploads (BlockUploader)
	mem           *semaphore.Weighted // bytes of stream buffers: the memory bound
	bufs          buffers             // reused stream buffers
	limits        providers.Limits
	o             Options
	sem           chan struct{}

	manifestMu sync.Mutex

	mu       sync.Mutex
	sum      Summary
	reqs     int64
	scanning bool // the listing is still running
	started  bool
}

// Progress is a snapshot of a running copy, for a status display.
type Progress struct {
	Listed, ListedBytes int64 // objects (and bytes) enumerated so far
	Done, DoneBytes     int64 // objects (and bytes) finished, whatever the outcome
	Failed, Skipped     int64
	// Scanning says the listing still grows: Listed is not the total yet.
	Scanning bool
}

// Progress returns where the run stands; safe to call from any goroutine
// while Run runs.
func (c *Copier) Progress() Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sum
	done := s.Copied + s.Planned + s.Skipped + s.Failed + s.Interrupted
	return Progress{Listed: s.Objects, ListedBytes: s.Bytes, Done: done,
		DoneBytes: s.CopiedBytes + s.PlannedBytes + s.SkippedBytes + s.FailedBytes,
		Failed:    s.Failed, Skipped: s.Skipped, Scanning: c.scanning || !c.started}
}

// New checks the options and that src and dst can do a server-side copy
// (a dry run needs neither capability) and returns a Copier.
func New(src providers.Source, dst providers.Destination, o Options) (*Copier, error) {
	c := &Copier{src: src, dst: dst}
	if o.TransferMode == "" {
		o.TransferMode = Auto
	}
	c.staged, _ = dst.(providers.BlockLister)
	c.uploader, _ = dst.(providers.BlockUploader)
	c.uploads = c.uploader != nil
	if c.uploader != nil {
		c.staged = nil // an upload is begun afresh: nothing is staged yet
	}
	if o.TransferMode != Stream {
		if cp, ok := dst.(providers.ObjectCopier); ok && cp.CopiesFrom(src) {
			c.copier = cp
		} else {
			c.pre, _ = src.(providers.Presigner)
			c.ingest, _ = dst.(providers.URLIngester)
			if c.pre == nil || c.ingest == nil {
				c.pre, c.ingest = nil, nil
			}
		}
	}
	if o.TransferMode != ServerSide {
		c.reader, _ = src.(providers.RangeReader)
		c.stager, _ = dst.(providers.BlockStager)
		if c.reader == nil || c.stager == nil {
			c.reader, c.stager = nil, nil
		}
		c.putter, _ = dst.(providers.BlobPutter)
		c.canPut = c.putter != nil && c.stager != nil
	}
	c.canServerSide = c.copier != nil || c.ingest != nil
	c.within = c.copier != nil
	switch {
	case o.TransferMode == ServerSide && !c.canServerSide:
		return nil, fmt.Errorf("a server-side copy needs a source that presigns URLs and a destination that ingests from them, or two ends of one service: %w", providers.ErrCantServerSide)
	case o.TransferMode == Stream && c.stager == nil:
		return nil, errors.New("streaming needs a source that reads byte ranges and a destination that stages blocks")
	case !c.canServerSide && c.stager == nil:
		return nil, fmt.Errorf("neither a server-side copy nor streaming is possible between these providers: %w", providers.ErrCantServerSide)
	}
	switch {
	case c.copier != nil:
		c.commit = c.copier
	case c.ingest != nil:
		c.commit = c.ingest
	default:
		c.commit = c.stager
	}
	if o.DeleteSource {
		if c.srcDel, _ = src.(providers.SourceDeleter); c.srcDel == nil {
			return nil, errors.New("a move needs a source that can delete objects")
		}
	}
	if o.DryRun {
		// Nothing that writes is reachable in a dry run.
		c.pre, c.ingest, c.copier, c.stager, c.putter, c.commit, c.uploader, c.srcDel = nil, nil, nil, nil, nil, nil, nil, nil
	}
	c.limits = AzureLimits
	if l, ok := dst.(providers.Limiter); ok {
		c.limits = l.Limits()
	}
	if len(o.Routes) == 0 {
		return nil, errors.New("nothing to copy: no source bucket given")
	}
	for _, r := range o.Routes {
		if r.Err == nil && (r.Bucket == "" || r.Container == "") {
			return nil, fmt.Errorf("route %q -> %q needs a bucket and a container", r.Bucket, r.Container)
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.PutBlobMaxSize == 0 {
		o.PutBlobMaxSize = min(DefaultPutBlobMaxSize, c.limits.MaxPutBlobFromURL)
		if _, ok := dst.(providers.ObjectCopier); ok {
			// A whole-object copy within one service costs one request
			// whatever the size: use it up to its limit (S3: 5 GiB).
			o.PutBlobMaxSize = c.limits.MaxPutBlobFromURL
		}
	}
	if o.PutBlobMaxSize < 0 || o.PutBlobMaxSize > c.limits.MaxPutBlobFromURL {
		return nil, fmt.Errorf("put-blob-max-size %s is outside the destination's range of 0 to %s", FormatBytes(o.PutBlobMaxSize), FormatBytes(c.limits.MaxPutBlobFromURL))
	}
	if o.BlockSize < 0 || o.BlockSize > c.limits.MaxBlockSize {
		return nil, fmt.Errorf("block size %s is outside the destination's range of 1 B to %s", FormatBytes(o.BlockSize), FormatBytes(c.limits.MaxBlockSize))
	}
	if o.PresignTTL <= 0 {
		o.PresignTTL = 15 * time.Minute
	}
	if o.Retry.MaxAttempts == 0 {
		o.Retry = DefaultRetry
	}
	if o.MaxFailuresKept <= 0 {
		o.MaxFailuresKept = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Overwrite == "" {
		o.Overwrite = OverwriteAlways
	}
	if o.FromPlan != nil && (o.Journal != nil || o.Sync) {
		return nil, errors.New("a run from a plan is neither journaled nor a sync")
	}
	if o.Sync && o.Journal != nil {
		return nil, errors.New("a sync is not journaled: running it again is its resume")
	}
	if err := o.Shard.Validate(); err != nil {
		return nil, err
	}
	if o.Sync && o.Shard.Count > 0 {
		// A blob whose source is gone has no key to hash: no shard could
		// safely own its deletion.
		return nil, errors.New("a sync cannot be sharded: shard copy jobs, then sync once")
	}
	if o.DeleteDestination {
		if !o.Sync {
			return nil, errors.New("deleting at the destination needs a sync")
		}
		if _, ok := dst.(providers.Deleter); !ok {
			return nil, errors.New("the destination cannot delete blobs")
		}
	}
	if o.StreamMemory <= 0 {
		o.StreamMemory = DefaultStreamMemory
	}
	c.o = o
	c.sem = make(chan struct{}, o.Concurrency)
	c.mem = semaphore.NewWeighted(o.StreamMemory)
	c.bufs.max = o.StreamMemory
	return c, nil
}

// Run copies every object of every route and returns the summary. The
// error is non-nil when the run could not go on: ctx was canceled, or the
// only route could not start (a *SetupError: the container cannot be used
// or the bucket cannot be listed). With several routes, a route that cannot
// start or stops part way is recorded in its RouteSummary and the others go
// on. Failures of single objects are never errors of the run: they are in
// the summary.
func (c *Copier) Run(ctx context.Context) (Summary, error) {
	start := c.o.Now()
	c.mu.Lock()
	c.sum = Summary{SkipReasons: map[string]int64{}, Streamed: map[string]int64{}, Filtered: map[string]int64{},
		MetadataActions: map[string]int64{}, DryRun: c.o.DryRun, Routes: make([]RouteSummary, len(c.o.Routes))}
	for i, r := range c.o.Routes {
		c.sum.Routes[i].Route = r
		if r.Err != nil {
			c.sum.Routes[i].Error = r.Err.Error()
		}
	}
	c.mu.Unlock()
	err := c.run(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sum
	s.Elapsed = c.o.Now().Sub(start)
	s.Requests = c.reqs
	for _, r := range s.Routes {
		if r.Error != "" {
			s.FailedRoutes++
		}
	}
	sort.Slice(s.Failures, func(i, j int) bool {
		a, b := s.Failures[i], s.Failures[j]
		return a.Bucket < b.Bucket || a.Bucket == b.Bucket && a.Key < b.Key
	})
	return s, err
}

// preflight is the retry policy of the first requests of a run: a
// misconfigured endpoint should fail in seconds, not after a minute.
func (c *Copier) preflight() RetryPolicy {
	p := c.o.Retry
	if p.MaxAttempts > 3 {
		p.MaxAttempts = 3
	}
	return p
}

// work is one listed object and the route it came by.
type work struct {
	route   int
	obj     providers.Object
	planned bool   // from a saved plan: check it did not change since
	inDoubt bool   // recorded as pending by an earlier run: maybe copied already
	delete  string // sync: delete this blob (its source is gone)
}

func (c *Copier) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	objs := make(chan work, c.o.Concurrency)
	c.mu.Lock()
	c.scanning, c.started = true, true
	c.mu.Unlock()
	g.Go(func() error {
		defer func() {
			c.mu.Lock()
			c.scanning = false
			c.mu.Unlock()
		}()
		defer close(objs)
		if c.o.FromPlan != nil {
			return c.enumeratePlan(gctx, objs)
		}
		for i, r := range c.o.Routes {
			if r.Err != nil {
				continue
			}
			enumerate := c.enumerate
			if c.o.Sync {
				enumerate = c.enumerateSync
			}
			err := enumerate(gctx, i, objs)
			if err == nil || gctx.Err() != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				continue
			}
			var se *SetupError
			if len(c.o.Routes) == 1 && errors.As(err, &se) {
				return err
			}
			c.mu.Lock()
			c.sum.Routes[i].Error = err.Error()
			c.mu.Unlock()
		}
		return nil
	})
	for i := 0; i < c.o.Concurrency; i++ {
		g.Go(func() error {
			for w := range objs {
				c.finish(w.route, c.copyObject(gctx, c.o.Routes[w.route], w))
			}
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func (c *Copier) ensureContainer(ctx context.Context, container string) (bool, error) {
	var created bool
	_, err := c.preflight().Do(ctx, func(ctx context.Context) error {
		var err error
		created, err = request(c, ctx, func(ctx context.Context) (bool, error) {
			return c.dst.EnsureContainer(ctx, container)
		})
		return err
	})
	if err != nil && providers.KindOf(err) == providers.KindPermission {
		// Credentials scoped to one existing container (a container SAS)
		// may not create containers; reading it proves it is there.
		_, lerr := c.dst.ListBlobs(ctx, container, providers.ListOptions{MaxResults: 1})
		if lerr == nil {
			return false, nil
		}
	}
	if err != nil {
		return false, &SetupError{What: fmt.Sprintf("destination container %q", container), Err: err}
	}
	return created, nil
}

// enumeratePlan dispatches the objects of a saved plan.
func (c *Copier) enumeratePlan(ctx context.Context, out chan<- work) error {
	byBucket := map[string]int{}
	for i, r := range c.o.Routes {
		if r.Err != nil {
			continue
		}
		if err := c.prepareRoute(ctx, i); err != nil {
			return err
		}
		byBucket[r.Bucket] = i
	}
	return c.o.FromPlan(func(p PlannedObject) error {
		i, ok := byBucket[p.Bucket]
		if !ok {
			return fmt.Errorf("the plan names bucket %q, which this run does not copy", p.Bucket)
		}
		obj := providers.Object{Key: p.Key, Size: p.Size, ETag: p.ETag, LastModified: p.LastModified}
		if c.o.FromInventory {
			r := c.o.Routes[i]
			if !strings.HasPrefix(p.Key, r.Prefix) {
				return nil // not this run's: as a listing of the prefix would not see it
			}
			if len(c.filter(r, []providers.Object{obj})) == 0 {
				return nil
			}
		} else if !c.o.Shard.Owns(p.Bucket, p.Key) {
			c.mu.Lock()
			c.sum.OtherShards++
			c.sum.OtherShardsBytes += p.Size
			c.mu.Unlock()
			return nil
		}
		c.count(i, 1, p.Size)
		select {
		case out <- work{route: i, obj: obj, planned: true}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// prepareRoute makes route i's container when it is missing (not in a dry
// run) and records whether it did.
func (c *Copier) prepareRoute(ctx context.Context, i int) error {
	if c.o.DryRun {
		return nil
	}
	created, err := c.ensureContainer(ctx, c.o.Routes[i].Container)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.sum.Estimate.AzureWrite++
	c.sum.Routes[i].ContainerCreated = created
	c.mu.Unlock()
	return nil
}

// filter drops (in place) and counts the objects of other shards and the
// objects the filter leaves out.
func (c *Copier) filter(r Route, objs []providers.Object) []providers.Object {
	kept := objs[:0]
	for _, o := range objs {
		if !c.o.Shard.Owns(r.Bucket, o.Key) {
			c.mu.Lock()
			c.sum.OtherShards++
			c.sum.OtherShardsBytes += o.Size
			c.mu.Unlock()
			continue
		}
		why := c.o.Filter.Why(strings.TrimPrefix(o.Key, r.Prefix), o)
		if why == "" {
			kept = append(kept, o)
			continue
		}
		c.mu.Lock()
		c.sum.Filtered[why]++
		c.sum.FilteredBytes += o.Size
		c.mu.Unlock()
	}
	return kept
}

// add counts the requests one object made or would make; uploads says the
// destination's blocks belong to uploads (begun, then completed) rather
// than staged freely.
func (q *Requests) add(r ObjectResult, uploads bool) {
	switch {
	case r.Mode == ModeDelete:
		q.AzureWrite++
		return
	case r.Outcome != Copied && r.Outcome != Planned:
		return
	case r.Found:
		q.AzureRead++ // found at the destination by a resume: one HEAD
		return
	}
	q.S3Head++
	if len(r.Tags) > 0 {
		q.S3Tagging++
	}
	switch r.Mode {
	case ModeEmpty:
		q.AzureWrite++ // Put Block List with no blocks
	case ModePutFromURL:
		q.S3Get++
		q.AzureWrite++
	case ModeStream, ModeBlocksFromURL:
		if r.Mode == ModeStream && r.Blocks == 1 && r.SinglePut {
			q.S3Get++
			q.AzureWrite++ // one Put Blob (PutObject)
			break
		}
		fetched := int64(r.Blocks - r.Resumed)
		q.S3Get += fetched
		q.AzureWrite += fetched + 1 // the blocks and the commit
		q.AzureRead++               // the uncommitted block list, or the uploads of that name
		if uploads {
			q.AzureWrite++ // the upload's begin
		}
	case ModeCopy:
		q.AzureWrite++ // one copy request; the service reads its own object
		return         // and nothing leaves it
	case ModeCopyParts:
		q.AzureWrite += int64(r.Blocks) + 2 // begin, one copy per part, complete
		q.AzureRead++                       // the uploads of that name
		return
	}
	q.EgressBytes += r.Size
}

// keepLargest inserts o into the largest-first list l, kept to maxLargest.
func keepLargest(l []SizedObject, o SizedObject) []SizedObject {
	if len(l) == maxLargest && o.Size <= l[len(l)-1].Size {
		return l
	}
	i := sort.Search(len(l), func(i int) bool { return l[i].Size < o.Size })
	l = append(l, SizedObject{})
	copy(l[i+1:], l[i:])
	l[i] = o
	if len(l) > maxLargest {
		l = l[:maxLargest]
	}
	return l
}

// count adds listed objects to the summary.
func (c *Copier) count(route int, n, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sum.Objects += n
	c.sum.Bytes += bytes
	c.sum.Routes[route].Objects += n
	c.sum.Routes[route].Bytes += bytes
}

// request runs one provider call under the global bound on requests in
// flight and counts it.
func request[T any](c *Copier, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	var zero T
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return zero, &providers.Error{Kind: providers.KindCanceled, Err: ctx.Err()}
	}
	defer func() { <-c.sem }()
	c.mu.Lock()
	c.reqs++
	c.mu.Unlock()
	return f(ctx)
}

// call runs f with retries, each try one bounded request, adding the tries
// to *attempts.
func (c *Copier) call(ctx context.Context, attempts *int, f func(context.Context) error) error {
	n, err := c.o.Retry.Do(ctx, func(ctx context.Context) error {
		_, err := request(c, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
		return err
	})
	*attempts += n
	return err
}

// finish records one object's result in the summary and reports it.
func (c *Copier) finish(route int, r ObjectResult) {
	c.mu.Lock()
	s := &c.sum
	s.Warnings += int64(len(r.Warnings))
	if r.Renamed {
		s.Renamed++
	}
	if r.Found {
		s.Found++
	}
	if r.SourceDeleted {
		s.SourcesDeleted++
	}
	if r.ChangedSinceInventory && (r.Outcome == Copied || r.Outcome == Planned) {
		s.ChangedSinceInventory++
	}
	if r.Outcome == Deleted || r.Outcome == Planned && r.Mode == ModeDelete {
		s.Deleted++
	}
	s.Estimate.add(r, c.uploads)
	if (r.Outcome == Copied || r.Outcome == Planned) && r.Mode != ModeDelete {
		s.Largest = keepLargest(s.Largest, SizedObject{Bucket: r.Bucket, Key: r.Key, Size: r.Size})
	}
	for _, ds := range [][]metadata.Decision{r.Metadata, r.Tags} {
		for _, d := range ds {
			if d.Action != metadata.ActionKept {
				s.MetadataActions[d.Action]++
			}
		}
	}
	if r.Streamed != "" && r.Outcome == Copied {
		s.Streamed[skipKind(r.Streamed)]++
		s.StreamedBytes += r.Size
	}
	s.Counts.add(r)
	s.Routes[route].Counts.add(r)
	switch r.Outcome {
	case Skipped:
		s.SkipReasons[skipKind(r.Reason)]++
	case Failed:
		if len(s.Failures) < c.o.MaxFailuresKept {
			s.Failures = append(s.Failures, Failure{Bucket: r.Bucket, Key: r.Key, Container: r.Container, Blob: r.Blob, Reason: r.Reason})
		}
	}
	c.mu.Unlock()
	// OnResult first: whatever it writes (a results file) is written before
	// the journal can record the object's end, so a process killed at any
	// moment has reported every object its journal calls finished.
	if c.o.OnResult != nil {
		c.o.OnResult(r)
	}
	if j := c.o.Journal; j != nil {
		if st, ok := journalStates[r.Outcome]; ok {
			j.Finish(c.o.Routes[route].String(), journal.Entry{Key: r.Key, Size: r.Size, ETag: r.ETag, State: st,
				Blob: r.Blob, Attempts: r.Attempts, Reason: r.Reason})
		}
	}
}

// journalStates maps outcomes to journal states; an interrupted object
// stays pending.
var journalStates = map[Outcome]journal.State{Copied: journal.Copied, Skipped: journal.Skipped, Failed: journal.Failed}

// skipKind groups skip reasons for the summary: by the known reasons,
// else by the text before the first ": ".
func skipKind(reason string) string {
	for _, g := range []string{skipFolderMarker, skipBlobName, skipArchived, skipExists, skipNotNewer, skipChanged, skipDeleted} {
		if strings.HasPrefix(reason, g) {
			return g
		}
	}
	if i := strings.Index(reason, ": "); i > 0 {
		return reason[:i]
	}
	return reason
}
