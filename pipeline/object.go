package pipeline

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/providers"
)

// StreamedByTheEnds is ObjectResult.Streamed when no object of the run
// could have moved server-side (a local folder; two S3 endpoints): a
// property of the run, said once by its summary rather than per object.
const StreamedByTheEnds = "the source and destination cannot copy server-side"

// Skip reasons (the text before ": " is the summary's group).
const (
	skipFolderMarker = "folder marker (key ends in /)"
	skipBlobName     = "blob name not allowed by Azure"
	skipArchived     = "archived: restore first"
	skipExists       = "exists at the destination"
	skipNotNewer     = "destination not older than the source"
	skipChanged      = "changed since the plan"
	skipDeleted      = "deleted since the inventory"
	changedInventory = "changed since the inventory"
)

// arrived says whether blob is obj, copied by an earlier run of this job
// that could not record it: the same size and either the same MD5 or
// written since the job began (a blob appears whole or not at all).
func (c *Copier) arrived(obj providers.Object, blob providers.ObjectInfo) bool {
	if blob.Size != obj.Size {
		return false
	}
	if md5 := blob.ContentMD5; len(md5) == 16 && len(obj.ETag) == 32 {
		return hex.EncodeToString(md5) == obj.ETag
	}
	return !c.o.JobStarted.IsZero() && !blob.LastModified.Before(c.o.JobStarted)
}

// blobName decides the blob name of key under route r (BlobNameFor, with
// this run's options), whether it is an encoding of the key, or why the
// object is skipped.
func (c *Copier) blobName(r Route, key string) (name string, renamed bool, skip string) {
	return BlobNameFor(r, key, c.nameOptions())
}

// nameOptions are the naming options of this run and destination.
func (c *Copier) nameOptions() NameOptions {
	return NameOptions{RenameInvalidKeys: c.o.RenameInvalidKeys, KeepFolderMarkers: c.o.KeepFolderMarkers, AnyName: c.limits.AnyBlobName}
}

// plan is everything decided about one object before any write.
type plan struct {
	props  providers.Properties
	mode   Mode
	blocks BlockPlan
	// keepProps: a copy within one service keeps the source's metadata,
	// headers and tags as they are (nothing of this run changes them).
	keepProps bool
}

// userMetadata is the source's metadata with Options.Metadata set over it
// (names compared case-insensitively, as both services do).
func (c *Copier) userMetadata(src map[string]string) map[string]string {
	if len(c.o.Metadata) == 0 {
		return src
	}
	out := make(map[string]string, len(src)+len(c.o.Metadata))
	for k, v := range src {
		out[k] = v
	}
	for k, v := range c.o.Metadata {
		for old := range out {
			if strings.EqualFold(old, k) {
				delete(out, old)
			}
		}
		out[k] = v
	}
	return out
}

// changesProps says this run sets properties of its own, so a copy within
// one service cannot just keep the source's.
func (c *Copier) changesProps() bool {
	o := c.o
	return o.ContentType != "" || len(o.Metadata) > 0 || o.PreserveSourceInfo || o.KeepS3Headers || o.BlobTier != ""
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
	if c.o.ContentType != "" {
		p.props.ContentType = c.o.ContentType
	}
	user, err := metadata.Merge(c.userMetadata(info.Metadata), extra)
	if err != nil {
		return p, "", err
	}
	if c.limits.AnyMetadataName {
		// The destination holds any name the source can: nothing to map.
		p.props.Metadata, p.props.Tags = user, tags
		return c.decideMode(info, p, res)
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
	return c.decideMode(info, p, res)
}

// decideMode decides how the bytes of the object move.
func (c *Copier) decideMode(info providers.ObjectInfo, p plan, res *ObjectResult) (plan, string, error) {
	var err error
	switch size := info.Size; {
	case size == 0:
		p.mode = ModeEmpty
	case c.o.TransferMode == Stream || !c.canServerSide:
		p.mode = ModeStream
		p.blocks, err = PlanStreamBlocks(size, c.o.BlockSize, c.limits)
	case size <= c.o.PutBlobMaxSize && c.within:
		p.mode, p.keepProps = ModeCopy, !c.changesProps()
	case size <= c.o.PutBlobMaxSize:
		p.mode = ModePutFromURL
	case c.within:
		p.mode = ModeCopyParts
		p.blocks, err = PlanBlocks(size, c.o.BlockSize, c.limits)
	default:
		p.mode = ModeBlocksFromURL
		p.blocks, err = PlanBlocks(size, c.o.BlockSize, c.limits)
	}
	if err != nil {
		return p, "", &providers.Error{Kind: providers.KindInvalid, Op: "PlanBlocks", Msg: err.Error()}
	}
	res.Blocks = p.blocks.Count
	res.SinglePut = p.mode == ModeStream && p.blocks.Count == 1 && c.canPut
	return p, "", nil
}

func (c *Copier) copyObject(ctx context.Context, r Route, w work) ObjectResult {
	if w.delete != "" {
		return c.deleteBlob(ctx, r, w)
	}
	obj := w.obj
	res := ObjectResult{Bucket: r.Bucket, Key: obj.Key, ETag: obj.ETag, Container: r.Container, Size: obj.Size}
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

	// The destination is asked first only when it matters: an object an
	// earlier run may have copied already, or --overwrite other than true.
	if w.inDoubt || c.o.Overwrite != OverwriteAlways {
		var blob providers.ObjectInfo
		err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
			var err error
			blob, err = c.dst.StatBlob(ctx, r.Container, name)
			return err
		})
		exists := err == nil
		if err != nil && providers.KindOf(err) != providers.KindNotFound {
			return fail(err)
		}
		switch {
		case exists && w.inDoubt && c.arrived(obj, blob):
			res.Outcome, res.Found = Copied, true
			if c.srcDel != nil {
				if err := c.deleteSource(ctx, r, obj, "", name, &res); err != nil {
					return fail(err)
				}
			}
			return res
		case exists && c.o.Overwrite == OverwriteNever:
			res.Outcome, res.Reason = Skipped, skipExists+": --overwrite=false"
			return res
		case exists && c.o.Overwrite == OverwriteIfSourceNewer && !obj.LastModified.After(blob.LastModified):
			res.Outcome, res.Reason = Skipped, skipNotNewer+": --overwrite=ifSourceNewer"
			return res
		}
	}

	// Properties and metadata are not in the listing: one HEAD.
	var info providers.ObjectInfo
	if err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		var err error
		info, err = c.src.Stat(ctx, r.Bucket, obj.Key)
		return err
	}); err != nil {
		if w.planned && c.o.FromInventory && providers.KindOf(err) == providers.KindNotFound {
			res.Outcome, res.Reason = Skipped, skipDeleted+": the source has no such object now"
			return res
		}
		return fail(err)
	}
	if info.VersionID == "" {
		info.VersionID = obj.VersionID // pin what the listing saw
	}
	if w.planned && c.o.FromInventory && (info.Size != obj.Size || info.ETag != obj.ETag) {
		res.ChangedSinceInventory = true
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: listed %d bytes, ETag %s; copied as it is now: %d bytes, ETag %s",
			changedInventory, obj.Size, obj.ETag, info.Size, info.ETag))
	} else if w.planned && (info.Size != obj.Size || info.ETag != obj.ETag) {
		res.Outcome = Skipped
		res.Reason = fmt.Sprintf("%s: planned %d bytes, ETag %s; now %d bytes, ETag %s", skipChanged, obj.Size, obj.ETag, info.Size, info.ETag)
		return res
	}
	res.Size, res.ETag = info.Size, info.ETag
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
	if err := c.execute(ctx, r, info.Object, name, p, &res); err != nil {
		return fail(err)
	}
	if c.srcDel != nil {
		if err := c.deleteSource(ctx, r, info.Object, info.Encryption, name, &res); err != nil {
			return fail(err)
		}
	}
	res.Outcome = Copied
	return res
}

// deleteSource finishes the move of obj: it reads the blob back, compares
// it with obj, and deletes obj only when they match.
func (c *Copier) deleteSource(ctx context.Context, r Route, obj providers.Object, encryption, name string, res *ObjectResult) error {
	var blob providers.ObjectInfo
	if err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		var err error
		blob, err = c.dst.StatBlob(ctx, r.Container, name)
		return err
	}); err != nil {
		return fmt.Errorf("move: reading the copy back before deleting the source (the source is kept): %w", err)
	}
	if why := copyDiffers(obj, encryption, blob); why != "" {
		return &providers.Error{Kind: providers.KindPrecondition, Op: "VerifyMove", Where: r.Container + "/" + name,
			Msg: why + "; the source is kept (copy it again to retry)"}
	}
	err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		return c.srcDel.DeleteObject(ctx, r.Bucket, obj)
	})
	if err != nil && providers.KindOf(err) != providers.KindNotFound { // NotFound: a killed run deleted it already
		return fmt.Errorf("move: copied and verified, but deleting the source failed: %w", err)
	}
	res.SourceDeleted = true
	return nil
}

// copyDiffers says how blob differs from the object it was copied from,
// or "" when it matches: the same size and, where both sides know an MD5
// (a plain S3 ETag of an object not encrypted with KMS or a customer key,
// and the blob's Content-MD5), the same MD5. Multipart ETags are not
// compared: they depend on how each side was cut into parts.
func copyDiffers(obj providers.Object, encryption string, blob providers.ObjectInfo) string {
	if blob.Size != obj.Size {
		return fmt.Sprintf("the copy has %d bytes, the source %d", blob.Size, obj.Size)
	}
	plainMD5 := len(obj.ETag) == 32 && (encryption == "" || encryption == "AES256")
	if got := hex.EncodeToString(blob.ContentMD5); plainMD5 && len(blob.ContentMD5) == 16 && !strings.EqualFold(got, obj.ETag) {
		return fmt.Sprintf("the copy's MD5 is %s, the source's ETag %s", got, obj.ETag)
	}
	return ""
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

// execute moves the bytes of obj as planned: server-side, falling back to
// streaming in Auto mode when Azure cannot fetch the source, or streamed.
func (c *Copier) execute(ctx context.Context, r Route, obj providers.Object, name string, p plan, res *ObjectResult) error {
	switch p.mode {
	case ModeEmpty:
		// An empty block list makes an empty blob in one request, with no
		// fetch from the source.
		return c.call(ctx, &res.Attempts, func(ctx context.Context) error {
			return c.commit.CommitBlocks(ctx, r.Container, name, nil, p.props)
		})
	case ModeStream:
		res.Streamed = "--transfer-mode=stream"
		if c.o.TransferMode != Stream {
			res.Streamed = StreamedByTheEnds
		}
		return c.stream(ctx, r, obj, name, p.props, res)
	}
	err := c.serverSide(ctx, r, obj, name, p, res)
	// Azure answers a fetch it could not complete at all (a reset, a
	// timeout on the way to the source) as 5xx CannotVerifyCopySource with
	// no source status: possibly passing, so the copy is tried twice more
	// before it streams or fails.
	for try := 1; try <= 2 && fetchMayRecover(err); try++ {
		if c.o.Retry.sleep(ctx, c.o.Retry.Delay(try)) != nil {
			break
		}
		err = c.serverSide(ctx, r, obj, name, p, res)
	}
	if err == nil || c.o.TransferMode != Auto || c.stager == nil {
		return err
	}
	switch {
	case errors.Is(err, providers.ErrCantServerSide):
		res.Streamed = "source cannot be presigned: " + providers.Redact(err.Error())
	case providers.KindOf(err) == providers.KindSourceUnreachable:
		res.Streamed = "Azure could not fetch the source: " + providers.Redact(err.Error())
	default:
		return err
	}
	res.Mode = ModeStream
	return c.stream(ctx, r, obj, name, p.props, res)
}

// serverSide moves obj's bytes with one Put Blob From URL or block by block.
func (c *Copier) serverSide(ctx context.Context, r Route, obj providers.Object, name string, p plan, res *ObjectResult) error {
	if p.mode == ModeBlocksFromURL || p.mode == ModeCopyParts {
		return c.copyBlocks(ctx, r, obj, name, p, res)
	}
	return c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		if c.copier != nil {
			var props *providers.Properties
			if !p.keepProps {
				props = &p.props
			}
			return c.copier.CopyObject(ctx, r.Container, name, providers.CopySource{Bucket: r.Bucket, Object: obj}, props)
		}
		u, err := c.presign(ctx, r.Bucket, obj)
		if err != nil {
			return err
		}
		return c.ingest.PutBlobFromURL(ctx, r.Container, name, u, obj.Size, p.props)
	})
}

// fetchMayRecover says whether err is Azure failing to reach the source
// with a server error rather than the source refusing (403).
func fetchMayRecover(err error) bool {
	var pe *providers.Error
	return providers.KindOf(err) == providers.KindSourceUnreachable && errors.As(err, &pe) && pe.Status >= 500
}

// presign returns a fresh URL for obj whose fetch is conditional on the
// ETag seen at listing, so a changed source fails instead of mixing.
func (c *Copier) presign(ctx context.Context, bucket string, obj providers.Object) (providers.SourceURL, error) {
	u, err := c.pre.PresignGet(ctx, bucket, obj, c.o.PresignTTL)
	if err == nil && u.IfMatch == "" {
		u.IfMatch = obj.ETag
	}
	return u, err
}

// copyBlocks stages every block of obj from a freshly presigned URL, then
// commits them in order.
func (c *Copier) copyBlocks(ctx context.Context, r Route, obj providers.Object, name string, p plan, res *ObjectResult) error {
	return c.blocks(ctx, r, obj, name, p.blocks, p.props, res, func(ctx context.Context, id providers.BlockID, rg providers.Range, attempts *int) error {
		return c.call(ctx, attempts, func(ctx context.Context) error {
			if c.copier != nil {
				return c.copier.StageBlockFromCopy(ctx, r.Container, name, id, providers.CopySource{Bucket: r.Bucket, Object: obj}, rg)
			}
			u, err := c.presign(ctx, r.Bucket, obj)
			if err != nil {
				return err
			}
			return c.ingest.StageBlockFromURL(ctx, r.Container, name, id, u, rg)
		})
	})
}

// stream reads obj range by range through this process and stages each
// range with Put Block (the destination checksums every block), holding at
// most Options.StreamMemory of block buffers at once across all objects.
func (c *Copier) stream(ctx context.Context, r Route, obj providers.Object, name string, props providers.Properties, res *ObjectResult) error {
	plan, err := PlanStreamBlocks(obj.Size, c.o.BlockSize, c.limits)
	if err != nil {
		return &providers.Error{Kind: providers.KindInvalid, Op: "PlanBlocks", Msg: err.Error()}
	}
	res.Blocks = plan.Count
	if plan.Count == 1 && c.putter != nil {
		// One block: one Put Blob (PutObject) instead of a block and a
		// commit, or an upload's three requests.
		res.SinglePut = true
		return c.readBlock(ctx, r, obj, plan.Range(0), &res.Attempts, func(buf []byte) error {
			return c.call(ctx, &res.Attempts, func(ctx context.Context) error {
				return c.putter.PutBlob(ctx, r.Container, name, bytes.NewReader(buf), int64(len(buf)), props)
			})
		})
	}
	return c.blocks(ctx, r, obj, name, plan, props, res, func(ctx context.Context, id providers.BlockID, rg providers.Range, attempts *int) error {
		return c.readBlock(ctx, r, obj, rg, attempts, func(buf []byte) error {
			return c.call(ctx, attempts, func(ctx context.Context) error {
				return c.stager.StageBlock(ctx, r.Container, name, id, bytes.NewReader(buf), rg.Count)
			})
		})
	})
}

// readBlock reads range rg of obj into a reused buffer, under the stream
// memory bound, and hands it to use.
func (c *Copier) readBlock(ctx context.Context, r Route, obj providers.Object, rg providers.Range, attempts *int, use func([]byte) error) error {
	weight := min(rg.Count, c.o.StreamMemory)
	if err := c.mem.Acquire(ctx, weight); err != nil {
		return &providers.Error{Kind: providers.KindCanceled, Err: err}
	}
	defer c.mem.Release(weight)
	buf := c.bufs.get(rg.Count)
	defer c.bufs.put(buf)
	err := c.call(ctx, attempts, func(ctx context.Context) error {
		rc, err := c.reader.OpenRange(ctx, r.Bucket, obj, rg)
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := io.ReadFull(rc, buf); err != nil {
			if ctx.Err() != nil {
				return &providers.Error{Kind: providers.KindCanceled, Err: ctx.Err()}
			}
			return &providers.Error{Kind: providers.KindTransient, Op: "ReadRange", Where: r.Bucket + "/" + obj.Key, Err: err}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return use(buf)
}

// blocks stages the blocks of plan that an earlier, interrupted run did not
// already stage (asking the destination when it can tell), in parallel under
// the global request bound, then commits all of them in order. Until the
// commit succeeds, an existing blob of that name is untouched.
func (c *Copier) blocks(ctx context.Context, r Route, obj providers.Object, name string, plan BlockPlan, props providers.Properties,
	res *ObjectResult, stage func(ctx context.Context, id providers.BlockID, rg providers.Range, attempts *int) error) (err error) {
	ids := BlockIDs(r.Bucket, obj, plan)
	if c.uploader != nil {
		// The blocks belong to an upload (S3 multipart): begun with the
		// properties, and aborted unless committed, so that a failed or
		// interrupted copy leaves nothing behind to be billed.
		if err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
			return c.uploader.BeginBlocks(ctx, r.Container, name, ids, props)
		}); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				c.abort(ctx, r, name, res)
			}
		}()
	}
	done := map[providers.BlockID]bool{}
	if c.staged != nil {
		var staged []providers.BlockID
		if err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
			var err error
			staged, err = c.staged.UncommittedBlocks(ctx, r.Container, name)
			return err
		}); err != nil {
			return err
		}
		for _, id := range staged {
			done[id] = true
		}
	}
	var todo []int
	for i, id := range ids {
		if done[id] {
			res.Resumed++
		} else {
			todo = append(todo, i)
		}
	}
	var mu sync.Mutex
	next := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for _, i := range todo {
			select {
			case next <- i:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	for w := 0; w < min(len(todo), c.o.Concurrency); w++ {
		g.Go(func() error {
			for i := range next {
				n := 0
				err := stage(gctx, ids[i], plan.Range(i), &n)
				mu.Lock()
				res.Attempts += n
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("block %d of %d: %w", i+1, plan.Count, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		return c.commit.CommitBlocks(ctx, r.Container, name, ids, props)
	})
}

// abort discards the upload of a blob that could not be committed, even
// when the run is being canceled: an incomplete upload would stay behind.
func (c *Copier) abort(ctx context.Context, r Route, name string, res *ObjectResult) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := c.call(actx, &res.Attempts, func(ctx context.Context) error {
		return c.uploader.AbortBlocks(ctx, r.Container, name)
	})
	if err != nil {
		res.Warnings = append(res.Warnings, "the incomplete upload could not be aborted (a later run of the same copy aborts it): "+providers.Redact(err.Error()))
	}
}
