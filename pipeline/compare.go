package pipeline

import (
	"container/heap"
	"context"
	"fmt"
	"strings"

	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/providers"
)

// NameOptions are the options of a copy that decide blob names; a verify or
// a sync must be given the ones the copy used.
type NameOptions struct {
	// RenameInvalidKeys: every key passes through naming.EncodeBlobName.
	RenameInvalidKeys bool
	// KeepFolderMarkers: keys ending in "/" are blobs, not skipped.
	KeepFolderMarkers bool
	// AnyName: the destination takes any key as a name (an S3 bucket), so
	// Azure's blob name rules are not checked.
	AnyName bool
}

// BlobNameFor is the blob name a copy gives key under route r: the key
// without r.Prefix (encoded with naming.EncodeBlobName when
// o.RenameInvalidKeys), joined to r.DestPrefix with naming.JoinBlobName.
// renamed says the name is an encoding of the key. skip, when not "", says
// why a copy skips the key instead: a folder marker (a key ending in "/"
// without o.KeepFolderMarkers, or the prefix itself as an object) or a name
// Azure refuses (naming.CheckBlobName); name is then what the blob would
// have been called, or "" for a folder marker. The mapping is pure.
func BlobNameFor(r Route, key string, o NameOptions) (name string, renamed bool, skip string) {
	if strings.HasSuffix(key, "/") && !o.KeepFolderMarkers {
		return "", false, skipFolderMarker
	}
	rel := strings.TrimPrefix(key, r.Prefix)
	if rel == "" {
		return "", false, skipFolderMarker // the prefix itself, as an object
	}
	if o.RenameInvalidKeys {
		rel, renamed = naming.EncodeBlobName(rel)
	}
	name = naming.JoinBlobName(r.DestPrefix, rel)
	if o.AnyName {
		return name, renamed, ""
	}
	if err := naming.CheckBlobName(name); err != nil {
		return name, false, skipBlobName + ": " + err.Error()
	}
	return name, renamed, ""
}

// Pair is one name seen on one or both sides of a comparison.
type Pair struct {
	Name string            // the blob name
	Src  *providers.Object // nil: only at the destination
	Dst  *providers.Object // nil: only at the source
}

// CompareOptions configure Compare.
type CompareOptions struct {
	// Names are the naming options the copy used.
	Names NameOptions
	// PageSize is the page size asked of both listings (0 = the
	// providers' defaults).
	PageSize int
	// Retry is the policy of each page request (zero = DefaultRetry).
	Retry RetryPolicy
	// OnSkip, when set, is called for every source key a copy skips (see
	// BlobNameFor), with the reason; such keys are not compared.
	OnSkip func(obj providers.Object, reason string)
	// OnMissingContainer, when set, is called once when the destination
	// container does not exist (it is then compared as empty).
	OnMissingContainer func()
}

// Compare lists route r's source keys under r.Prefix, maps each to its
// blob name exactly as a copy does (BlobNameFor), lists the destination's
// blobs under r.DestPrefix, and calls fn once for every name seen on
// either side. It reads both listings a page at a time, so its memory does
// not grow with the number of objects. A destination container that does
// not exist is compared as empty. A failure of the first page of either
// listing is a *SetupError; fn's error stops the comparison and is
// returned.
//
// Order. Both listings come in ascending byte order (the providers
// contract), and the mapping preserves it for every name it does not
// encode: r.Prefix is removed from keys that all start with it and one
// fixed string (r.DestPrefix and "/") is put in front, so a plain merge-join
// of the two listings pairs the names. Encoding (Names.RenameInvalidKeys)
// breaks the order: "a\b" becomes "a＼b", which sorts after "ab", and an
// invalid byte becomes "__0x110ff__", which sorts before it. Such names are
// recognised on both sides by the marks only the encoding writes ("．",
// "＼" or "__0x" in the part after the destination prefix: every encoded
// key gains one, and a key that holds one is always encoded), and they are
// kept out of the merge, in a side set: a source name there is known to be
// missing once the destination listing has passed it, a destination name
// once the source listing has passed the key it decodes to. So the side
// set holds only the encoded names between the two listings' positions,
// never the whole bucket. fn sees the merged names in ascending order; an
// encoded name comes when the side set resolves it, which may be out of
// that order. fn is called from Compare's goroutine, one call at a time. A
// listing that is not in ascending order is an error: the merge would pair
// the wrong names.
func Compare(ctx context.Context, src providers.Source, dst providers.Destination, r Route, o CompareOptions, fn func(Pair) error) error {
	if o.Retry.MaxAttempts == 0 {
		o.Retry = DefaultRetry
	}
	c := &comparer{
		r:          r,
		o:          o,
		fn:         fn,
		destPrefix: naming.JoinBlobName(r.DestPrefix, ""),
		pendSrc:    map[string]*providers.Object{},
		pendDst:    map[string]*providers.Object{},
	}
	c.src = lister{what: fmt.Sprintf("source bucket %q", r.Bucket), retry: o.Retry,
		list: func(ctx context.Context, token string) (providers.Page, error) {
			return src.List(ctx, r.Bucket, providers.ListOptions{Prefix: r.Prefix, Token: token, MaxResults: o.PageSize})
		}}
	c.dst = lister{what: fmt.Sprintf("destination container %q", r.Container), retry: o.Retry, missingIsEmpty: true,
		list: func(ctx context.Context, token string) (providers.Page, error) {
			return dst.ListBlobs(ctx, r.Container, providers.ListOptions{Prefix: c.destPrefix, Token: token, MaxResults: o.PageSize})
		}}
	return c.run(ctx)
}

// lister hands out one listing's objects one at a time, a page at a time.
type lister struct {
	what           string
	retry          RetryPolicy
	list           func(ctx context.Context, token string) (providers.Page, error)
	missingIsEmpty bool // a NotFound first page is an empty listing
	missing        bool // ... and it was

	page    []providers.Object
	i       int
	next    string
	started bool
	done    bool
}

// pull returns the next object, or nil at the end of the listing.
func (l *lister) pull(ctx context.Context) (*providers.Object, error) {
	for l.i >= len(l.page) {
		if l.done || (l.started && l.next == "") {
			l.done = true
			return nil, nil
		}
		first := !l.started
		var page providers.Page
		_, err := l.retry.Do(ctx, func(ctx context.Context) error {
			var err error
			page, err = l.list(ctx, l.next)
			return err
		})
		if err != nil && first && l.missingIsEmpty && providers.KindOf(err) == providers.KindNotFound {
			l.started, l.done, l.missing = true, true, true
			return nil, nil
		}
		if err != nil && first {
			return nil, &SetupError{What: l.what, Err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s stopped: %w", l.what, err)
		}
		l.started = true
		l.page, l.i, l.next = page.Objects, 0, page.Next
	}
	o := l.page[l.i] // a copy: a pending Pair must not pin the page
	l.i++
	return &o, nil
}

// comparer is the state of one Compare: the two listings, their
// positions, and the side set of encoded names.
type comparer struct {
	r          Route
	o          CompareOptions
	fn         func(Pair) error
	destPrefix string // every destination name starts with it

	src, dst       lister
	srcPos, dstPos string // the last key and the last name pulled

	// The side set: encoded source names not yet seen at the destination,
	// and marked destination names whose key the source has not reached.
	pendSrc  map[string]*providers.Object // by blob name
	pendDst  map[string]*providers.Object // by blob name
	srcQueue stringHeap                   // pendSrc's names
	dstQueue keyHeap                      // pendDst's names by the key they decode to
}

// mapped is a source object and its blob name.
type mapped struct {
	name string
	obj  *providers.Object
}

func (c *comparer) run(ctx context.Context) error {
	s, err := c.nextSrc(ctx)
	if err != nil {
		return err
	}
	d, err := c.nextDst(ctx)
	if err != nil {
		return err
	}
	for s != nil || d != nil {
		switch {
		case d == nil || s != nil && s.name < d.Key:
			if err := c.fn(Pair{Name: s.name, Src: s.obj}); err != nil {
				return err
			}
			if s, err = c.nextSrc(ctx); err != nil {
				return err
			}
		case s == nil || d.Key < s.name:
			if err := c.fn(Pair{Name: d.Key, Dst: d}); err != nil {
				return err
			}
			if d, err = c.nextDst(ctx); err != nil {
				return err
			}
		default:
			if err := c.fn(Pair{Name: s.name, Src: s.obj, Dst: d}); err != nil {
				return err
			}
			if s, err = c.nextSrc(ctx); err != nil {
				return err
			}
			if d, err = c.nextDst(ctx); err != nil {
				return err
			}
		}
	}
	// Both listings are done: nextSrc and nextDst have resolved the side
	// set already.
	return nil
}

// marked reports whether the part of a blob name after the destination
// prefix carries a mark of naming.EncodeBlobName. Only with
// RenameInvalidKeys: without it no name is encoded.
func (c *comparer) marked(name string) bool {
	if !c.o.Names.RenameInvalidKeys {
		return false
	}
	rel := strings.TrimPrefix(name, c.destPrefix)
	return strings.ContainsRune(rel, '．') || strings.ContainsRune(rel, '＼') || strings.Contains(rel, "__0x")
}

// nextSrc returns the next source object whose name is in listing order
// (nil at the end), putting encoded names into the side set on the way.
func (c *comparer) nextSrc(ctx context.Context) (*mapped, error) {
	for {
		obj, err := c.src.pull(ctx)
		if err != nil {
			return nil, err
		}
		if obj == nil {
			return nil, c.resolveDst(true)
		}
		if obj.Key <= c.srcPos && c.srcPos != "" {
			return nil, fmt.Errorf("listing of source bucket %q is out of order: %q after %q", c.r.Bucket, obj.Key, c.srcPos)
		}
		m, err := c.takeSrc(obj)
		if err != nil {
			return nil, err
		}
		// Every pending destination name whose key is at most this one
		// has met its source key by now, or will never meet it.
		c.srcPos = obj.Key
		if err := c.resolveDst(false); err != nil {
			return nil, err
		}
		if m != nil {
			return m, nil
		}
	}
}

// takeSrc maps one source object: it returns it when its name is in
// listing order, else reports it as skipped, pairs it with a pending
// destination name, reports it as missing, or puts it in the side set.
func (c *comparer) takeSrc(obj *providers.Object) (*mapped, error) {
	name, renamed, skip := BlobNameFor(c.r, obj.Key, c.o.Names)
	switch d := c.pendDst[name]; {
	case skip != "":
		if c.o.OnSkip != nil {
			c.o.OnSkip(*obj, skip)
		}
		return nil, nil
	case !renamed:
		return &mapped{name: name, obj: obj}, nil
	case d != nil:
		delete(c.pendDst, name)
		return nil, c.fn(Pair{Name: name, Src: obj, Dst: d})
	case c.dst.done || name <= c.dstPos:
		// The destination listing has passed this name without it.
		return nil, c.fn(Pair{Name: name, Src: obj})
	default:
		c.pendSrc[name] = obj
		heap.Push(&c.srcQueue, name)
		return nil, nil
	}
}

// nextDst returns the next destination blob whose name is in listing order
// (nil at the end), putting marked names into the side set on the way.
func (c *comparer) nextDst(ctx context.Context) (*providers.Object, error) {
	for {
		obj, err := c.dst.pull(ctx)
		if err != nil {
			return nil, err
		}
		if c.dst.missing && c.o.OnMissingContainer != nil {
			c.dst.missing = false
			c.o.OnMissingContainer()
		}
		if obj == nil {
			return nil, c.resolveSrc(true)
		}
		if obj.Key <= c.dstPos && c.dstPos != "" {
			return nil, fmt.Errorf("listing of destination container %q is out of order: %q after %q", c.r.Container, obj.Key, c.dstPos)
		}
		inOrder, err := c.takeDst(obj)
		if err != nil {
			return nil, err
		}
		// Every pending source name up to this one has met its blob by
		// now, or will never meet it.
		c.dstPos = obj.Key
		if err := c.resolveSrc(false); err != nil {
			return nil, err
		}
		if inOrder {
			return obj, nil
		}
	}
}

// takeDst reports whether a destination blob's name is in listing order;
// when it is not (it carries the encoding's marks) takeDst pairs it with a
// pending source name, reports it as extra, or puts it in the side set.
func (c *comparer) takeDst(obj *providers.Object) (bool, error) {
	if !c.marked(obj.Key) {
		return true, nil
	}
	key, ok := c.keyOf(obj.Key)
	switch s := c.pendSrc[obj.Key]; {
	case s != nil:
		delete(c.pendSrc, obj.Key)
		return false, c.fn(Pair{Name: obj.Key, Src: s, Dst: obj})
	case !ok || c.src.done || key <= c.srcPos:
		// No key encodes to this name, or the source listing has passed
		// the one that would.
		return false, c.fn(Pair{Name: obj.Key, Dst: obj})
	default:
		c.pendDst[obj.Key] = obj
		heap.Push(&c.dstQueue, keyed{key: key, name: obj.Key})
		return false, nil
	}
}

// keyOf is the source key whose encoding is the marked blob name, and
// whether there is one.
func (c *comparer) keyOf(name string) (string, bool) {
	rel, ok := strings.CutPrefix(name, c.destPrefix)
	if !ok {
		return "", false
	}
	dec := naming.DecodeBlobName(rel)
	if enc, _ := naming.EncodeBlobName(dec); enc != rel {
		return "", false
	}
	return c.r.Prefix + dec, true
}

// resolveSrc reports the pending source names the destination listing has
// passed (all of them when it is done) as missing.
func (c *comparer) resolveSrc(all bool) error {
	for c.srcQueue.Len() > 0 && (all || c.srcQueue[0] <= c.dstPos) {
		name := heap.Pop(&c.srcQueue).(string)
		if s := c.pendSrc[name]; s != nil {
			delete(c.pendSrc, name)
			if err := c.fn(Pair{Name: name, Src: s}); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveDst reports the pending destination names whose key the source
// listing has passed (all of them when it is done) as extra.
func (c *comparer) resolveDst(all bool) error {
	for c.dstQueue.Len() > 0 && (all || c.dstQueue[0].key <= c.srcPos) {
		k := heap.Pop(&c.dstQueue).(keyed)
		if d := c.pendDst[k.name]; d != nil {
			delete(c.pendDst, k.name)
			if err := c.fn(Pair{Name: k.name, Dst: d}); err != nil {
				return err
			}
		}
	}
	return nil
}

// stringHeap is a min-heap of names.
type stringHeap []string

func (h stringHeap) Len() int           { return len(h) }
func (h stringHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h stringHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *stringHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *stringHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// keyed is a marked destination name and the source key it decodes to.
type keyed struct{ key, name string }

// keyHeap is a min-heap of keyed by key.
type keyHeap []keyed

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
