package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/azure"
	"github.com/migrate-tool/migrate/providers/s3"
)

var errHelp = errors.New("help shown")

// copyFlags are the flags of 'migrate copy', as typed values.
type copyFlags struct {
	s3Endpoint     string
	region         string
	awsProfile     string
	azureEndpoint  string
	concurrency    int
	putBlobMaxSize int64
	blockSize      int64
	presignTTL     time.Duration
	metadataPolicy string
	retries        int
	pageSize       int
}

func newCopyFlagSet(f *copyFlags, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("copy", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (path-style addressing), e.g. http://127.0.0.1:7070")
	fs.StringVar(&f.region, "region", "", "AWS region of the source bucket (default: from the URL, AWS_REGION or the profile; else us-east-1)")
	fs.StringVar(&f.awsProfile, "aws-profile", "", "AWS shared config profile to take credentials and region from")
	fs.StringVar(&f.azureEndpoint, "azure-endpoint", "", "Blob service URL to use instead of the one in DST (emulators, sovereign clouds), e.g. http://127.0.0.1:10000/devstoreaccount1")
	fs.IntVar(&f.concurrency, "concurrency", 64, "requests in flight at once, blocks included, and objects worked on at once")
	fs.Var(sizeFlag{&f.putBlobMaxSize}, "put-blob-max-size", "largest object copied with one Put Blob From URL; larger ones go block by block (default 256MiB, at most 5000MiB)")
	fs.Var(sizeFlag{&f.blockSize}, "block-size", "block size for block-by-block copies (default: 64MiB, raised to fit 50,000 blocks; at most 4000MiB)")
	fs.DurationVar(&f.presignTTL, "presign-ttl", 15*time.Minute, "validity of each presigned source URL (a fresh one is signed for every request; capped by the credentials' own expiry)")
	fs.StringVar(&f.metadataPolicy, "s2s-handle-invalid-metadata", "ExcludeIfInvalid", "user metadata whose names Azure refuses: ExcludeIfInvalid, FailIfInvalid or RenameIfInvalid")
	fs.StringVar(&f.metadataPolicy, "s2s-invalid-metadata-handle", "ExcludeIfInvalid", "alias of --s2s-handle-invalid-metadata")
	_ = fs.MarkHidden("s2s-invalid-metadata-handle")
	fs.IntVar(&f.retries, "retries", pipeline.DefaultRetry.MaxAttempts-1, "retries of a throttled or transient request, with exponential backoff")
	fs.IntVar(&f.pageSize, "page-size", 0, "listing page size (default: the service's, 1000 for S3)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: migrate copy SRC DST [flags]

Copies every object of SRC into DST. Azure pulls each object from a presigned
S3 URL (Put Blob From URL, or Put Block From URL and Put Block List for large
objects): the bytes never pass through this machine.

SRC  s3://bucket[/prefix]
     https://s3.amazonaws.com/bucket[/prefix]
     https://bucket.s3.REGION.amazonaws.com[/prefix]
     https://s3.REGION.amazonaws.com/bucket[/prefix]
DST  https://ACCOUNT.blob.core.windows.net/container[/prefix][?SAS]
     http://127.0.0.1:PORT/ACCOUNT/container[/prefix]   (emulators)

Credentials: AWS from the SDK's default chain (environment, shared config and
--aws-profile, SSO, web identity, instance roles). Azure from the SAS in DST,
else AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_ACCOUNT with
AZURE_STORAGE_KEY, else Azure's DefaultAzureCredential.

Exit codes: 0 all copied, 1 some objects failed, 2 usage or configuration
error, 130 interrupted.

Flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// copyJob is a parsed, validated 'migrate copy' invocation.
type copyJob struct {
	src      s3.Location
	dst      azure.Location
	s3Opts   s3.Options
	azOpts   azure.Options
	pipeOpts pipeline.Options
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
	if fs.NArg() != 2 {
		return copyJob{}, usagef("copy needs SRC and DST, got %d arguments (see 'migrate copy --help')", fs.NArg())
	}
	var j copyJob
	var err error
	if j.src, err = s3.ParseURL(fs.Arg(0)); err != nil {
		return copyJob{}, usagef("source: %v", err)
	}
	if j.src.Bucket == "" {
		return copyJob{}, usagef("source %q names no bucket: give s3://bucket[/prefix]", fs.Arg(0))
	}
	if j.dst, err = azure.ParseURL(fs.Arg(1)); err != nil {
		return copyJob{}, usagef("destination: %v", err)
	}
	if j.dst.Container == "" {
		return copyJob{}, usagef("destination %s names no container: give https://ACCOUNT.blob.core.windows.net/container[/prefix]", providers.RedactURL(fs.Arg(1)))
	}
	policy, err := metadata.ParsePolicy(f.metadataPolicy)
	if err != nil {
		return copyJob{}, usagef("--s2s-handle-invalid-metadata: %v", err)
	}
	if f.concurrency < 1 || f.concurrency > 10000 {
		return copyJob{}, usagef("--concurrency must be between 1 and 10000, got %d", f.concurrency)
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

	// Source.
	region := f.region
	if region == "" {
		region = j.src.Region
	}
	endpoint := f.s3Endpoint
	if endpoint == "" {
		endpoint = j.src.Endpoint
	}
	j.s3Opts = s3.Options{Region: region, Endpoint: endpoint, Profile: f.awsProfile, UsePathStyle: endpoint != "", PresignTTL: f.presignTTL}

	// Destination and its credential: the SAS in the URL, else the
	// environment, else azidentity's default chain.
	service := j.dst.ServiceURL
	if f.azureEndpoint != "" {
		service = strings.TrimRight(f.azureEndpoint, "/")
	}
	j.azOpts = azure.Options{ServiceURL: service, Account: j.dst.Account}
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
			return copyJob{}, usagef("AZURE_STORAGE_ACCOUNT is %q but the destination's account is %q", acct, j.dst.Account)
		}
		j.azOpts.Credential.AccountKey = providers.Secret(getenv("AZURE_STORAGE_KEY"))
	case strings.HasPrefix(j.azOpts.ServiceURL, "http://"):
		// Azure AD tokens are only sent over https.
		return copyJob{}, usagef("no Azure credential for the http endpoint %s: put a SAS in DST, or set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY", j.azOpts.ServiceURL)
	}

	j.pipeOpts = pipeline.Options{
		Bucket:         j.src.Bucket,
		Prefix:         folderPrefix(j.src.Prefix),
		Container:      j.dst.Container,
		DestPrefix:     j.dst.Prefix,
		Concurrency:    f.concurrency,
		PutBlobMaxSize: f.putBlobMaxSize,
		BlockSize:      f.blockSize,
		PresignTTL:     f.presignTTL,
		MetadataPolicy: policy,
		PageSize:       f.pageSize,
		Retry:          pipeline.DefaultRetry,
	}
	j.pipeOpts.Retry.MaxAttempts = f.retries + 1
	return j, nil
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
	j, err := parseCopy(args, getenv, stderr)
	if err != nil {
		return err
	}
	src, err := s3.New(ctx, j.s3Opts)
	if err != nil {
		return usagef("S3 source: %v", err)
	}
	dst, err := azure.New(j.azOpts)
	if err != nil {
		return usagef("Azure destination: %v", err)
	}
	var outMu sync.Mutex
	j.pipeOpts.OnResult = func(r pipeline.ObjectResult) {
		if r.Outcome != pipeline.Failed && len(r.Warnings) == 0 {
			return
		}
		outMu.Lock()
		defer outMu.Unlock()
		for _, w := range r.Warnings {
			fmt.Fprintf(stderr, "warning: s3://%s/%s: %s\n", r.Bucket, r.Key, w)
		}
		if r.Outcome == pipeline.Failed {
			fmt.Fprintf(stderr, "failed: s3://%s/%s: %s\n", r.Bucket, r.Key, r.Reason)
		}
	}
	cp, err := pipeline.New(src, dst, j.pipeOpts)
	if err != nil {
		return usagef("%v", err)
	}
	from := "s3://" + j.src.Bucket + "/" + j.pipeOpts.Prefix
	to := providers.RedactURL(strings.TrimRight(j.azOpts.ServiceURL, "/") + "/" + j.dst.Container + "/" + j.dst.Prefix)
	if j.azOpts.ServiceURL == "" {
		to = j.dst.Container + "/" + j.dst.Prefix
	}
	sum, runErr := cp.Run(ctx)
	var se *pipeline.SetupError
	if errors.As(runErr, &se) {
		return usageError{runErr} // nothing was attempted: no summary
	}
	printSummary(stdout, from, to, sum)
	switch {
	case errors.Is(runErr, context.Canceled) || ctx.Err() != nil:
		return context.Canceled
	case runErr != nil:
		return runErr
	case sum.Failed > 0:
		return failedError{sum.Failed}
	}
	return nil
}

// printSummary writes the final summary for a person.
func printSummary(w io.Writer, from, to string, s pipeline.Summary) {
	fmt.Fprintf(w, "\nSummary: %s -> %s\n", from, to)
	fmt.Fprintf(w, "  objects listed:  %d (%s)\n", s.Objects, pipeline.FormatBytes(s.Bytes))
	fmt.Fprintf(w, "  copied:          %d (%s)\n", s.Copied, pipeline.FormatBytes(s.CopiedBytes))
	fmt.Fprintf(w, "  skipped:         %d (%s)\n", s.Skipped, pipeline.FormatBytes(s.SkippedBytes))
	for _, k := range sortedKeys(s.SkipReasons) {
		fmt.Fprintf(w, "    %-40s %d\n", k+":", s.SkipReasons[k])
	}
	fmt.Fprintf(w, "  failed:          %d (%s)\n", s.Failed, pipeline.FormatBytes(s.FailedBytes))
	if s.Interrupted > 0 {
		fmt.Fprintf(w, "  interrupted:     %d\n", s.Interrupted)
	}
	if s.Warnings > 0 {
		fmt.Fprintf(w, "  warnings:        %d\n", s.Warnings)
	}
	fmt.Fprintf(w, "  elapsed:         %s (%.1f objects/s, %d requests)\n", s.Elapsed.Round(time.Millisecond), s.ObjectsPerSecond(), s.Requests)
	if s.ContainerCreated {
		fmt.Fprintf(w, "  container created\n")
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(w, "Failed objects:\n")
		for _, f := range s.Failures {
			fmt.Fprintf(w, "  %s -> %s: %s\n", f.Key, f.Blob, f.Reason)
		}
		if int64(len(s.Failures)) < s.Failed {
			fmt.Fprintf(w, "  ... and %d more (see stderr)\n", s.Failed-int64(len(s.Failures)))
		}
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
