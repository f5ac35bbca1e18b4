package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/providers"
)

// DefaultListParallelism is how many key ranges of a large listing are
// listed at once when Options.ListParallelism is 0.
const DefaultListParallelism = 16

// splitAfterPages is how many pages a listing lists as one stream before
// split points are looked for. That costs some 100 to 400 one-key requests
// (and about 20 round trips, during which the stream goes on) whatever
// the listing's size: not worth it for a listing of a few pages. A
// variable for tests.
var splitAfterPages int64 = 20

// rangeJournal is a Journal that can record a listing made in key ranges
// (package journal's can). With a Journal that cannot, listings stay one
// stream.
type rangeJournal interface {
	RecordRanges(route string, ranges []journal.ListRange) error
	RecordRangePage(route string, i int, objs []journal.Entry, next string) error
}

// listParallelism is Options.ListParallelism with its default.
func (c *Copier) listParallelism() int {
	if c.o.ListParallelism <= 0 {
		return DefaultListParallelism
	}
	return c.o.ListParallelism
}

// enumerate prepares route i's container and sends every listed object of
// the route to out, a page at a time.
//
// A listing starts as one stream. When it is still going after
// splitAfterPages pages and the source can list after any key
// (providers.StartAfterLister), split points are looked for
// (ListPartitioned's probes) while the stream goes on; once found, the
// rest of the key space is split into up to ListParallelism ranges that
// are listed at once, each as a stream of its own, the first one going on
// from where the stream is.
// Every page goes the same way, whichever range it is from: filtered,
// recorded in the journal, then dispatched; a range lists its next page
// only once its page is dispatched, so at most one page per range is held.
//
// With a journal, the ranges are recorded before any of their pages, and
// each page with its range's own continuation token; a resumed run lists
// every unfinished range on from its token. A route whose listing was
// recorded as one stream is resumed as one stream (and split as above).
func (c *Copier) enumerate(ctx context.Context, i int, out chan<- work) error {
	r := c.o.Routes[i]
	if err := c.prepareRoute(ctx, i); err != nil {
		return err
	}
	var st journal.RouteState
	if c.o.Journal != nil {
		var err error
		st, err = c.o.Journal.Route(r.String())
		if err != nil {
			return fmt.Errorf("journal of %s: %w", r, err)
		}
		// What an earlier run listed and did not finish well.
		err = c.o.Journal.Each(r.String(), []journal.State{journal.Pending, journal.Failed}, func(e journal.Entry) error {
			c.count(i, 1, e.Size)
			obj := providers.Object{Key: e.Key, Size: e.Size, ETag: e.ETag}
			select {
			case out <- work{route: i, obj: obj, inDoubt: e.State == journal.Pending}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			return err
		}
		if st.Done {
			return nil
		}
		if len(st.Ranges) > 0 {
			return c.listRanges(ctx, i, st.Ranges, nil, out)
		}
	}
	token, pages := st.Token, st.Pages
	page, err := c.listPage(ctx, c.preflight(), r, token)
	if err != nil && token == "" {
		return &SetupError{What: fmt.Sprintf("source bucket %q", r.Bucket), Err: err}
	}
	if err != nil {
		return listingStopped(r, err)
	}
	var sp *splitter // split points being looked for, while the stream goes on
	defer func() { sp.stop() }()
	for {
		if sp == nil && pages >= splitAfterPages && page.Next != "" && len(page.Objects) > 0 && c.canSplit() {
			sp = c.startSplit(ctx, r, page.Objects[len(page.Objects)-1].Key)
		}
		next := page.Next
		err := c.dispatch(ctx, i, page.Objects, func(entries []journal.Entry) error {
			return c.o.Journal.RecordPage(r.String(), entries, next)
		}, out)
		if err != nil || next == "" {
			return err
		}
		pages++
		if page, err = c.listPage(ctx, c.o.Retry, r, next); err != nil {
			return listingStopped(r, err)
		}
		rgs, err := sp.ranges(page)
		if err != nil {
			return err
		}
		if len(rgs) > 1 {
			if rj, ok := c.o.Journal.(rangeJournal); ok {
				if err := rj.RecordRanges(r.String(), rgs); err != nil {
					return fmt.Errorf("journal of %s: %w", r, err)
				}
			}
			return c.listRanges(ctx, i, rgs, &page, out)
		}
	}
}

func listingStopped(r Route, err error) error {
	return fmt.Errorf("listing bucket %q (prefix %q) stopped: %w", r.Bucket, r.Prefix, err)
}

// listRequest makes one listing request under policy, bounded and counted
// like every request, and counts it in the estimate.
func (c *Copier) listRequest(ctx context.Context, policy RetryPolicy, f func(context.Context) (providers.Page, error)) (providers.Page, error) {
	var page providers.Page
	_, err := policy.Do(ctx, func(ctx context.Context) error {
		var err error
		page, err = request(c, ctx, f)
		return err
	})
	if err != nil {
		return providers.Page{}, err
	}
	c.mu.Lock()
	c.sum.Estimate.S3List++
	c.mu.Unlock()
	return page, nil
}

// listPage lists the page of route r that token continues ("" = the first).
func (c *Copier) listPage(ctx context.Context, policy RetryPolicy, r Route, token string) (providers.Page, error) {
	return c.listRequest(ctx, policy, func(ctx context.Context) (providers.Page, error) {
		return c.src.List(ctx, r.Bucket, providers.ListOptions{Prefix: r.Prefix, Token: token, MaxResults: c.o.PageSize})
	})
}

// copierLister is the source's ListAfter made the way the Copier makes
// every listing request (retried, bounded, counted): what the split-point
// probes go through.
type copierLister struct {
	c  *Copier
	sa StartAfterLister
}

func (l copierLister) ListAfter(ctx context.Context, bucket string, opts providers.ListOptions, after string) (providers.Page, error) {
	return l.c.listRequest(ctx, l.c.o.Retry, func(ctx context.Context) (providers.Page, error) {
		return l.sa.ListAfter(ctx, bucket, opts, after)
	})
}

// canSplit says whether this run can list in ranges: ListParallelism is
// not 1, the source can list after any key and the journal, if any, can
// record ranges.
func (c *Copier) canSplit() bool {
	_, sa := c.src.(StartAfterLister)
	_, rj := c.o.Journal.(rangeJournal)
	return c.listParallelism() > 1 && sa && (c.o.Journal == nil || rj)
}

// splitter looks for split points in the background (splitPoints'
// probes, some 20 round trips), while the one stream goes on.
type splitter struct {
	cancel context.CancelFunc
	done   chan struct{}
	pts    []splitPoint
	err    error
	used   bool // the result was taken
}

// startSplit starts looking for the split points of route r's key space,
// seen from seed, a key already listed.
func (c *Copier) startSplit(ctx context.Context, r Route, seed string) *splitter {
	ctx, cancel := context.WithCancel(ctx)
	sp := &splitter{cancel: cancel, done: make(chan struct{})}
	sa := c.src.(StartAfterLister)
	go func() {
		defer close(sp.done)
		sp.pts, sp.err = splitPoints(ctx, copierLister{c, sa}, r.Bucket, r.Prefix, seed, c.listParallelism())
	}()
	return sp
}

// stop cancels the probes and waits for them.
func (sp *splitter) stop() {
	if sp != nil {
		sp.cancel()
		<-sp.done
	}
}

// ranges returns, once the split points are found, the key ranges to list
// the rest of the listing in, page being its next page (not dispatched
// yet); nil while they are being looked for, and when the listing is best
// left one stream: no split point was found past page's first key, or a
// probe failed (its retries spent). Only a canceled ctx is an error. The
// first range holds every key listed already and goes on from page.
func (sp *splitter) ranges(page providers.Page) ([]journal.ListRange, error) {
	if sp == nil || sp.used || len(page.Objects) == 0 {
		return nil, nil
	}
	select {
	case <-sp.done:
	default:
		return nil, nil
	}
	sp.used = true
	if sp.err != nil {
		if errors.Is(sp.err, context.Canceled) || errors.Is(sp.err, context.DeadlineExceeded) {
			return nil, sp.err
		}
		return nil, nil
	}
	// A split point's key is the first key after its start-after: one
	// after first has its start-after at or after first too.
	first := page.Objects[0].Key
	pts := slices.DeleteFunc(sp.pts, func(p splitPoint) bool { return p.key <= first || p.after < first })
	if len(pts) == 0 {
		return nil, nil
	}
	for k, p := range pts {
		// Keys written while probing could make the probes disagree; and a
		// bound must be journaled as it is.
		if k > 0 && p.after <= pts[k-1].after || !utf8.ValidString(p.after) {
			return nil, nil
		}
	}
	return rangesOf(pts), nil
}

// listRanges lists the unfinished ranges of route i, up to ListParallelism
// at once. first, when set, is the first page of the listing: range 0's.
func (c *Copier) listRanges(ctx context.Context, i int, rgs []journal.ListRange, first *providers.Page, out chan<- work) error {
	r := c.o.Routes[i]
	sa, _ := c.src.(StartAfterLister)
	rj, _ := c.o.Journal.(rangeJournal)
	if sa == nil || c.o.Journal != nil && rj == nil {
		return fmt.Errorf("listing bucket %q (prefix %q): the journal has it listed in %d ranges, which this source or journal cannot continue", r.Bucket, r.Prefix, len(rgs))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.listParallelism())
	for k, rg := range rgs {
		if rg.Done {
			continue
		}
		var page *providers.Page
		if k == 0 {
			page = first
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return c.listRange(gctx, i, k, rg, page, sa, rj, out) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// listRange lists range k of route i, the keys after rg.After up to
// rg.Until, from page (nil: from rg's token, or after rg.After when it has
// none). Keys outside the range are dropped, should a server return any,
// so ranges never overlap.
func (c *Copier) listRange(ctx context.Context, i, k int, rg journal.ListRange, page *providers.Page, sa StartAfterLister, rj rangeJournal, out chan<- work) error {
	r := c.o.Routes[i]
	token := rg.Token
	for {
		if page == nil {
			var p providers.Page
			var err error
			if token == "" && rg.After != "" {
				p, err = c.listRequest(ctx, c.o.Retry, func(ctx context.Context) (providers.Page, error) {
					return sa.ListAfter(ctx, r.Bucket, providers.ListOptions{Prefix: r.Prefix, MaxResults: c.o.PageSize}, rg.After)
				})
			} else {
				p, err = c.listPage(ctx, c.o.Retry, r, token)
			}
			if err != nil {
				return listingStopped(r, err)
			}
			page = &p
		}
		objs, next := page.Objects, page.Next
		if rg.After != "" {
			objs = objs[sort.Search(len(objs), func(j int) bool { return objs[j].Key > rg.After }):]
		}
		if rg.Until != "" {
			if n := sort.Search(len(objs), func(j int) bool { return objs[j].Key > rg.Until }); n < len(objs) {
				objs, next = objs[:n], ""
			}
		}
		err := c.dispatch(ctx, i, objs, func(entries []journal.Entry) error {
			return rj.RecordRangePage(r.String(), k, entries, next)
		}, out)
		if err != nil || next == "" {
			return err
		}
		token, page = next, nil
	}
}

// dispatch filters one page's objects, records them with record when the
// run is journaled (before any is dispatched), counts them and sends them
// to out.
func (c *Copier) dispatch(ctx context.Context, i int, objs []providers.Object, record func([]journal.Entry) error, out chan<- work) error {
	r := c.o.Routes[i]
	objs = c.filter(r, objs)
	if c.o.Journal != nil {
		entries := make([]journal.Entry, len(objs))
		for k, o := range objs {
			entries[k] = journal.Entry{Key: o.Key, Size: o.Size, ETag: o.ETag}
		}
		if err := record(entries); err != nil {
			return fmt.Errorf("journal of %s: %w", r, err)
		}
	}
	var b int64
	for _, o := range objs {
		b += o.Size
	}
	c.count(i, int64(len(objs)), b)
	for _, o := range objs {
		select {
		case out <- work{route: i, obj: o}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
