package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/providers"
)

// Skip reasons (the text before ": " is the summary's group).
const (
	skipFolderMarker = "folder marker (key ends in /)"
	skipBlobName     = "blob name not allowed by Azure"
	skipArchived     = "archived: restore first"
)

// blobName decides the blob name of key under route r, whether it is an
// encoding of the key, or why the object is skipped.
func (c *Copier) blobName(r Route, key string) (name string, renamed bool, skip string) {
	if strings.HasSuffix(key, "/") && !c.o.KeepFolderMarkers {
		return "", false, skipFolderMarker
	}
	rel := strings.TrimPrefix(key, r.Prefix)
	if rel == "" {
		return "", false, skipFolderMarker // the prefix itself, as an object
	}
	if c.o.RenameInvalidKeys {
		rel, renamed = naming.EncodeBlobName(rel)
	}
	name = naming.JoinBlobName(r.DestPrefix, rel)
	if err := naming.CheckBlobName(name); err != nil {
		return name, false, skipBlobName + ": " + err.Error()
	}
	return name, renamed, ""
}

// plan is everything decided about one object before any write.
type plan struct {
	props  providers.Properties
	mode   Mode
	blocks BlockPlan
}

// decide makes the plan of obj from what Stat (and, for tagged objects,
// the TagReader) returned. A non-empty skip means the object is skipped.
func (c *Copier) decide(info providers.ObjectInfo, tags map[string]string, res *ObjectResult) (p plan, skip string, err error) {
	p = plan{props: info.Properties}
	tier, archived, tierErr := metadata.TierFor(info.StorageClass, info.Restore)
	if archived {
		why := fmt.Sprintf("%s: storage class %s, not restored", skipArchived, info.StorageClass)
		if c.o.FailOnArchived {
			return p, "", &providers.Error{Kind: providers.KindInvalid, Op: "Plan", Msg: why}
		}
		return p, why, nil
	}

	// Metadata: the user's, plus what the options add, under the policy.
	extra, dropped := metadata.Unsupported(info.Expires, info.WebsiteRedirect, c.o.KeepS3Headers)
	for _, d := range dropped {
		if d.Action == metadata.ActionDropped {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s not carried over: %s", d.Key, d.Reason))
		}
	}
	if c.o.PreserveSourceInfo {
		for k, v := range metadata.SourceInfo(info.ETag, info.LastModified, info.VersionID) {
			extra[k] = v
		}
	}
	user, err := metadata.Merge(info.Metadata, extra)
	if err != nil {
		return p, "", err
	}
	md, err := metadata.Map(user, c.o.MetadataPolicy)
	res.Metadata = append(dropped, md.Decisions...)
	res.Warnings = append(res.Warnings, md.Warnings...)
	if err != nil {
		return p, "", err
	}
	p.props.Metadata = md.Metadata

	if len(tags) > 0 {
		mt, err := metadata.MapTags(tags, c.o.MetadataPolicy)
		res.Tags = mt.Decisions
		res.Warnings = append(res.Warnings, mt.Warnings...)
		if err != nil {
			return p, "", err
		}
		p.props.Tags = mt.Metadata
	}

	switch {
	case c.o.BlobTier != "":
		p.props.Tier = c.o.BlobTier
	case c.o.PreserveTier && tierErr != nil:
		return p, "", tierErr
	case c.o.PreserveTier:
		p.props.Tier = tier
	}
	res.Tier = p.props.Tier

	switch size := info.Size; {
	case size == 0:
		p.mode = ModeEmpty
	case size <= c.o.PutBlobMaxSize:
		p.mode = ModePutFromURL
	default:
		p.mode = ModeBlocksFromURL
		if p.blocks, err = PlanBlocks(size, c.o.BlockSize, c.limits); err != nil {
			return p, "", &providers.Error{Kind: providers.KindInvalid, Op: "PlanBlocks", Msg: err.Error()}
		}
		res.Blocks = p.blocks.Count
	}
	return p, "", nil
}

func (c *Copier) copyObject(ctx context.Context, r Route, obj providers.Object) ObjectResult {
	res := ObjectResult{Bucket: r.Bucket, Key: obj.Key, Container: r.Container, Size: obj.Size}
	if ctx.Err() != nil {
		res.Outcome, res.Reason = Interrupted, "run canceled before this object started"
		return res
	}
	name, renamed, skip := c.blobName(r, obj.Key)
	res.Blob, res.Renamed = name, renamed
	if skip != "" {
		res.Outcome, res.Reason = Skipped, skip
		return res
	}
	fail := func(err error) ObjectResult {
		if providers.KindOf(err) == providers.KindCanceled && ctx.Err() != nil {
			res.Outcome, res.Reason = Interrupted, "run canceled while copying"
			return res
		}
		res.Outcome, res.Err, res.Reason = Failed, err, providers.Redact(err.Error())
		return res
	}

	// Properties and metadata are not in the listing: one HEAD.
	var info providers.ObjectInfo
	if err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		var err error
		info, err = c.src.Stat(ctx, r.Bucket, obj.Key)
		return err
	}); err != nil {
		return fail(err)
	}
	if info.VersionID == "" {
		info.VersionID = obj.VersionID // pin what the listing saw
	}
	res.Size = info.Size
	var tags map[string]string
	if tr, ok := c.src.(providers.TagReader); ok && c.o.Tags && info.TagCount != 0 {
		if err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
			var err error
			tags, err = tr.Tags(ctx, r.Bucket, info.Object)
			return err
		}); err != nil {
			return fail(err)
		}
	}
	p, skip, err := c.decide(info, tags, &res)
	if err != nil {
		return fail(err)
	}
	if skip != "" {
		res.Outcome, res.Reason = Skipped, skip
		return res
	}
	res.Mode = p.mode
	if renamed {
		c.recordRename(res)
	}
	if c.o.DryRun {
		res.Outcome = Planned
		return res
	}
	if err := c.execute(ctx, r, info.Object, name, p, &res.Attempts); err != nil {
		return fail(err)
	}
	res.Outcome = Copied
	return res
}

// recordRename writes one line of the rename manifest.
func (c *Copier) recordRename(r ObjectResult) {
	if c.o.RenameManifest == nil {
		return
	}
	line, _ := json.Marshal(struct {
		Bucket    string `json:"bucket"`
		Key       string `json:"key"`
		Container string `json:"container"`
		Blob      string `json:"blob"`
	}{r.Bucket, r.Key, r.Container, r.Blob})
	c.manifestMu.Lock()
	defer c.manifestMu.Unlock()
	fmt.Fprintf(c.o.RenameManifest, "%s\n", line)
}

// execute moves the bytes of obj as planned.
func (c *Copier) execute(ctx context.Context, r Route, obj providers.Object, name string, p plan, attempts *int) error {
	switch p.mode {
	case ModeEmpty:
		// An empty block list makes an empty blob in one request, with no
		// fetch from the source.
		return c.call(ctx, attempts, func(ctx context.Context) error {
			return c.ingest.CommitBlocks(ctx, r.Container, name, nil, p.props)
		})
	case ModePutFromURL:
		return c.call(ctx, attempts, func(ctx context.Context) error {
			u, err := c.pre.PresignGet(ctx, r.Bucket, obj, c.o.PresignTTL)
			if err != nil {
				return err
			}
			return c.ingest.PutBlobFromURL(ctx, r.Container, name, u, obj.Size, p.props)
		})
	default:
		return c.copyBlocks(ctx, r, obj, name, p, attempts)
	}
}

// copyBlocks stages every block of obj from a freshly presigned URL, in
// parallel under the global request bound, then commits them in order.
func (c *Copier) copyBlocks(ctx context.Context, r Route, obj providers.Object, name string, p plan, attempts *int) error {
	ids := BlockIDs(r.Bucket, obj, p.blocks)
	workers := min(p.blocks.Count, c.o.Concurrency)
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
					u, err := c.pre.PresignGet(ctx, r.Bucket, obj, c.o.PresignTTL)
					if err != nil {
						return err
					}
					return c.ingest.StageBlockFromURL(ctx, r.Container, name, ids[i], u, p.blocks.Range(i))
				})
				mu.Lock()
				*attempts += n
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("block %d of %d: %w", i+1, p.blocks.Count, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.call(ctx, attempts, func(ctx context.Context) error {
		return c.ingest.CommitBlocks(ctx, r.Container, name, ids, p.props)
	})
}
