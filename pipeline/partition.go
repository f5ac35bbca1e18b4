package pipeline

import (
	"context"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/providers"
)

// StartAfterLister is providers.StartAfterLister.
type StartAfterLister = providers.StartAfterLister

// probeAlphabet are the characters a split point is looked for at: the
// printable ASCII characters. Keys may hold others; they are still listed
// (every key lies in some partition), they only never start one.
// maxRune is the largest rune: a key prefix followed by it sorts after
// every key that continues that prefix (except with this very rune).
const maxRune = "\U0010FFFF"

const probeAlphabet = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// ListPartitioned calls fn with every page of the listing of bucket under
// prefix, listing up to parts ranges of the key space at once when src is
// a StartAfterLister (else one stream, as Source.List pages it). Every key
// is passed exactly once. fn is never called concurrently, but pages come
// in no overall order: within one range they are in key order. An error
// of fn or of a listing request stops everything and is returned.
//
// The ranges are found by sampling, not known in advance: after the first
// page, one-key probes ("the first key after s") at strings s made of the
// prefix of a key already found and one more character look for the keys
// at which the key space branches, a character deeper each round, until
// there are parts-1 of them. A level that does not branch costs one probe
// per key found so far; where it branches, the branch points are found by
// bisection over the alphabet, since the first key after s only grows with
// s. Probes run 4×parts at a time. Each range then holds the keys after its
// probe string up to the next range's probe string: the ranges partition
// the key space whatever the keys, so correctness never depends on where
// the boundaries fall, only the balance does.
func ListPartitioned(ctx context.Context, src providers.Source, bucket, prefix string, parts int, fn func(providers.Page) error) error {
	var mu sync.Mutex
	emit := func(p providers.Page) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(p)
	}
	first, err := src.List(ctx, bucket, providers.ListOptions{Prefix: prefix})
	if err != nil {
		return err
	}
	sa, ok := src.(StartAfterLister)
	if !ok || parts <= 1 || first.Next == "" || len(first.Objects) == 0 {
		return listRange(ctx, src, bucket, prefix, first, "", emit)
	}
	bounds, err := splitPoints(ctx, sa, bucket, prefix, first.Objects[0].Key, parts)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parts)
	for i := 0; i <= len(bounds); i++ {
		until := ""
		if i < len(bounds) {
			until = bounds[i].after
		}
		g.Go(func() error {
			page := first
			if i > 0 {
				var err error
				if page, err = sa.ListAfter(gctx, bucket, providers.ListOptions{Prefix: prefix}, bounds[i-1].after); err != nil {
					return err
				}
			}
			return listRange(gctx, src, bucket, prefix, page, until, emit)
		})
	}
	return g.Wait()
}

// listRange emits page and the pages after it, up to the last key <= until
// ("" = to the end of the listing).
func listRange(ctx context.Context, src providers.Source, bucket, prefix string, page providers.Page, until string, emit func(providers.Page) error) error {
	for {
		stop := false
		if until != "" {
			n := sort.Search(len(page.Objects), func(i int) bool { return page.Objects[i].Key > until })
			stop = n < len(page.Objects)
			page.Objects = page.Objects[:n]
		}
		if len(page.Objects) > 0 {
			if err := emit(providers.Page{Objects: page.Objects}); err != nil {
				return err
			}
		}
		if stop || page.Next == "" {
			return nil
		}
		var err error
		if page, err = src.List(ctx, bucket, providers.ListOptions{Prefix: prefix, Token: page.Next}); err != nil {
			return err
		}
	}
}

// splitPoint is the first key of a range and a string that sorts just
// before it (no key lies between them): the range's start-after.
type splitPoint struct{ after, key string }

// splitPoints looks for up to parts-1 keys at which the key space under
// prefix branches, first being the first key.
func splitPoints(ctx context.Context, sa StartAfterLister, bucket, prefix, first string, parts int) ([]splitPoint, error) {
	found := map[string]string{} // key -> start-after
	var mu sync.Mutex
	sem := make(chan struct{}, 4*parts) // probes are tiny: more at once
	// probe returns the first key after s ("" when none).
	probe := func(ctx context.Context, s string) (string, error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		defer func() { <-sem }()
		p, err := sa.ListAfter(ctx, bucket, providers.ListOptions{Prefix: prefix, MaxResults: 1}, s)
		if err != nil || len(p.Objects) == 0 {
			return "", err
		}
		return p.Objects[0].Key, nil
	}
	record := func(after, key string) {
		if key == "" || key == first {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if old, ok := found[key]; !ok || after > old {
			found[key] = after
		}
	}
	// bisect finds every distinct first key after base+c for c between
	// alphabet[lo] and alphabet[hi], knowing those two answers.
	var bisect func(ctx context.Context, g *errgroup.Group, base string, lo, hi int, klo, khi string)
	bisect = func(ctx context.Context, g *errgroup.Group, base string, lo, hi int, klo, khi string) {
		if klo == khi || hi-lo <= 1 {
			return
		}
		mid := (lo + hi) / 2
		g.Go(func() error {
			s := base + probeAlphabet[mid:mid+1]
			k, err := probe(ctx, s)
			if err != nil {
				return err
			}
			record(s, k)
			bisect(ctx, g, base, lo, mid, klo, k)
			bisect(ctx, g, base, mid, hi, k, khi)
			return nil
		})
	}
	frontier := []string{first}
	for depth := len(prefix) + 1; len(found) < parts-1 && len(frontier) > 0 && depth <= 1024; depth++ {
		g, gctx := errgroup.WithContext(ctx)
		bases := map[string]bool{}
		for _, k := range frontier {
			if len(k) < depth || bases[k[:depth-1]] || !utf8.ValidString(k[:depth]) {
				// Not inside a multi-byte character either: every probe
				// string is valid UTF-8 (S3 wants it; the journal keeps
				// range bounds as JSON strings).
				continue
			}
			base := k[:depth-1]
			bases[base] = true
			g.Go(func() error {
				// Does the key space branch below base at all? The first
				// key after k[:depth] followed by the largest rune says.
				s := k[:depth] + maxRune
				r, err := probe(gctx, s)
				if err != nil || r == "" || !strings.HasPrefix(r, base) {
					return err // one branch: look a character deeper
				}
				record(s, r)
				lo := strings.IndexByte(probeAlphabet, k[depth-1])
				if lo < 0 {
					return nil
				}
				last := len(probeAlphabet) - 1
				shi := base + probeAlphabet[last:]
				khi, err := probe(gctx, shi)
				if err != nil {
					return err
				}
				record(shi, khi)
				bisect(gctx, g, base, lo, last, k, khi)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		frontier = frontier[:0]
		frontier = append(frontier, first)
		for k := range found {
			frontier = append(frontier, k)
		}
	}
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Keep parts-1 of them, evenly spread.
	var pts []splitPoint
	for i := 1; i < parts && len(keys) > 0; i++ {
		k := keys[(i*len(keys))/parts]
		if len(pts) > 0 && pts[len(pts)-1].key == k {
			continue
		}
		pts = append(pts, splitPoint{after: found[k], key: k})
	}
	return pts, nil
}

// rangesOf turns split points into the key ranges of a partitioned
// listing: the first range up to the first split's start-after, each next
// one from there to the next split's, the last one to the end.
func rangesOf(pts []splitPoint) []journal.ListRange {
	rgs := make([]journal.ListRange, len(pts)+1)
	for i, p := range pts {
		rgs[i].Until = p.after
		rgs[i+1].After = p.after
	}
	return rgs
}
