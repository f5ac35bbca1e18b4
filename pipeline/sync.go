package pipeline

import (
	"context"

	"github.com/migrate-tool/migrate/providers"
)

// enumerateSync is enumerate for a sync: one streaming pass over both
// listings (Compare), dispatching what is missing or changed and, with
// DeleteDestination, the blobs whose source is gone.
func (c *Copier) enumerateSync(ctx context.Context, i int, out chan<- work) error {
	r := c.o.Routes[i]
	if err := c.prepareRoute(ctx, i); err != nil {
		return err
	}
	send := func(w work) error {
		select {
		case out <- w:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	opts := CompareOptions{
		Names:    NameOptions{RenameInvalidKeys: c.o.RenameInvalidKeys, KeepFolderMarkers: c.o.KeepFolderMarkers},
		PageSize: c.o.PageSize,
		Retry:    c.o.Retry,
		OnSkip: func(obj providers.Object, reason string) {
			c.count(i, 1, obj.Size)
			// Skipped by a naming rule: reported like a copy reports it.
			_ = send(work{route: i, obj: obj})
		},
	}
	return Compare(ctx, c.src, c.dst, r, opts, func(p Pair) error {
		switch {
		case p.Src != nil:
			// A filtered object is left alone on both sides: its blob, if
			// any, is in the same pair and is not deleted.
			if len(c.filter(r, []providers.Object{*p.Src})) == 0 {
				return nil
			}
			c.count(i, 1, p.Src.Size)
			if p.Dst != nil {
				if changed, _ := Changed(*p.Src, *p.Dst); !changed {
					c.mu.Lock()
					c.sum.Unchanged++
					c.mu.Unlock()
					return nil
				}
			}
			return send(work{route: i, obj: *p.Src})
		case c.o.DeleteDestination:
			return send(work{route: i, delete: p.Name, obj: *p.Dst})
		default:
			c.mu.Lock()
			c.sum.Extra++
			c.mu.Unlock()
			return nil
		}
	})
}

// deleteBlob is the work of a sync's deletion.
func (c *Copier) deleteBlob(ctx context.Context, r Route, w work) ObjectResult {
	res := ObjectResult{Container: r.Container, Blob: w.delete, Size: w.obj.Size, Mode: ModeDelete}
	if c.o.DryRun {
		res.Outcome = Planned
		return res
	}
	err := c.call(ctx, &res.Attempts, func(ctx context.Context) error {
		return c.dst.(providers.Deleter).DeleteBlob(ctx, r.Container, w.delete)
	})
	switch {
	case err == nil || providers.KindOf(err) == providers.KindNotFound:
		res.Outcome = Deleted
	case providers.KindOf(err) == providers.KindCanceled && ctx.Err() != nil:
		res.Outcome = Interrupted
	default:
		res.Outcome, res.Err, res.Reason = Failed, err, providers.Redact(err.Error())
	}
	return res
}
