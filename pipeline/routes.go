package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/providers"
)

// RouteOptions decide which buckets a run copies and into which containers.
type RouteOptions struct {
	// Buckets to copy; when empty, every bucket the source lists (it must
	// be a providers.BucketLister) is a candidate.
	Buckets []string
	// Region keeps only the listed buckets of this region ("" = all).
	Region string
	// IncludeBuckets, when not empty, keeps only listed buckets matching
	// one of its globs; ExcludeBuckets drops those matching one (path.Match
	// syntax). They apply to listed buckets, not to Buckets.
	IncludeBuckets, ExcludeBuckets []string
	// Prefix is listed in every bucket; DestPrefix joined before every blob.
	Prefix, DestPrefix string
	// Overrides maps bucket names to container names chosen by the user.
	Overrides map[string]string
	// AllowExisting lets a mapped container that already exists in the
	// destination be filled (merging intended). Without it such a name is a
	// collision and the bucket is not copied.
	AllowExisting bool
	// Retry for the listing of buckets and containers (zero = 3 tries).
	Retry RetryPolicy
}

// PlanRoutes decides the route of every bucket of a run: it lists the
// source's buckets (unless o.Buckets names them), keeps those of o.Region,
// lists the destination's containers when it can, and maps each bucket to
// a container with naming.MapBuckets (AzCopy's rules, overrides, existing
// containers). It returns one Route per bucket in bucket order (a bucket
// that cannot be mapped gets a Route with Err set) and the mappings, whose
// Reason says why a name changed.
func PlanRoutes(ctx context.Context, src providers.Source, dst providers.Destination, o RouteOptions) ([]Route, []naming.Mapping, error) {
	retry := o.Retry
	if retry.MaxAttempts == 0 {
		retry = DefaultRetry
		retry.MaxAttempts = 3
	}
	buckets := slices.Clone(o.Buckets)
	if len(buckets) == 0 {
		bl, ok := src.(providers.BucketLister)
		if !ok {
			return nil, nil, errors.New("the source cannot list its buckets: name a bucket")
		}
		var infos []providers.BucketInfo
		if _, err := retry.Do(ctx, func(ctx context.Context) error {
			var err error
			infos, err = bl.ListBuckets(ctx)
			return err
		}); err != nil {
			return nil, nil, &SetupError{What: "the source's bucket list", Err: err}
		}
		for _, b := range infos {
			if (o.Region == "" || b.Region == o.Region) && bucketSelected(b.Name, o.IncludeBuckets, o.ExcludeBuckets) {
				buckets = append(buckets, b.Name)
			}
		}
	}
	var existing map[string]bool
	if cl, ok := dst.(providers.ContainerLister); ok {
		var names []string
		if _, err := retry.Do(ctx, func(ctx context.Context) error {
			var err error
			names, err = cl.ListContainers(ctx, "")
			return err
		}); err != nil {
			return nil, nil, &SetupError{What: "the destination's container list", Err: err}
		}
		existing = make(map[string]bool, len(names))
		for _, n := range names {
			existing[n] = true
		}
	}
	mappings := naming.MapBuckets(buckets, naming.MapOptions{
		Overrides:     o.Overrides,
		Existing:      func(c string) bool { return existing[c] },
		AllowExisting: o.AllowExisting,
	})
	routes := make([]Route, len(mappings))
	for i, m := range mappings {
		routes[i] = Route{Bucket: m.Bucket, Prefix: o.Prefix, Container: m.Container, DestPrefix: o.DestPrefix}
		if m.Changed {
			routes[i].Note = m.Reason
		}
		if m.Err != nil {
			routes[i].Err = fmt.Errorf("bucket %q not copied: %w", m.Bucket, m.Err)
		}
	}
	return routes, mappings, nil
}

// bucketSelected applies the bucket globs.
func bucketSelected(name string, include, exclude []string) bool {
	match := func(globs []string) bool {
		for _, g := range globs {
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
		return false
	}
	return (len(include) == 0 || match(include)) && !match(exclude)
}
