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
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/providers"
)

// Options configure one copy of a bucket (or a prefix of it) into a
// container (or a prefix of it).
type Options struct {
	Bucket string // source bucket
	// Prefix selects the source keys to copy; it is removed from each key
	// to form the blob name's tail, and listed as given.
	Prefix     string
	Container  string // destination container, created when missing
	DestPrefix string // joined before every blob name

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
}

// Outcome is how one object ended.
type Outcome string

// Outcomes.
const (
	Copied      Outcome = "copied"
	Skipped     Outcome = "skipped"
	Failed      Outcome = "failed"
	Interrupted Outcome = "interrupted" // the run was canceled before it finished
)

// Mode is how an object's bytes were moved.
type Mode string

// Modes.
const (
	ModeNone          Mode = ""                  // nothing moved (skipped, failed early)
	ModeEmpty         Mode = "empty"             // zero bytes: a blob committed with no blocks
	ModePutFromURL    Mode = "put-blob-from-url" // one server-side request
	ModeBlocksFromURL Mode = "blocks-from-url"   // server-side, block by block, then commit
)

// ObjectResult is what happened to one object.
type ObjectResult struct {
	Bucket    string
	Key       string
	Container string
	Blob      string
	Size      int64
	Outcome   Outcome
	Mode      Mode
	Blocks    int      // blocks staged, for block-by-block copies
	Reason    string   // why it was skipped or failed; one line, no secrets
	Err       error    // the failure, for errors.As; nil unless Failed
	Attempts  int      // requests made for this object, retries included
	Warnings  []string // e.g. metadata keys dropped
}

// Failure is one failed object as the summary lists it.
type Failure struct {
	Key    string
	Blob   string
	Reason string
}

// Summary is the result of a run.
type Summary struct {
	Objects, Bytes        int64 // seen in the listing
	Copied, CopiedBytes   int64
	Skipped, SkippedBytes int64
	Failed, FailedBytes   int64
	Interrupted           int64
	Warnings              int64
	SkipReasons           map[string]int64
	Failures              []Failure // the first MaxFailuresKept, by key
	ContainerCreated      bool
	Elapsed               time.Duration
	Requests              int64 // provider requests made, retries included
}

// ObjectsPerSecond is the rate of objects finished (copied, skipped or
// failed) over the run.
func (s Summary) ObjectsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Copied+s.Skipped+s.Failed) / s.Elapsed.Seconds()
}

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

// Copier copies one bucket (or prefix) into one container.
type Copier struct {
	src    providers.Source
	dst    providers.Destination
	pre    providers.Presigner
	ingest providers.URLIngester
	limits providers.Limits
	o      Options
	sem    chan struct{}

	mu   sync.Mutex
	sum  Summary
	reqs int64
}

// New checks that src and dst can do a server-side copy and returns a
// Copier. It fails when src cannot presign or dst cannot ingest from a
// URL, or when the options break the destination's limits.
func New(src providers.Source, dst providers.Destination, o Options) (*Copier, error) {
	pre, ok := src.(providers.Presigner)
	if !ok {
		return nil, fmt.Errorf("the source cannot presign URLs, so a server-side copy is impossible: %w", providers.ErrCantServerSide)
	}
	ing, ok := dst.(providers.URLIngester)
	if !ok {
		return nil, fmt.Errorf("the destination cannot ingest from a URL, so a server-side copy is impossible: %w", providers.ErrCantServerSide)
	}
	lim := AzureLimits
	if l, ok := dst.(providers.Limiter); ok {
		lim = l.Limits()
	}
	if o.Bucket == "" {
		return nil, errors.New("no source bucket given")
	}
	if o.Container == "" {
		return nil, errors.New("no destination container given")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.PutBlobMaxSize == 0 {
		o.PutBlobMaxSize = DefaultPutBlobMaxSize
	}
	if o.PutBlobMaxSize < 0 || o.PutBlobMaxSize > lim.MaxPutBlobFromURL {
		return nil, fmt.Errorf("put-blob-max-size %s is outside the destination's range of 0 to %s", FormatBytes(o.PutBlobMaxSize), FormatBytes(lim.MaxPutBlobFromURL))
	}
	if o.BlockSize < 0 || o.BlockSize > lim.MaxBlockSize {
		return nil, fmt.Errorf("block size %s is outside the destination's range of 1 B to %s", FormatBytes(o.BlockSize), FormatBytes(lim.MaxBlockSize))
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
	return &Copier{src: src, dst: dst, pre: pre, ingest: ing, limits: lim, o: o, sem: make(chan struct{}, o.Concurrency)}, nil
}

// Run copies every object under the prefix and returns the summary. The
// error is non-nil when the run could not go on (the container cannot be
// made, the listing fails, ctx is canceled); failures of single objects are
// not errors of the run: they are in the summary.
func (c *Copier) Run(ctx context.Context) (Summary, error) {
	start := c.o.Now()
	c.sum = Summary{SkipReasons: map[string]int64{}}
	err := c.run(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sum
	s.Elapsed = c.o.Now().Sub(start)
	s.Requests = c.reqs
	sort.Slice(s.Failures, func(i, j int) bool { return s.Failures[i].Key < s.Failures[j].Key })
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

func (c *Copier) run(ctx context.Context) error {
	created, err := c.ensureContainer(ctx)
	if err != nil {
		return err
	}
	c.sum.ContainerCreated = created

	g, gctx := errgroup.WithContext(ctx)
	objs := make(chan providers.Object, c.o.Concurrency)
	g.Go(func() error {
		defer close(objs)
		return c.enumerate(gctx, objs)
	})
	for i := 0; i < c.o.Concurrency; i++ {
		g.Go(func() error {
			for obj := range objs {
				c.finish(c.copyObject(gctx, obj))
			}
			return nil
		})
	}
	err = g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func (c *Copier) ensureContainer(ctx context.Context) (bool, error) {
	var created bool
	_, err := c.preflight().Do(ctx, func(ctx context.Context) error {
		var err error
		created, err = request(c, ctx, func(ctx context.Context) (bool, error) {
			return c.dst.EnsureContainer(ctx, c.o.Container)
		})
		return err
	})
	if err != nil && providers.KindOf(err) == providers.KindPermission {
		// Credentials scoped to one existing container (a container SAS)
		// may not create containers; reading it proves it is there.
		_, lerr := c.dst.ListBlobs(ctx, c.o.Container, providers.ListOptions{MaxResults: 1})
		if lerr == nil {
			return false, nil
		}
	}
	if err != nil {
		return false, &SetupError{What: fmt.Sprintf("destination container %q", c.o.Container), Err: err}
	}
	return created, nil
}

// enumerate sends every listed object to out, a page at a time.
func (c *Copier) enumerate(ctx context.Context, out chan<- providers.Object) error {
	token := ""
	for first := true; ; first = false {
		var page providers.Page
		policy := c.o.Retry
		if first {
			policy = c.preflight()
		}
		_, err := policy.Do(ctx, func(ctx context.Context) error {
			var err error
			page, err = request(c, ctx, func(ctx context.Context) (providers.Page, error) {
				return c.src.List(ctx, c.o.Bucket, providers.ListOptions{Prefix: c.o.Prefix, Token: token, MaxResults: c.o.PageSize})
			})
			return err
		})
		if err != nil && first {
			return &SetupError{What: fmt.Sprintf("source bucket %q", c.o.Bucket), Err: err}
		}
		if err != nil {
			return fmt.Errorf("listing bucket %q (prefix %q) stopped: %w", c.o.Bucket, c.o.Prefix, err)
		}
		var n, b int64
		for _, o := range page.Objects {
			n++
			b += o.Size
		}
		c.mu.Lock()
		c.sum.Objects += n
		c.sum.Bytes += b
		c.mu.Unlock()
		for _, o := range page.Objects {
			select {
			case out <- o:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if page.Next == "" {
			return nil
		}
		token = page.Next
	}
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

// blobName decides the blob name of obj, or why it is skipped.
func (c *Copier) blobName(obj providers.Object) (name, skip string) {
	if strings.HasSuffix(obj.Key, "/") {
		return "", "folder marker (key ends in /)"
	}
	rel := strings.TrimPrefix(obj.Key, c.o.Prefix)
	name = naming.JoinBlobName(c.o.DestPrefix, rel)
	if err := naming.CheckBlobName(name); err != nil {
		return name, "blob name not allowed by Azure: " + err.Error()
	}
	return name, ""
}

func (c *Copier) copyObject(ctx context.Context, obj providers.Object) ObjectResult {
	r := ObjectResult{Bucket: c.o.Bucket, Key: obj.Key, Container: c.o.Container, Size: obj.Size}
	if ctx.Err() != nil {
		r.Outcome, r.Reason = Interrupted, "run canceled before this object started"
		return r
	}
	name, skip := c.blobName(obj)
	r.Blob = name
	if skip != "" {
		r.Outcome, r.Reason = Skipped, skip
		return r
	}
	fail := func(err error) ObjectResult {
		if providers.KindOf(err) == providers.KindCanceled && ctx.Err() != nil {
			r.Outcome, r.Reason = Interrupted, "run canceled while copying"
			return r
		}
		r.Outcome, r.Err, r.Reason = Failed, err, providers.Redact(err.Error())
		return r
	}

	// Properties and metadata are not in the listing: one HEAD.
	var info providers.ObjectInfo
	if err := c.call(ctx, &r.Attempts, func(ctx context.Context) error {
		var err error
		info, err = c.src.Stat(ctx, c.o.Bucket, obj.Key)
		return err
	}); err != nil {
		return fail(err)
	}
	// Pin what the listing saw unless HEAD knows better (newer version).
	if info.VersionID == "" {
		info.VersionID = obj.VersionID
	}
	obj = info.Object
	r.Size = obj.Size
	props := info.Properties
	md, err := metadata.Map(props.Metadata, c.o.MetadataPolicy)
	if err != nil {
		r.Outcome, r.Err = Failed, err
		r.Reason = "metadata: " + err.Error()
		return r
	}
	r.Warnings = md.Warnings
	props.Metadata = md.Metadata

	switch {
	case obj.Size == 0:
		r.Mode = ModeEmpty
		err = c.call(ctx, &r.Attempts, func(ctx context.Context) error {
			return c.ingest.CommitBlocks(ctx, c.o.Container, name, nil, props)
		})
	case obj.Size <= c.o.PutBlobMaxSize:
		r.Mode = ModePutFromURL
		err = c.call(ctx, &r.Attempts, func(ctx context.Context) error {
			u, err := c.pre.PresignGet(ctx, c.o.Bucket, obj, c.o.PresignTTL)
			if err != nil {
				return err
			}
			return c.ingest.PutBlobFromURL(ctx, c.o.Container, name, u, obj.Size, props)
		})
	default:
		r.Mode = ModeBlocksFromURL
		r.Blocks, err = c.copyBlocks(ctx, obj, name, props, &r.Attempts)
	}
	if err != nil {
		return fail(err)
	}
	r.Outcome = Copied
	return r
}

// copyBlocks stages every block of obj from a freshly presigned URL, in
// parallel under the global request bound, then commits them in order.
func (c *Copier) copyBlocks(ctx context.Context, obj providers.Object, name string, props providers.Properties, attempts *int) (int, error) {
	plan, err := PlanBlocks(obj.Size, c.o.BlockSize, c.limits)
	if err != nil {
		return 0, &providers.Error{Kind: providers.KindInvalid, Op: "PlanBlocks", Where: c.o.Bucket + "/" + obj.Key, Msg: err.Error()}
	}
	ids := BlockIDs(c.o.Bucket, obj, plan)
	workers := min(plan.Count, c.o.Concurrency)
	next := make(chan int)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for i := range ids {
			select {
			case next <- i:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for i := range next {
				n := 0
				err := c.call(gctx, &n, func(ctx context.Context) error {
					u, err := c.pre.PresignGet(ctx, c.o.Bucket, obj, c.o.PresignTTL)
					if err != nil {
						return err
					}
					return c.ingest.StageBlockFromURL(ctx, c.o.Container, name, ids[i], u, plan.Range(i))
				})
				mu.Lock()
				*attempts += n
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("block %d of %d: %w", i+1, plan.Count, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	err = c.call(ctx, attempts, func(ctx context.Context) error {
		return c.ingest.CommitBlocks(ctx, c.o.Container, name, ids, props)
	})
	return plan.Count, err
}

// finish records one object's result in the summary and reports it.
func (c *Copier) finish(r ObjectResult) {
	c.mu.Lock()
	s := &c.sum
	s.Warnings += int64(len(r.Warnings))
	switch r.Outcome {
	case Copied:
		s.Copied++
		s.CopiedBytes += r.Size
	case Skipped:
		s.Skipped++
		s.SkippedBytes += r.Size
		s.SkipReasons[skipKind(r.Reason)]++
	case Failed:
		s.Failed++
		s.FailedBytes += r.Size
		if len(s.Failures) < c.o.MaxFailuresKept {
			s.Failures = append(s.Failures, Failure{Key: r.Key, Blob: r.Blob, Reason: r.Reason})
		}
	case Interrupted:
		s.Interrupted++
	}
	c.mu.Unlock()
	if c.o.OnResult != nil {
		c.o.OnResult(r)
	}
}

// skipKind groups skip reasons for the summary: the text before the first
// colon ("blob name not allowed by Azure: ..." → "blob name not allowed by
// Azure").
func skipKind(reason string) string {
	if i := strings.Index(reason, ": "); i > 0 {
		return reason[:i]
	}
	return reason
}
