package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/azure"
	"github.com/migrate-tool/migrate/providers/s3"
)

var errHelp = errors.New("help shown")

// copyFlags are the flags of 'migrate copy', as typed values.
type copyFlags struct {
	s3Endpoint       string
	region           string
	awsProfile       string
	azureEndpoint    string
	concurrency      int
	putBlobMaxSize   int64
	blockSize        int64
	presignTTL       time.Duration
	metadataPolicy   string
	retries          int
	pageSize         int
	containerMap     []string
	containerMapFile string
	allowExisting    bool
	renameKeys       bool
	renameManifest   string
	keepFolders      bool
	dryRun           bool
	tags             bool
	blobTier         string
	preserveTier     bool
	keepS3Headers    bool
	sourceInfo       bool
	failOnArchived   bool
	results          string
	transferMode     string
	streamMemory     int64
	sseCKey          string
	requestPayer     bool
	sourceReachable  bool
	overwrite        string
	journalDir       string
	include, exclude []string
	includeBuckets   []string
	excludeBuckets   []string
	after, before    string
	minSize, maxSize int64
	deleteDest       bool
	output           string
	planFile         string
	fromPlan         string
	sourceInventory  string
	prices           prices
	noProgress       bool
	statusInterval   time.Duration
	logLevel         string
	logFile          string
	s3Anonymous      bool
	shard            string
	shardCount       int
	jobID            string
	acl              string
	storageClass     string
	contentType      string
	metadata         []string
	noGuessMime      bool
	copyObjectMax    int64
	listParallelism  int
	dstEndpoint      string
	dstRegion        string
}

func newCopyFlagSet(f *copyFlags, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("copy", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (path-style addressing), e.g. http://127.0.0.1:7070")
	fs.StringVar(&f.region, "region", "", "AWS region of the source; with s3:// (all buckets) only the buckets of this region are copied")
	fs.BoolVar(&f.s3Anonymous, "s3-anonymous", false, "read a public bucket without credentials (unsigned requests; Azure fetches the plain object URLs)")
	fs.StringVar(&f.awsProfile, "aws-profile", "", "AWS shared config profile to take credentials and region from")
	fs.StringVar(&f.azureEndpoint, "azure-endpoint", "", "Blob service URL to use instead of the one in DST (emulators, sovereign clouds), e.g. http://127.0.0.1:10000/devstoreaccount1")
	fs.StringVar(&f.transferMode, "transfer-mode", "auto", "auto (server-side; stream an object only when Azure cannot fetch it), server-side (never stream) or stream (always through this machine)")
	fs.Var(sizeFlag{&f.streamMemory}, "stream-memory", "most memory held in block buffers when streaming (default 512MiB)")
	fs.StringVar(&f.sseCKey, "sse-c-key", "", "base64 of the 32-byte customer key the source objects are encrypted with (SSE-C); such objects are streamed. Better: set MIGRATE_SSE_C_KEY")
	fs.BoolVar(&f.requestPayer, "request-payer", false, "the source bucket is requester-pays: this account pays for the requests and egress; objects are streamed")
	fs.BoolVar(&f.sourceReachable, "source-reachable", true, "=false when Azure cannot reach the S3 endpoint (a private network): objects are streamed through this machine")
	fs.IntVar(&f.concurrency, "concurrency", 64, "requests in flight at once, blocks included, and objects worked on at once")
	fs.Var(sizeFlag{&f.putBlobMaxSize}, "put-blob-max-size", "largest object copied with one Put Blob From URL; larger ones go block by block (default 256MiB, at most 5000MiB)")
	fs.Var(sizeFlag{&f.blockSize}, "block-size", "block size for block-by-block copies (default: 64MiB, raised to fit 50,000 blocks; at most 4000MiB)")
	fs.DurationVar(&f.presignTTL, "presign-ttl", 15*time.Minute, "validity of each presigned source URL (a fresh one is signed for every request; capped by the credentials' own expiry)")
	fs.StringVar(&f.metadataPolicy, "s2s-handle-invalid-metadata", "ExcludeIfInvalid", "user metadata whose names Azure refuses: ExcludeIfInvalid, FailIfInvalid or RenameIfInvalid")
	fs.StringVar(&f.metadataPolicy, "s2s-invalid-metadata-handle", "ExcludeIfInvalid", "alias of --s2s-handle-invalid-metadata")
	_ = fs.MarkHidden("s2s-invalid-metadata-handle")
	fs.BoolVar(&f.tags, "preserve-tags", true, "copy S3 object tags as blob index tags (invalid ones follow --s2s-handle-invalid-metadata); =false to skip them")
	fs.StringVar(&f.blobTier, "blob-tier", "", "set this access tier on every blob: Hot, Cool, Cold or Archive (default: the account's default tier)")
	fs.StringVar(&f.blobTier, "block-blob-tier", "", "alias of --blob-tier (AzCopy's name)")
	_ = fs.MarkHidden("block-blob-tier")
	fs.BoolVar(&f.preserveTier, "preserve-tier", false, "map each object's storage class to an access tier (STANDARD->Hot, *_IA and INTELLIGENT_TIERING->Cool, GLACIER_IR->Cold, restored GLACIER/DEEP_ARCHIVE->Archive)")
	fs.BoolVar(&f.keepS3Headers, "keep-s3-headers-as-metadata", false, "keep Expires and x-amz-website-redirect-location (no Azure equivalent) as metadata s3_expires and s3_website_redirect instead of dropping them")
	fs.BoolVar(&f.sourceInfo, "preserve-source-info", false, "record the source ETag, last-modified time and version id in metadata (s3_etag, s3_last_modified, s3_version_id)")
	fs.BoolVar(&f.failOnArchived, "fail-on-archived", false, "count archived objects that are not restored (GLACIER, DEEP_ARCHIVE) as failures instead of skips")
	fs.StringVar(&f.results, "results", "", "write one JSON line per object (source, destination, size, mode, outcome, reason, attempts, every metadata, tag and tier decision) to this file")
	fs.StringArrayVar(&f.containerMap, "container-map", nil, "bucket=container: copy this bucket into this container instead of the mapped name (repeatable)")
	fs.StringVar(&f.containerMapFile, "container-map-file", "", "file of bucket=container lines (# starts a comment), as --container-map")
	fs.BoolVar(&f.allowExisting, "allow-existing-containers", false, "let a bucket's mapped container be one that already exists (merging intended); without it such a bucket is not copied")
	fs.BoolVar(&f.renameKeys, "rename-invalid-keys", false, "give keys Azure cannot hold a reversible blob name (trailing '.' -> '．', '\\' -> '＼', control characters escaped) instead of skipping them")
	fs.StringVar(&f.renameManifest, "rename-manifest", "migrate-renamed-keys.jsonl", "with --rename-invalid-keys: file that lists every renamed key and its blob name (JSON lines)")
	fs.BoolVar(&f.keepFolders, "keep-folder-markers", false, "copy keys ending in '/' as zero-byte blobs instead of skipping them")
	fs.BoolVar(&f.dryRun, "dry-run", false, "list every decision (names, metadata, sizes, how each object would move) and write nothing")
	fs.StringArrayVar(&f.include, "include", nil, "copy only keys matching this glob (repeatable; a glob without '/' matches the file name, '**' crosses folders)")
	fs.StringArrayVar(&f.exclude, "exclude", nil, "skip keys matching this glob (repeatable; wins over --include)")
	fs.StringArrayVar(&f.includeBuckets, "include-bucket", nil, "with s3:// (all buckets): copy only buckets matching this glob (repeatable)")
	fs.StringArrayVar(&f.excludeBuckets, "exclude-bucket", nil, "with s3:// (all buckets): skip buckets matching this glob (repeatable)")
	fs.StringVar(&f.after, "include-after", "", "copy only objects last modified at or after this time (RFC 3339, e.g. 2024-01-31T00:00:00Z, or a date 2024-01-31)")
	fs.StringVar(&f.before, "include-before", "", "copy only objects last modified before this time (RFC 3339 or a date)")
	fs.Var(sizeFlag{&f.minSize}, "min-size", "copy only objects of at least this size")
	fs.Var(sizeFlag{&f.maxSize}, "max-size", "copy only objects of at most this size")
	fs.StringVar(&f.logLevel, "log-level", "info", "detail of the log file: debug (every object), info, warn or error")
	fs.StringVar(&f.logFile, "log-file", "", "structured log (JSON lines) file (default: migrate.log in the job's folder; none for unjournaled runs)")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no live status (terminal) and no periodic status lines")
	fs.DurationVar(&f.statusInterval, "status-interval", 30*time.Second, "when not on a terminal: a status line (JSON: a progress record) this often")
	fs.StringVar(&f.output, "output", "text", "text for a person, or json: JSON Lines on stdout (docs/output.md), the last line the whole report")
	fs.StringVar(&f.planFile, "plan-file", "", "with --dry-run (or 'migrate plan'): write the plan, one JSON line per object, to this file; 'migrate copy --from-plan FILE' executes it")
	fs.StringVar(&f.fromPlan, "from-plan", "", "copy exactly the objects of a saved plan (--plan-file), with its options; objects changed since are reported and skipped")
	fs.StringVar(&f.sourceInventory, "source-inventory", "", "list the source bucket from this S3 Inventory report (a local manifest.json, CSV data files under data/) instead of ListObjectsV2; objects changed since are copied as they are now, deleted ones skipped, created ones left to 'migrate sync'")
	fs.Float64Var(&f.prices.S3RequestPer1000, "price-s3-request", 0.0004, "estimate: US$ per 1,000 S3 GET/HEAD requests")
	fs.Float64Var(&f.prices.S3ListPer1000, "price-s3-list", 0.005, "estimate: US$ per 1,000 S3 LIST requests")
	fs.Float64Var(&f.prices.EgressPerGB, "price-egress", 0.09, "estimate: US$ per GiB sent out of S3")
	fs.Float64Var(&f.prices.AzureWritePer10k, "price-azure-write", 0.065, "estimate: US$ per 10,000 Azure write operations")
	fs.Float64Var(&f.prices.AzureReadPer10k, "price-azure-read", 0.005, "estimate: US$ per 10,000 Azure read operations")
	fs.BoolVar(&f.deleteDest, "delete-destination", false, "sync only: delete blobs whose source object is gone (see them first with --dry-run)")
	fs.BoolVar(&f.deleteDest, "delete", false, "alias of --delete-destination (the AWS CLI's name)")
	fs.StringVar(&f.contentType, "content-type", "", "set this Content-Type on every blob or object instead of the source's (or the one guessed from a local file's extension)")
	fs.StringArrayVar(&f.metadata, "metadata", nil, "key=value: set this user metadata on every blob or object, over the source's (repeatable)")
	fs.BoolVar(&f.noGuessMime, "no-guess-mime-type", false, "local source: do not guess Content-Type from file extensions")
	fs.StringVar(&f.acl, "acl", "", "S3 destination: canned ACL for every object written (private, bucket-owner-full-control, ...); S3 copies no ACL from the source")
	fs.StringVar(&f.storageClass, "storage-class", "", "S3 destination: storage class of every object written (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...; default: the bucket's)")
	fs.StringVar(&f.dstEndpoint, "dest-s3-endpoint", "", "S3 destination on another S3-compatible endpoint than the source's (default: --s3-endpoint); objects then stream through this machine")
	fs.StringVar(&f.dstRegion, "dest-region", "", "region of the S3 destination bucket (default: --region; requests follow a bucket's region anyway)")
	fs.Var(sizeFlag{&f.copyObjectMax}, "copy-object-max-size", "S3 to S3: largest object copied with one CopyObject and largest part of UploadPartCopy (default 5GiB, S3's limit; lower for servers configured lower)")
	fs.StringVar(&f.overwrite, "overwrite", "true", "when a blob of that name exists: true (replace it), false (skip the object) or ifSourceNewer (replace it only when the object is newer); false and ifSourceNewer cost a HEAD per object")
	fs.StringVar(&f.journalDir, "journal-dir", "", "where jobs are journaled for 'migrate jobs' (default $MIGRATE_JOURNAL_DIR, else ~/.migrate/jobs)")
	fs.IntVar(&f.retries, "retries", pipeline.DefaultRetry.MaxAttempts-1, "retries of a throttled or transient request, with exponential backoff")
	fs.IntVar(&f.pageSize, "page-size", 0, "listing page size (default: the service's, 1000 for S3)")
	fs.IntVar(&f.listParallelism, "list-parallelism", pipeline.DefaultListParallelism, "key ranges of a large listing (past 20 pages) listed at once, split by start-after; 1 lists one stream (sync always does)")
	fs.StringVar(&f.shard, "shard", "", "I/N: copy only this process's part of the job, the objects whose hash of (bucket, key) mod N is I (0 <= I < N); run N processes, one per I (docs/scale-out.md)")
	fs.StringVar(&f.jobID, "job-id", "", "name the job (letters, digits, '.', '-', '_') instead of a generated id; when that job exists with the same command line it is resumed (done: nothing to do), so a retried container finishes its shard")
	fs.IntVar(&f.shardCount, "shard-count", 0, "N: as --shard I/N with I from $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: migrate copy|move|sync|plan SRC DST [flags]

Copies every object of SRC into DST. Azure pulls each object from a presigned
S3 URL (Put Blob From URL, or Put Block From URL and Put Block List for large
objects): the bytes never pass through this machine. S3 to S3 copies are
server-side too (CopyObject; UploadPartCopy past --copy-object-max-size).
Local folders are uploaded in parallel, large files in parallel parts.
'move' deletes each source object once its copy is verified.

SRC  s3://bucket[/prefix]              one bucket
     s3://                             every bucket of the account (--region R: of one region)
     https://s3.amazonaws.com/bucket[/prefix]
     https://bucket.s3.REGION.amazonaws.com[/prefix]
     https://s3.REGION.amazonaws.com/bucket[/prefix]
     ./folder, /path/to/folder         a local folder, recursively
DST  s3://bucket[/prefix]              an S3 bucket (same credentials and --s3-endpoint as an S3 SRC)
     https://ACCOUNT.blob.core.windows.net/container[/prefix][?SAS]
     https://ACCOUNT.blob.core.windows.net/[?SAS]   each bucket into its own container,
                                                   named as AzCopy does (my.bucket -> my-bucket)
     http://127.0.0.1:PORT/ACCOUNT[/container[/prefix]]   (emulators)

Credentials: AWS from the SDK's default chain (environment, shared config and
--aws-profile, SSO, web identity, instance roles; --s3-anonymous for public
buckets). Azure from the SAS in DST, else AZURE_STORAGE_SAS_TOKEN, else
AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_ACCOUNT with
AZURE_STORAGE_KEY, else Azure's DefaultAzureCredential (docs/credentials.md).

Examples:
  migrate copy s3://photos https://acct.blob.core.windows.net/photos
  migrate copy s3:// https://acct.blob.core.windows.net/ --region eu-west-1 --dry-run
  migrate copy s3://logs/2024 https://acct.blob.core.windows.net/archive/logs --concurrency 128

Exit codes: 0 all copied, 1 some objects or buckets failed, 2 usage or
configuration error, 130 interrupted.

Flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// copyJob is a parsed, validated 'migrate copy' invocation.
type copyJob struct {
	src         s3.Location
	srcLocal    string // a local folder as the source (absolute), instead of src
	dst         azure.Location
	dstS3       *s3.Location // S3 as the destination, instead of dst
	dstS3Opts   s3.Options
	noGuessMime bool
	s3Opts      s3.Options
	azOpts      azure.Options
	routes      pipeline.RouteOptions
	manifest    string // rename manifest path, "" when not renaming
	results     string // per-object results path, "" for none
	journals    string // the journal directory
	deleteDest  bool   // sync --delete-destination
	output      string // text or json
	planFile    string // --plan-file
	fromPlan    string // --from-plan
	// sourceInventory is --source-inventory: the manifest.json whose rows
	// replace the listing.
	sourceInventory string
	prices          prices // for the estimate
	noProgress      bool
	interval        time.Duration
	logLevel        slog.Level
	logFile         string
	jobID           string // --job-id: the job's name, resumed when it exists
	pipeOpts        pipeline.Options
}

// shardFrom resolves --shard I/N, or --shard-count N with I from
// JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs); the zero Shard when
// neither is given.
func shardFrom(shard string, count int, getenv env) (pipeline.Shard, error) {
	switch {
	case shard != "" && count != 0:
		return pipeline.Shard{}, usagef("give --shard I/N or --shard-count N, not both")
	case shard != "":
		s, err := pipeline.ParseShard(shard)
		if err != nil {
			return pipeline.Shard{}, usagef("--shard: %v", err)
		}
		return s, nil
	case count != 0:
		idx := getenv("JOB_COMPLETION_INDEX")
		if idx == "" {
			return pipeline.Shard{}, usagef("--shard-count needs the shard index in JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job); elsewhere give --shard I/N")
		}
		s, err := pipeline.ParseShard(idx + "/" + strconv.Itoa(count))
		if err != nil {
			return pipeline.Shard{}, usagef("--shard-count %d with JOB_COMPLETION_INDEX=%q: %v", count, idx, err)
		}
		return s, nil
	}
	return pipeline.Shard{}, nil
}

// pinShard rewrites a command line so that it names its shard with
// --shard I/N: a resumed job must be the same shard whatever its
// environment (JOB_COMPLETION_INDEX) says then.
func pinShard(args []string, s pipeline.Shard) []string {
	if s.Count == 0 {
		return args
	}
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(args[i], "=")
		if name == "--shard" || name == "--shard-count" {
			if !hasValue {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return append(out, "--shard", s.String())
}

// parseCopy turns arguments and environment into a copyJob; every error
// is a usage error.
func parseCopy(args []string, getenv env, stderr io.Writer) (copyJob, error) {
	var f copyFlags
	fs := newCopyFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return copyJob{}, errHelp
		}
		return copyJob{}, usageError{fmt.Errorf("%v (see 'migrate copy --help')", err)}
	}
	if f.fromPlan != "" {
		if fs.NArg() != 0 || fs.NFlag() != 1 {
			return copyJob{}, usagef("--from-plan takes SRC, DST and every option from the plan: give it alone")
		}
		return copyJob{fromPlan: f.fromPlan}, nil
	}
	if fs.NArg() != 2 {
		return copyJob{}, usagef("copy needs SRC and DST, got %d arguments (see 'migrate copy --help')", fs.NArg())
	}
	var j copyJob
	var err error
	if isLocalPath(fs.Arg(0)) {
		if j.srcLocal, err = localFolder(fs.Arg(0)); err != nil {
			return copyJob{}, usagef("source: %v", err)
		}
	} else if j.src, err = s3.ParseURL(fs.Arg(0)); err != nil {
		return copyJob{}, usagef("source: %v", err)
	}
	if err = j.parseDest(fs.Arg(1)); err != nil {
		return copyJob{}, usagef("destination: %v", err)
	}
	if err := j.checkEnds(f); err != nil {
		return copyJob{}, err
	}
	if j.srcLocal == "" && j.src.Bucket == "" && j.dst.Container != "" {
		return copyJob{}, usagef("source %s names every bucket, so the destination must name no container (each bucket gets its own): give https://%s.blob.core.windows.net/", fs.Arg(0), j.dst.Account)
	}
	if j.srcLocal == "" && j.src.Bucket == "" && j.src.Prefix != "" {
		return copyJob{}, usagef("source %s has a prefix but no bucket", fs.Arg(0))
	}
	policy, err := metadata.ParsePolicy(f.metadataPolicy)
	if err != nil {
		return copyJob{}, usagef("--s2s-handle-invalid-metadata: %v", err)
	}
	if f.concurrency < 1 || f.concurrency > 10000 {
		return copyJob{}, usagef("--concurrency must be between 1 and 10000, got %d", f.concurrency)
	}
	if f.listParallelism < 1 || f.listParallelism > 256 {
		return copyJob{}, usagef("--list-parallelism must be between 1 and 256, got %d", f.listParallelism)
	}
	if f.retries < 0 || f.retries > 100 {
		return copyJob{}, usagef("--retries must be between 0 and 100, got %d", f.retries)
	}
	if f.presignTTL < time.Minute || f.presignTTL > 7*24*time.Hour {
		return copyJob{}, usagef("--presign-ttl must be between 1m and 168h (SigV4's limit), got %v", f.presignTTL)
	}
	if f.putBlobMaxSize < 0 || f.putBlobMaxSize > pipeline.AzureLimits.MaxPutBlobFromURL {
		return copyJob{}, usagef("--put-blob-max-size must be at most 5000MiB (Azure's Put Blob From URL limit), got %s", pipeline.FormatBytes(f.putBlobMaxSize))
	}
	if f.blockSize < 0 || f.blockSize > pipeline.AzureLimits.MaxBlockSize {
		return copyJob{}, usagef("--block-size must be at most 4000MiB (Azure's block limit), got %s", pipeline.FormatBytes(f.blockSize))
	}
	overrides, err := containerMap(f.containerMap, f.containerMapFile)
	if err != nil {
		return copyJob{}, err
	}

	// Source.
	region := f.region
	if region == "" {
		region = j.src.Region
	}
	endpoint := f.s3Endpoint
	if endpoint == "" {
		endpoint = j.src.Endpoint
	}
	filter := pipeline.Filter{Include: f.include, Exclude: f.exclude, MinSize: f.minSize, MaxSize: f.maxSize}
	if filter.After, err = parseTime(f.after); err != nil {
		return copyJob{}, usagef("--include-after: %v", err)
	}
	if filter.Before, err = parseTime(f.before); err != nil {
		return copyJob{}, usagef("--include-before: %v", err)
	}
	if err := filter.Validate(); err != nil {
		return copyJob{}, usagef("filters: %v", err)
	}
	shard, err := shardFrom(f.shard, f.shardCount, getenv)
	if err != nil {
		return copyJob{}, err
	}
	if (j.src.Bucket != "" || j.srcLocal != "") && len(f.includeBuckets)+len(f.excludeBuckets) > 0 {
		return copyJob{}, usagef("--include-bucket and --exclude-bucket need s3:// (all buckets) as the source")
	}
	overwrite, err := pipeline.ParseOverwrite(f.overwrite)
	if err != nil {
		return copyJob{}, usagef("--overwrite: %v", err)
	}
	if j.journals, err = journalDir(f.journalDir, getenv); err != nil {
		return copyJob{}, err
	}
	mode, err := pipeline.ParseTransferMode(f.transferMode)
	if err != nil {
		return copyJob{}, usagef("--transfer-mode: %v", err)
	}
	if f.sseCKey == "" {
		f.sseCKey = getenv("MIGRATE_SSE_C_KEY")
	}
	j.s3Opts = s3.Options{Region: region, Endpoint: endpoint, Profile: f.awsProfile, UsePathStyle: endpoint != "", PresignTTL: f.presignTTL,
		SSECustomerKey: providers.Secret(f.sseCKey), RequestPayer: f.requestPayer, SourceUnreachable: !f.sourceReachable, Anonymous: f.s3Anonymous}

	if j.dstS3 != nil {
		// The same credentials, and unless told otherwise the same endpoint
		// and region, as an S3 source: a copy within one service is
		// server-side; between two endpoints it streams.
		dstEndpoint, dstRegion := endpoint, f.region
		if f.dstEndpoint != "" {
			dstEndpoint = f.dstEndpoint
		}
		if f.dstRegion != "" {
			dstRegion = f.dstRegion
		}
		j.dstS3Opts = s3.Options{Region: dstRegion, Endpoint: dstEndpoint, Profile: f.awsProfile, UsePathStyle: dstEndpoint != "",
			ACL: f.acl, StorageClass: f.storageClass, CopyObjectThreshold: f.copyObjectMax}
	} else if err := j.azureCredential(f, getenv); err != nil {
		return copyJob{}, err
	}
	j.noGuessMime = f.noGuessMime

	j.routes = pipeline.RouteOptions{Prefix: folderPrefix(j.src.Prefix), DestPrefix: j.dst.Prefix,
		Overrides: overrides, AllowExisting: f.allowExisting, IncludeBuckets: f.includeBuckets, ExcludeBuckets: f.excludeBuckets}
	if j.src.Bucket != "" {
		j.routes.Buckets = []string{j.src.Bucket}
	} else {
		j.routes.Region = region
	}
	if f.renameKeys {
		j.manifest = f.renameManifest
	}
	j.results = f.results
	j.deleteDest = f.deleteDest
	if f.output != "text" && f.output != "json" {
		return copyJob{}, usagef("--output must be text or json, got %q", f.output)
	}
	j.output, j.planFile, j.fromPlan = f.output, f.planFile, f.fromPlan
	j.prices = f.prices.forEnds(j)
	if j.sourceInventory = f.sourceInventory; j.sourceInventory != "" {
		switch {
		case j.src.Bucket == "":
			return copyJob{}, usagef("--source-inventory lists one bucket: give it as the source (s3://bucket[/prefix])")
		case f.jobID != "":
			return copyJob{}, usagef("--source-inventory runs are not journaled (run one again to resume it, with --overwrite=false to pass over what is copied): no --job-id")
		}
	}
	j.noProgress, j.interval, j.logFile, j.jobID = f.noProgress, f.statusInterval, f.logFile, f.jobID
	if err := j.logLevel.UnmarshalText([]byte(f.logLevel)); err != nil {
		return copyJob{}, usagef("--log-level must be debug, info, warn or error, got %q", f.logLevel)
	}
	if f.planFile != "" && !f.dryRun {
		return copyJob{}, usagef("--plan-file writes a plan: use it with --dry-run or 'migrate plan'")
	}
	if f.blobTier != "" {
		if f.blobTier, err = metadata.ParseTier(f.blobTier); err != nil {
			return copyJob{}, usagef("--blob-tier: %v", err)
		}
	}
	j.pipeOpts = pipeline.Options{
		Filter:             filter,
		Shard:              shard,
		Overwrite:          overwrite,
		TransferMode:       mode,
		StreamMemory:       f.streamMemory,
		Concurrency:        f.concurrency,
		PutBlobMaxSize:     f.putBlobMaxSize,
		BlockSize:          f.blockSize,
		PresignTTL:         f.presignTTL,
		MetadataPolicy:     policy,
		RenameInvalidKeys:  f.renameKeys,
		KeepFolderMarkers:  f.keepFolders,
		Tags:               f.tags,
		BlobTier:           f.blobTier,
		PreserveTier:       f.preserveTier,
		KeepS3Headers:      f.keepS3Headers,
		PreserveSourceInfo: f.sourceInfo,
		FailOnArchived:     f.failOnArchived,
		DryRun:             f.dryRun,
		PageSize:           f.pageSize,
		ListParallelism:    f.listParallelism,
		Retry:              pipeline.DefaultRetry,
	}
	j.pipeOpts.Retry.MaxAttempts = f.retries + 1
	j.pipeOpts.ContentType = f.contentType
	if j.pipeOpts.Metadata, err = metadataPairs(f.metadata); err != nil {
		return copyJob{}, err
	}
	return j, nil
}

// containerMap reads --container-map values and the --container-map-file.
func containerMap(pairs []string, file string) (map[string]string, error) {
	m := map[string]string{}
	add := func(where, line string) error {
		b, c, ok := strings.Cut(line, "=")
		b, c = strings.TrimSpace(b), strings.TrimSpace(c)
		if !ok || b == "" || c == "" {
			return usagef("%s: %q is not bucket=container", where, line)
		}
		if prev, dup := m[b]; dup && prev != c {
			return usagef("%s: bucket %q is mapped twice (%q and %q)", where, b, prev, c)
		}
		m[b] = c
		return nil
	}
	for _, p := range pairs {
		if err := add("--container-map", p); err != nil {
			return nil, err
		}
	}
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, usagef("--container-map-file: %v", err)
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			line, _, _ := strings.Cut(sc.Text(), "#")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := add(fmt.Sprintf("%s line %d", file, n), line); err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, usagef("--container-map-file: %v", err)
		}
	}
	return m, nil
}

// folderPrefix treats a source prefix as a folder, as the AWS CLI's
// recursive copy does: "photos" selects "photos/..." and not "photos2".
func folderPrefix(p string) string {
	if p == "" || strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

func runCopy(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	return runTransfer(ctx, "copy", args, getenv, stdout, stderr)
}

// runMove is 'migrate move': a copy that deletes each source object once
// its copy is verified.
func runMove(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	return runTransfer(ctx, "move", args, getenv, stdout, stderr)
}

// runTransfer runs 'migrate copy' or 'migrate move' (command).
func runTransfer(ctx context.Context, command string, args []string, getenv env, stdout, stderr io.Writer) error {
	j, err := parseCopy(args, getenv, stderr)
	if err != nil {
		return err
	}
	if command == "move" {
		if j.fromPlan != "" || j.sourceInventory != "" {
			return usagef("a move lists its source itself: no --from-plan or --source-inventory")
		}
		j.pipeOpts.DeleteSource = true
	}
	if j.deleteDest {
		return usagef("--delete-destination belongs to 'migrate sync'")
	}
	if j.fromPlan != "" {
		return runFromPlan(ctx, j.fromPlan, getenv, stdout, stderr)
	}
	if j.sourceInventory != "" {
		return runFromInventory(ctx, j, args, stdout, stderr)
	}
	var jr *journal.Journal
	rep := newReporter(j.output, j.prices, stdout, stderr)
	if !j.pipeOpts.DryRun {
		args = pinShard(args, j.pipeOpts.Shard)
		resumed := false
		if j.jobID != "" {
			jr, resumed, err = openNamedJob(j.journals, command, j.jobID, redactArgs(args))
		} else {
			jr, err = journal.Create(j.journals, journal.Job{Command: command, Args: redactArgs(args)})
		}
		if err != nil {
			return err
		}
		if jr == nil {
			fmt.Fprintf(stdout, "Job %s is already done.\n", j.jobID)
			return nil
		}
		defer jr.Close()
		if resumed {
			rep.note("Resuming job %s", jr.Job().ID)
		} else {
			rep.job(jr.Job().ID, jr.Dir())
		}
		return executeCopy(ctx, j, jr, resumed, rep, args)
	}
	return executeCopy(ctx, j, jr, false, rep, args)
}

// openNamedJob creates the job named id, or opens it for resume when it
// exists with the same command line (resumed true); a nil journal means it
// is already done. Another command line under that name is a usage error.
func openNamedJob(dir, command, id string, args []string) (*journal.Journal, bool, error) {
	existing, err := journal.ReadJob(dir, id)
	if errors.Is(err, journal.ErrNotFound) {
		jr, err := journal.Create(dir, journal.Job{ID: id, Command: command, Args: args})
		if err != nil {
			return nil, false, usagef("journal: %v (see --journal-dir, --job-id)", err)
		}
		return jr, false, nil
	}
	if err != nil {
		return nil, false, usagef("journal: %v (see --journal-dir, --job-id)", err)
	}
	if existing.Command != command || !slices.Equal(existing.Args, args) {
		return nil, false, usagef("job %s exists with another command line (migrate %s %s): give another --job-id",
			id, existing.Command, strings.Join(existing.Args, " "))
	}
	if existing.State == journal.JobDone {
		return nil, false, nil
	}
	jr, err := journal.Open(dir, id)
	if err != nil {
		return nil, false, usagef("journal: %v", err)
	}
	return jr, true, nil
}

// runSync is 'migrate sync': a copy of what is missing or changed, with
// deletion of what went when asked; not journaled (running it again is its
// resume).
func runSync(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	j, err := parseCopy(args, getenv, stderr)
	if err != nil {
		return err
	}
	if j.sourceInventory != "" {
		return usagef("--source-inventory belongs to 'migrate copy': a sync compares listings (follow an inventory copy with a sync for what changed since)")
	}
	if j.pipeOpts.Shard.Count > 0 {
		return usagef("a sync cannot be sharded (a blob whose source is gone has no key to assign it to a shard): shard 'migrate copy', then sync once")
	}
	j.pipeOpts.Sync, j.pipeOpts.DeleteDestination = true, j.deleteDest
	return executeCopy(ctx, j, nil, false, newReporter(j.output, j.prices, stdout, stderr), args)
}

// executeCopy runs a parsed copy, journaled in jr when it is not nil;
// resumed says jr holds an earlier run of the same job.
// args is the command line, for the plan file's header.
func executeCopy(ctx context.Context, j copyJob, jr *journal.Journal, resumed bool, rep reporter, args []string) (err error) {
	defer rep.close() // after finishJob's note, below
	var summary json.RawMessage
	if jr != nil {
		j.pipeOpts.Journal = jr
		j.pipeOpts.JobStarted = jr.Job().Created
		// The containers a resumed job finds were approved (or made) by its
		// first run.
		j.routes.AllowExisting = j.routes.AllowExisting || resumed
		defer func() { err = finishJob(jr, err, summary, rep) }()
	}
	src, dst, err := openEnds(ctx, j, func(path string, why error) {
		rep.note("warning: %s is not copied: %v", path, why)
	})
	if err != nil {
		return err
	}
	// Routes: the container named in DST, or each bucket's mapped one.
	routes, mappings, err := j.planRoutes(ctx, src, dst)
	if err != nil {
		return err
	}
	if mappings != nil {
		rep.mappings(mappings)
	}
	j.pipeOpts.Routes = routes

	if j.manifest != "" {
		fh, err := os.OpenFile(j.manifest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return usagef("--rename-manifest: %v", err)
		}
		defer fh.Close()
		j.pipeOpts.RenameManifest = fh
	}
	// Per-object results: always with the job, and where --results says;
	// a plan file is the results of a dry run, after a header line.
	var outs []io.Writer
	paths := []string{j.results, j.planFile}
	if jr != nil {
		paths = append(paths, filepath.Join(jr.Dir(), "results.jsonl"))
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return usagef("results file: %v", err)
		}
		defer fh.Close()
		if p != j.planFile {
			// Unbuffered: one write per line, made before the object's end
			// is journaled, so a process killed at any moment leaves every
			// journaled object in its results file ('migrate jobs summary'
			// merges them).
			outs = append(outs, fh)
			continue
		}
		bw := bufio.NewWriter(fh)
		defer bw.Flush()
		if err := writePlanHeader(bw, args); err != nil {
			return err
		}
		outs = append(outs, bw)
	}
	results := io.MultiWriter(outs...)
	logPath := j.logFile
	if logPath == "" && jr != nil {
		logPath = filepath.Join(jr.Dir(), "migrate.log")
	}
	log := slog.New(slog.DiscardHandler)
	if logPath != "" {
		fh, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return usagef("log file: %v", err)
		}
		defer fh.Close()
		log = slog.New(slog.NewJSONHandler(fh, &slog.HandlerOptions{Level: j.logLevel}))
	}
	log.Info("run started", "args", redactArgs(args), "resumed", resumed, "dry_run", j.pipeOpts.DryRun)
	var outMu sync.Mutex
	j.pipeOpts.OnResult = func(r pipeline.ObjectResult) {
		logResult(log, r)
		outMu.Lock()
		defer outMu.Unlock()
		rep.object(r)
		if len(outs) > 0 {
			writeResult(results, r)
		}
	}
	cp, err := pipeline.New(src, dst, j.pipeOpts)
	if err != nil {
		return usagef("%v", err)
	}
	disp := startDisplay(ctx, cp, j.output, j.noProgress, j.interval, rep, rep.errOut())
	restore := func() {}
	if disp.live {
		restore = rep.redirect(disp.Err)
	}
	sum, runErr := cp.Run(ctx)
	disp.stop()
	restore()
	var se *pipeline.SetupError
	if errors.As(runErr, &se) {
		return usageError{runErr} // nothing was attempted: no summary
	}
	log.Info("run ended", "copied", sum.Copied, "skipped", sum.Skipped, "failed", sum.Failed, "failed_buckets", sum.FailedRoutes,
		"interrupted", sum.Interrupted, "bytes", sum.CopiedBytes, "elapsed", sum.Elapsed.String(), "requests", sum.Requests, "error", errText(runErr))
	rep.summary(serviceName(j), sum)
	if j.manifest != "" && sum.Renamed > 0 {
		rep.note("Renamed keys are listed in %s", j.manifest)
	}
	if j.planFile != "" {
		rep.note("Plan written to %s; execute it with: migrate copy --from-plan %s", j.planFile, j.planFile)
	}
	if jr != nil {
		if resumed {
			printJobTotals(rep, jr, j.pipeOpts.Routes)
		}
		if b, err := json.Marshal(sum); err == nil {
			summary = b
		}
	}
	switch {
	case errors.Is(runErr, context.Canceled) || ctx.Err() != nil:
		return context.Canceled
	case runErr != nil:
		return runErr
	case !sum.OK():
		return failedError{sum.Failed + int64(sum.FailedRoutes)}
	}
	return nil
}

// serviceName is the destination as the summary shows it, without secrets.
func serviceName(j copyJob) string {
	if j.dstS3 != nil {
		return j.dstS3.String()
	}
	if j.azOpts.ServiceURL == "" {
		return "https://" + j.dst.Account + ".blob.core.windows.net"
	}
	return providers.RedactURL(strings.TrimRight(j.azOpts.ServiceURL, "/"))
}

// parseTime reads an RFC 3339 time or a date (midnight UTC); "" is zero.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2024-01-31T12:00:00Z) nor a date (2024-01-31)", s)
}

// logResult writes one object's end to the log: failures and warnings as
// warnings, skips as information, the rest at debug level.
func logResult(log *slog.Logger, r pipeline.ObjectResult) {
	attrs := []any{"source", sourceURL(r.Bucket, r.Key), "destination", r.Container + "/" + r.Blob, "size", r.Size,
		"outcome", string(r.Outcome), "mode", string(r.Mode), "attempts", r.Attempts}
	for _, w := range r.Warnings {
		log.Warn(w, attrs...)
	}
	switch r.Outcome {
	case pipeline.Failed:
		log.Warn("object failed", append(attrs, "reason", r.Reason)...)
	case pipeline.Skipped:
		log.Info("object skipped", append(attrs, "reason", r.Reason)...)
	default:
		log.Debug("object done", append(attrs, "streamed", r.Streamed)...)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return providers.Redact(err.Error())
}

// azureCredential sets the Azure destination's service URL and credential:
// the SAS in the URL, else the environment, else azidentity's default chain.
func (j *copyJob) azureCredential(f copyFlags, getenv env) error {
	service := j.dst.ServiceURL
	if f.azureEndpoint != "" {
		service = strings.TrimRight(f.azureEndpoint, "/")
	}
	j.azOpts = azure.Options{ServiceURL: service, Account: j.dst.Account}
	if j.dst.SAS == "" && getenv("AZURE_STORAGE_SAS_TOKEN") != "" {
		j.dst.SAS = providers.Secret(strings.TrimPrefix(getenv("AZURE_STORAGE_SAS_TOKEN"), "?"))
	}
	switch {
	case j.dst.SAS != "":
		j.azOpts.Credential.SAS = j.dst.SAS
	case getenv("AZURE_STORAGE_CONNECTION_STRING") != "":
		j.azOpts.Credential.ConnectionString = providers.Secret(getenv("AZURE_STORAGE_CONNECTION_STRING"))
		if f.azureEndpoint == "" {
			j.azOpts.ServiceURL = "" // the connection string's BlobEndpoint decides
			if j.dst.ServiceURL != "" && !strings.Contains(j.dst.ServiceURL, ".blob.") {
				j.azOpts.ServiceURL = j.dst.ServiceURL // emulator-style DST names the endpoint itself
			}
		}
	case getenv("AZURE_STORAGE_KEY") != "":
		acct := getenv("AZURE_STORAGE_ACCOUNT")
		if acct != "" && acct != j.dst.Account {
			return usagef("AZURE_STORAGE_ACCOUNT is %q but the destination's account is %q", acct, j.dst.Account)
		}
		j.azOpts.Credential.AccountKey = providers.Secret(getenv("AZURE_STORAGE_KEY"))
	case strings.HasPrefix(j.azOpts.ServiceURL, "http://"):
		// Azure AD tokens are only sent over https.
		return usagef("no Azure credential for the http endpoint %s: put a SAS in DST, or set AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY", providers.RedactURL(j.azOpts.ServiceURL))
	}
	return nil
}
