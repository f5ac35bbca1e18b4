package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/providers"
)

// DiffKind is the kind of one difference verify finds.
type DiffKind string

// Difference kinds, in the order reports list them.
const (
	DiffMissing  DiffKind = "missing"  // at the source, not at the destination
	DiffExtra    DiffKind = "extra"    // at the destination only
	DiffSize     DiffKind = "size"     // on both sides, sizes differ
	DiffHash     DiffKind = "hash"     // same size, content differs (MD5 or SHA-256)
	DiffMetadata DiffKind = "metadata" // content headers or metadata differ
	// DiffUnchecked is not a difference but an object verify could not
	// check (a request failed after its retries): the verify is incomplete.
	DiffUnchecked DiffKind = "unchecked"
)

// DiffKinds are every kind, in report order.
var DiffKinds = []DiffKind{DiffMissing, DiffExtra, DiffSize, DiffHash, DiffMetadata, DiffUnchecked}

// Difference is one difference between a source object and its blob.
type Difference struct {
	Kind      DiffKind
	Bucket    string // the source bucket
	Key       string // the source key; "" for an extra blob
	Container string
	Blob      string // the blob name (also for a missing blob)
	SrcSize   int64  // -1 when the source has no such object
	DstSize   int64  // -1 when the destination has no such blob
	Detail    string // one line: what differs; no secrets
}

// VerifyOptions configure Verify. Give it the options the copy used for
// names and metadata, so the expected blob is computed as the copy did.
type VerifyOptions struct {
	// Names are the naming options of the copy.
	Names NameOptions
	// Filter is the copy's filter: a source object it leaves out is not
	// compared (counted as Filtered), nor is a blob of its name extra.
	Filter Filter
	// Deep reads both sides' bytes and compares their SHA-256 for every
	// pair of equal size whose MD5 is not known on both sides. Both the
	// source and the destination must be providers.RangeReaders.
	Deep bool
	// Metadata stats both sides of every pair and compares the five
	// content headers and the user metadata (what the copy would have
	// sent, under Policy, KeepS3Headers and PreserveSourceInfo).
	Metadata bool
	// Policy, KeepS3Headers and PreserveSourceInfo are the copy's
	// metadata options (Options.MetadataPolicy and the others).
	Policy             metadata.Policy
	KeepS3Headers      bool
	PreserveSourceInfo bool
	// MaxListed bounds the differences the report keeps per kind
	// (0 = 100, negative = none); all are counted and all reach
	// OnDifference.
	MaxListed int
	// Concurrency bounds the per-object checks in flight (Stat, StatBlob,
	// reads for Deep). Default 16.
	Concurrency int
	// PageSize is the listing page size (0 = providers' default).
	PageSize int
	// Retry is the policy of every request (zero = DefaultRetry).
	Retry RetryPolicy
	// OnDifference, when set, is called for every difference as it is
	// found, one call at a time (never concurrently), from any goroutine.
	OnDifference func(Difference)
}

// VerifyCounts are the tallies of a verify or of one of its routes.
type VerifyCounts struct {
	SourceObjects    int64 // compared source objects (skipped ones not included)
	SourceBytes      int64
	DestinationBlobs int64 // blobs listed under the destination prefix
	DestinationBytes int64
	// Skipped are source keys a copy skips (folder markers, names Azure
	// refuses), Filtered those the filter leaves out; they are not
	// expected at the destination.
	Skipped  int64
	Filtered int64
	// Matched are the objects found on both sides with no difference.
	Matched int64
	// Of the pairs of equal size: ContentVerified had their content shown
	// equal (same MD5, same SHA-256, or both empty), DeepHashed of them
	// by reading both sides; SizeOnly only had their sizes compared (no
	// MD5 known on both sides, and no Deep).
	ContentVerified int64
	DeepHashed      int64
	SizeOnly        int64
	// Differences by kind, and the objects that could not be checked.
	Missing          int64
	Extra            int64
	SizeMismatch     int64
	HashMismatch     int64
	MetadataMismatch int64
	Unchecked        int64
}

// DifferenceCount is the number of differences counted (unchecked objects
// are not differences).
func (c VerifyCounts) DifferenceCount() int64 {
	return c.Missing + c.Extra + c.SizeMismatch + c.HashMismatch + c.MetadataMismatch
}

func (c *VerifyCounts) add(o VerifyCounts) {
	c.SourceObjects += o.SourceObjects
	c.SourceBytes += o.SourceBytes
	c.DestinationBlobs += o.DestinationBlobs
	c.DestinationBytes += o.DestinationBytes
	c.Skipped += o.Skipped
	c.Filtered += o.Filtered
	c.Matched += o.Matched
	c.ContentVerified += o.ContentVerified
	c.DeepHashed += o.DeepHashed
	c.SizeOnly += o.SizeOnly
	c.Missing += o.Missing
	c.Extra += o.Extra
	c.SizeMismatch += o.SizeMismatch
	c.HashMismatch += o.HashMismatch
	c.MetadataMismatch += o.MetadataMismatch
	c.Unchecked += o.Unchecked
}

func (c *VerifyCounts) count(k DiffKind) {
	switch k {
	case DiffMissing:
		c.Missing++
	case DiffExtra:
		c.Extra++
	case DiffSize:
		c.SizeMismatch++
	case DiffHash:
		c.HashMismatch++
	case DiffMetadata:
		c.MetadataMismatch++
	case DiffUnchecked:
		c.Unchecked++
	}
}

// RouteVerify is the result of one route.
type RouteVerify struct {
	Route
	VerifyCounts
	// ContainerMissing: the destination container does not exist (every
	// object is missing).
	ContainerMissing bool
	// Error says why the route could not be verified to the end ("" when
	// it was); its counts cover what was compared before.
	Error string
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	VerifyCounts
	Routes       []RouteVerify
	FailedRoutes int // routes with an Error
	// Differences are the first MaxListed differences of each kind, sorted
	// by kind (DiffKinds order), container and blob name.
	Differences []Difference
	// Unlisted counts, per kind, the differences counted but not listed.
	Unlisted map[DiffKind]int64
	Deep     bool
	Metadata bool
}

// OK reports whether everything was compared and matched.
func (r VerifyReport) OK() bool { return r.Complete() && r.DifferenceCount() == 0 }

// Complete reports whether every route and every object could be checked.
func (r VerifyReport) Complete() bool { return r.FailedRoutes == 0 && r.Unchecked == 0 }

// Verify compares every route's source objects with their blobs: missing,
// extra, size and content (hash) differences and, with o.Metadata,
// metadata differences. It lists both sides a page at a time (Compare) and
// makes per-object requests only where a listing cannot decide:
//
//   - MD5. The destination's listing gives each blob's Content-MD5
//     (Object.ListedMD5). The source's ETag is the MD5 of the content for
//     objects uploaded in one part without SSE-KMS or SSE-C, which a listing
//     cannot tell apart; so an ETag of 32 hex digits equal to the blob's
//     MD5 proves the content equal at no cost, and one that differs is
//     confirmed with a source Stat (whose Properties.ContentMD5 is set only
//     when the ETag really is an MD5) before it is reported.
//   - Deep. Pairs of equal size without an MD5 on both sides are read in
//     full on both sides and their SHA-256 compared (without Deep they
//     count as SizeOnly).
//   - Metadata. Both sides are statted and compared.
//
// The error is non-nil when the verify could not go on: ctx ended, the
// options cannot work (Deep without RangeReaders), or the only route could
// not start (a *SetupError). A route that cannot start or stops part way
// among several is recorded in its RouteVerify and the others go on.
func Verify(ctx context.Context, src providers.Source, dst providers.Destination, routes []Route, o VerifyOptions) (VerifyReport, error) {
	v := &verifier{src: src, dst: dst, o: o, unlisted: map[DiffKind]int64{}, listed: map[DiffKind]int{}}
	if o.Deep {
		var ok1, ok2 bool
		v.srcReader, ok1 = src.(providers.RangeReader)
		v.dstReader, ok2 = dst.(providers.RangeReader)
		if !ok1 || !ok2 {
			return VerifyReport{}, errors.New("a deep verify reads both sides: the source and the destination must both read byte ranges")
		}
	}
	if v.o.MaxListed == 0 {
		v.o.MaxListed = 100
	}
	if v.o.Concurrency <= 0 {
		v.o.Concurrency = 16
	}
	if v.o.Retry.MaxAttempts == 0 {
		v.o.Retry = DefaultRetry
	}
	rep := VerifyReport{Routes: make([]RouteVerify, len(routes)), Deep: o.Deep, Metadata: o.Metadata}
	v.rep = &rep
	var runErr error
	for i, r := range routes {
		rep.Routes[i].Route = r
		if r.Err != nil {
			rep.Routes[i].Error = r.Err.Error()
			continue
		}
		err := v.route(ctx, i)
		if ctx.Err() != nil {
			runErr = ctx.Err()
			break
		}
		var se *SetupError
		if err != nil && len(routes) == 1 && errors.As(err, &se) {
			runErr = err
			break
		}
		if err != nil {
			rep.Routes[i].Error = providers.Redact(err.Error())
		}
	}
	for _, r := range rep.Routes {
		rep.VerifyCounts.add(r.VerifyCounts)
		if r.Error != "" {
			rep.FailedRoutes++
		}
	}
	order := map[DiffKind]int{}
	for i, k := range DiffKinds {
		order[k] = i
	}
	sort.SliceStable(rep.Differences, func(i, j int) bool {
		a, b := rep.Differences[i], rep.Differences[j]
		if a.Kind != b.Kind {
			return order[a.Kind] < order[b.Kind]
		}
		if a.Container != b.Container {
			return a.Container < b.Container
		}
		return a.Blob < b.Blob
	})
	for k, n := range v.unlisted {
		if n > 0 {
			if rep.Unlisted == nil {
				rep.Unlisted = map[DiffKind]int64{}
			}
			rep.Unlisted[k] = n
		}
	}
	return rep, runErr
}

// verifier is the state of one Verify.
type verifier struct {
	src       providers.Source
	dst       providers.Destination
	srcReader providers.RangeReader // nil unless Deep
	dstReader providers.RangeReader
	o         VerifyOptions

	mu       sync.Mutex // guards rep, listed, unlisted and OnDifference calls
	rep      *VerifyReport
	listed   map[DiffKind]int
	unlisted map[DiffKind]int64
}

// check is a pair that needs per-object requests.
type check struct {
	pair Pair
	// confirm: the MD5s differ, confirm the source's with a Stat.
	// deep: hash both sides. Only one of the two is set.
	confirm, deep bool
}

// route verifies route i: the listing goroutine decides what it can and
// hands the rest to a bounded pool of workers.
func (v *verifier) route(ctx context.Context, i int) error {
	r := v.rep.Routes[i].Route
	g, gctx := errgroup.WithContext(ctx)
	checks := make(chan check, v.o.Concurrency)
	g.Go(func() error {
		defer close(checks)
		return Compare(gctx, v.src, v.dst, r, CompareOptions{
			Names: v.o.Names, PageSize: v.o.PageSize, Retry: v.o.Retry,
			OnSkip: func(providers.Object, string) {
				v.mu.Lock()
				v.rep.Routes[i].Skipped++
				v.mu.Unlock()
			},
			OnMissingContainer: func() {
				v.mu.Lock()
				v.rep.Routes[i].ContainerMissing = true
				v.mu.Unlock()
			},
		}, func(p Pair) error {
			c, ok := v.decide(i, p)
			if !ok {
				return nil
			}
			select {
			case checks <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for w := 0; w < v.o.Concurrency; w++ {
		g.Go(func() error {
			for c := range checks {
				v.check(gctx, i, c)
			}
			return nil
		})
	}
	return g.Wait()
}

// listedMD5 is the MD5 a source listing suggests: ListedMD5, else an ETag
// of 32 hex digits (not proven: see Verify).
func listedMD5(o *providers.Object) []byte {
	if o.ListedMD5 != nil {
		return o.ListedMD5
	}
	if len(o.ETag) != 32 {
		return nil
	}
	b, err := hex.DecodeString(o.ETag)
	if err != nil {
		return nil
	}
	return b
}

// decide records what the listings alone show about p and says whether
// per-object checks are needed.
func (v *verifier) decide(i int, p Pair) (check, bool) {
	r := v.rep.Routes[i].Route
	filtered := p.Src != nil && v.o.Filter.Why(strings.TrimPrefix(p.Src.Key, r.Prefix), *p.Src) != ""
	v.mu.Lock()
	rc := &v.rep.Routes[i].VerifyCounts
	switch {
	case filtered:
		rc.Filtered++
	case p.Src != nil:
		rc.SourceObjects++
		rc.SourceBytes += p.Src.Size
	}
	if p.Dst != nil {
		rc.DestinationBlobs++
		rc.DestinationBytes += p.Dst.Size
	}
	v.mu.Unlock()
	if filtered {
		return check{}, false
	}
	switch {
	case p.Dst == nil:
		v.record(i, v.diff(r, p, DiffMissing, "not at the destination"))
		return check{}, false
	case p.Src == nil:
		v.record(i, v.diff(r, p, DiffExtra, "not at the source"))
		return check{}, false
	case p.Src.Size != p.Dst.Size:
		d := v.diff(r, p, DiffSize, fmt.Sprintf("source %d bytes, destination %d bytes", p.Src.Size, p.Dst.Size))
		if v.o.Metadata {
			return check{pair: p}, true // the metadata is compared too
		}
		v.record(i, d)
		return check{}, false
	}
	c := check{pair: p}
	srcMD5, dstMD5 := listedMD5(p.Src), p.Dst.ListedMD5
	switch {
	case p.Src.Size == 0:
	case srcMD5 != nil && dstMD5 != nil && !bytes.Equal(srcMD5, dstMD5):
		c.confirm = true
	case srcMD5 != nil && dstMD5 != nil:
	default:
		c.deep = v.o.Deep
	}
	if c.confirm || c.deep || v.o.Metadata {
		return c, true
	}
	v.finish(i, p, verdict{content: contentOf(srcMD5, dstMD5, p.Src.Size)})
	return check{}, false
}

// contentOf is how the listings judge the content of a pair of equal size.
func contentOf(srcMD5, dstMD5 []byte, size int64) content {
	if size == 0 || srcMD5 != nil && dstMD5 != nil {
		return contentVerified
	}
	return contentSizeOnly
}

type content int

const (
	contentVerified content = iota
	contentDeep
	contentSizeOnly
	contentDiffers // a Difference says how
	contentUnknown // a check failed
)

// verdict is what the checks of one pair of equal size concluded.
type verdict struct {
	content content
	diffs   []Difference
}

// check makes the per-object requests of c and records the verdict.
func (v *verifier) check(ctx context.Context, i int, c check) {
	r := v.rep.Routes[i].Route
	p := c.pair
	var vd verdict
	unchecked := func(what string, err error) {
		vd.diffs = append(vd.diffs, v.diff(r, p, DiffUnchecked, what+": "+providers.Redact(err.Error())))
	}
	var srcInfo *providers.ObjectInfo
	statSrc := func() error {
		if srcInfo != nil {
			return nil
		}
		info, err := retryValue(ctx, v.o.Retry, func(ctx context.Context) (providers.ObjectInfo, error) {
			return v.src.Stat(ctx, r.Bucket, p.Src.Key)
		})
		if err == nil {
			srcInfo = &info
		}
		return err
	}

	switch {
	case p.Src.Size != p.Dst.Size:
		vd.content = contentDiffers
		vd.diffs = append(vd.diffs, v.diff(r, p, DiffSize, fmt.Sprintf("source %d bytes, destination %d bytes", p.Src.Size, p.Dst.Size)))
	case c.confirm || c.deep:
		vd.content = contentUnknown // until the checks below say
	default:
		vd.content = contentOf(listedMD5(p.Src), p.Dst.ListedMD5, p.Src.Size)
	}
	deep := c.deep
	if c.confirm {
		switch err := statSrc(); {
		case err != nil:
			unchecked("source Stat", err)
		case srcInfo.ContentMD5 == nil:
			// The ETag is not an MD5 (SSE-KMS, say): nothing is known.
			vd.content, deep = contentSizeOnly, v.o.Deep
		case !bytes.Equal(srcInfo.ContentMD5, p.Dst.ListedMD5):
			vd.content = contentDiffers
			vd.diffs = append(vd.diffs, v.diff(r, p, DiffHash, fmt.Sprintf("source MD5 %x, destination Content-MD5 %x", srcInfo.ContentMD5, p.Dst.ListedMD5)))
		default:
			vd.content = contentVerified
		}
	}
	if deep && p.Src.Size > 0 {
		same, err := v.sameBytes(ctx, r, p)
		switch {
		case err != nil:
			vd.content = contentUnknown
			unchecked("reading both sides", err)
		case same:
			vd.content = contentDeep
		default:
			vd.content = contentDiffers
			vd.diffs = append(vd.diffs, v.diff(r, p, DiffHash, "SHA-256 of the bytes differs (both sides read)"))
		}
	}
	if v.o.Metadata {
		if err := statSrc(); err != nil {
			if !c.confirm { // already reported
				unchecked("source Stat", err)
			}
		} else if dinfo, err := retryValue(ctx, v.o.Retry, func(ctx context.Context) (providers.ObjectInfo, error) {
			return v.dst.StatBlob(ctx, r.Container, p.Name)
		}); err != nil {
			unchecked("destination StatBlob", err)
		} else if detail := v.metadataDiff(*srcInfo, p.Src, dinfo); detail != "" {
			vd.diffs = append(vd.diffs, v.diff(r, p, DiffMetadata, detail))
		}
	}
	if ctx.Err() != nil {
		// The route stopped (its listing failed, or the verify was
		// canceled), which its report says: checks cut short are not
		// objects that could not be checked.
		return
	}
	v.finish(i, p, vd)
}

// finish records the verdict of a pair found on both sides.
func (v *verifier) finish(i int, p Pair, vd verdict) {
	for _, d := range vd.diffs {
		v.record(i, d)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	rc := &v.rep.Routes[i].VerifyCounts
	switch vd.content {
	case contentVerified:
		rc.ContentVerified++
	case contentDeep:
		rc.ContentVerified++
		rc.DeepHashed++
	case contentSizeOnly:
		rc.SizeOnly++
	}
	if len(vd.diffs) == 0 {
		rc.Matched++
	}
}

// diff builds a Difference of p.
func (v *verifier) diff(r Route, p Pair, k DiffKind, detail string) Difference {
	d := Difference{Kind: k, Bucket: r.Bucket, Container: r.Container, Blob: p.Name, SrcSize: -1, DstSize: -1, Detail: detail}
	if p.Src != nil {
		d.Key, d.SrcSize = p.Src.Key, p.Src.Size
	}
	if p.Dst != nil {
		d.DstSize = p.Dst.Size
	}
	return d
}

// record counts d, keeps it when its kind has room, and reports it.
func (v *verifier) record(i int, d Difference) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rep.Routes[i].count(d.Kind)
	if v.listed[d.Kind] < v.o.MaxListed {
		v.listed[d.Kind]++
		v.rep.Differences = append(v.rep.Differences, d)
	} else {
		v.unlisted[d.Kind]++
	}
	if v.o.OnDifference != nil {
		v.o.OnDifference(d)
	}
}

// sameBytes reads both sides of p in full and compares their SHA-256.
func (v *verifier) sameBytes(ctx context.Context, r Route, p Pair) (bool, error) {
	a, err := hashOf(ctx, v.o.Retry, v.srcReader, r.Bucket, *p.Src)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	b, err := hashOf(ctx, v.o.Retry, v.dstReader, r.Container, *p.Dst)
	if err != nil {
		return false, fmt.Errorf("destination: %w", err)
	}
	return a == b, nil
}

// hashOf is the SHA-256 of obj's bytes and their count checked against
// obj.Size; a read that fails part way starts again under the retry policy.
func hashOf(ctx context.Context, retry RetryPolicy, rr providers.RangeReader, bucket string, obj providers.Object) ([sha256.Size]byte, error) {
	return retryValue(ctx, retry, func(ctx context.Context) ([sha256.Size]byte, error) {
		var sum [sha256.Size]byte
		rc, err := rr.OpenRange(ctx, bucket, obj, providers.Range{})
		if err != nil {
			return sum, err
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(h, rc)
		if err != nil {
			if ctx.Err() != nil {
				return sum, &providers.Error{Kind: providers.KindCanceled, Err: ctx.Err()}
			}
			if providers.KindOf(err) == providers.KindUnknown {
				err = &providers.Error{Kind: providers.KindTransient, Op: "Read", Where: bucket + "/" + obj.Key, Err: err}
			}
			return sum, err
		}
		if n != obj.Size {
			return sum, &providers.Error{Kind: providers.KindPrecondition, Op: "Read", Where: bucket + "/" + obj.Key,
				Msg: fmt.Sprintf("read %d bytes, listed %d: it changed since it was listed", n, obj.Size)}
		}
		h.Sum(sum[:0])
		return sum, nil
	})
}

// retryValue runs f under the retry policy and returns its last value.
func retryValue[T any](ctx context.Context, p RetryPolicy, f func(context.Context) (T, error)) (T, error) {
	var out T
	_, err := p.Do(ctx, func(ctx context.Context) error {
		var err error
		out, err = f(ctx)
		return err
	})
	return out, err
}

// contentHeaders are the five headers a copy carries, by the names
// reports use.
var contentHeaders = []struct {
	name string
	get  func(providers.Properties) string
}{
	{"content-type", func(p providers.Properties) string { return p.ContentType }},
	{"content-encoding", func(p providers.Properties) string { return p.ContentEncoding }},
	{"content-disposition", func(p providers.Properties) string { return p.ContentDisposition }},
	{"content-language", func(p providers.Properties) string { return p.ContentLanguage }},
	{"cache-control", func(p providers.Properties) string { return p.CacheControl }},
}

// defaultContentType is what Azure reports for a blob stored without one.
const defaultContentType = "application/octet-stream"

// metadataDiff compares the five content headers and the metadata a copy
// would have given the blob of src with what the blob has; "" when they
// match, else one line naming every difference. Metadata names compare
// case-insensitively (as Azure does), values exactly.
func (v *verifier) metadataDiff(src providers.ObjectInfo, listed *providers.Object, dst providers.ObjectInfo) string {
	var parts []string
	for _, h := range contentHeaders {
		want, got := h.get(src.Properties), h.get(dst.Properties)
		if want == got || h.name == "content-type" && want == "" && got == defaultContentType {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: source %q, destination %q", h.name, want, got))
	}
	want, err := v.expectedMetadata(src, listed)
	if err != nil {
		parts = append(parts, fmt.Sprintf("metadata: a copy under %s could not carry the source's: %s", v.o.Policy, err))
	} else {
		got := lowerKeys(dst.Metadata)
		for _, k := range slices.Sorted(maps.Keys(want)) {
			g, ok := got[k]
			switch {
			case !ok:
				parts = append(parts, fmt.Sprintf("metadata %s: source %q, destination none", k, want[k]))
			case g != want[k]:
				parts = append(parts, fmt.Sprintf("metadata %s: source %q, destination %q", k, want[k], g))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[k]; !ok {
				parts = append(parts, fmt.Sprintf("metadata %s: source none, destination %q", k, got[k]))
			}
		}
	}
	return strings.Join(parts, "; ")
}

// expectedMetadata is the metadata a copy with the verify's options gives
// the blob of src (as Copier.decide computes it), names lowercased.
func (v *verifier) expectedMetadata(src providers.ObjectInfo, listed *providers.Object) (map[string]string, error) {
	extra, _ := metadata.Unsupported(src.Expires, src.WebsiteRedirect, v.o.KeepS3Headers)
	if v.o.PreserveSourceInfo {
		version := src.VersionID
		if version == "" {
			version = listed.VersionID
		}
		maps.Copy(extra, metadata.SourceInfo(src.ETag, src.LastModified, version))
	}
	user, err := metadata.Merge(src.Metadata, extra)
	if err != nil {
		return nil, err
	}
	res, err := metadata.Map(user, v.o.Policy)
	if err != nil {
		return nil, err
	}
	return lowerKeys(res.Metadata), nil
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
