package local

import (
	"context"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/migrate-tool/migrate/providers"
)

// DefaultPageSize is the page size of a List whose MaxResults is 0.
const DefaultPageSize = 1000

const tokenPrefix = "l1:"

func encodeToken(lastKey string) string { return providers.KeyToken(tokenPrefix, lastKey) }

func decodeToken(tok string) (string, bool) { return providers.KeyFromToken(tokenPrefix, tok) }

// List returns one page of the regular files under root whose key starts
// with opts.Prefix (which may end mid-name), in ascending byte order of key,
// at most opts.MaxResults of them (0: DefaultPageSize). Page.Next is an
// opaque token naming the last key returned: the next page starts strictly
// after it, and it stays valid when the folder changes or the process
// restarts. Objects carry Key, Size and LastModified; ETag is empty.
//
// A missing root is NotFound, a root that is a file Invalid, an unreadable
// directory or symlink target Permission (naming it), a malformed token
// Invalid; ctx is checked before each directory is read. See the package
// comment for what a listing leaves out.
func (s *Source) List(ctx context.Context, root string, opts providers.ListOptions) (providers.Page, error) {
	const op = "List"
	if err := ctx.Err(); err != nil {
		return providers.Page{}, canceled(op, root, err)
	}
	if root == "" {
		return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Msg: "no root directory given"}
	}
	var after string
	if opts.Token != "" {
		k, ok := decodeToken(opts.Token)
		if !ok {
			return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: root, Msg: "malformed continuation token"}
		}
		after = k
	}
	rootFi, err := os.Stat(root)
	if err != nil {
		return providers.Page{}, fsError(op, root, err)
	}
	if !rootFi.IsDir() {
		return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: root, Msg: "not a directory"}
	}
	limit := opts.MaxResults
	if limit <= 0 {
		limit = DefaultPageSize
	}
	w := &walker{s: s, ctx: ctx, op: op, prefix: opts.Prefix, report: true, cached: opts.Token != ""}
	// Keys must be >= prefix, and > after when continuing.
	switch {
	case after == "" || after < opts.Prefix:
		w.bound, w.inclusive = opts.Prefix, true
	case strings.HasPrefix(after, opts.Prefix):
		w.bound = after
	default:
		return providers.Page{}, nil // after is past every key with the prefix
	}
	if err := w.enter(root, "", rootFi); err != nil {
		return providers.Page{}, err
	}
	var p providers.Page
	for len(p.Objects) < limit {
		key, path, ok, err := w.next()
		if err != nil {
			return providers.Page{}, err
		}
		if !ok {
			return p, nil
		}
		fi, err := os.Stat(path)
		switch {
		case err != nil && vanished(err):
			w.skipped(path, err)
			continue
		case err != nil:
			return providers.Page{}, fsError(op, path, err)
		case !fi.Mode().IsRegular():
			if !fi.IsDir() {
				w.skipped(path, ErrNotRegular)
			}
			continue // replaced since readdir
		}
		p.Objects = append(p.Objects, object(key, fi))
	}
	// The page is full: is there anything after it? A failure ahead is
	// for the next page to report, and so are the entries skipped on the
	// way, unless there is no next page.
	w.report, w.held = false, []skip{}
	if _, _, ok, err := w.next(); ok || err != nil {
		p.Next = encodeToken(p.Objects[len(p.Objects)-1].Key)
	} else {
		for _, sk := range w.held {
			w.s.o.Skipped(sk.path, sk.why)
		}
	}
	return p, nil
}

// walker walks the tree under a root depth first in key order, from the
// first key at or after a bound, up to the last key with a prefix.
type walker struct {
	s      *Source
	ctx    context.Context
	op     string
	prefix string
	// bound is the lowest key wanted: keys must be > bound, or >= it when
	// inclusive.
	bound     string
	inclusive bool
	// cached allows directories cached by an earlier page: a listing's
	// first page reads them afresh.
	cached bool
	report bool   // report skipped entries (false while peeking)
	held   []skip // skipped entries not reported while peeking
	stack  []frame
}

type skip struct {
	path string
	why  error
}

// frame is a directory being walked.
type frame struct {
	dir string      // its path
	key string      // the key prefix of its entries: "" or "a/b/"
	fi  fs.FileInfo // for the cycle guard
	l   *dirList
	i   int // next entry
}

// below reports whether key is before the bound.
func (w *walker) below(key string) bool {
	return key < w.bound || (!w.inclusive && key == w.bound)
}

// past reports whether key (a file's key or a directory's "a/b/") and so
// everything after it are beyond the keys with the prefix.
func (w *walker) past(key string) bool {
	return w.prefix != "" && key > w.prefix && !strings.HasPrefix(key, w.prefix)
}

// next returns the key and path of the next file entry of the walk, or
// ok false at its end.
func (w *walker) next() (key, path string, ok bool, err error) {
	for len(w.stack) > 0 {
		f := &w.stack[len(w.stack)-1]
		if f.i >= len(f.l.ents) {
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		e := f.l.ents[f.i]
		f.i++
		full := f.key + e.key
		if w.past(full) {
			w.stack = nil
			return "", "", false, nil
		}
		if e.kind == kindDir {
			// Entries start at the one that may hold the bound; the rest
			// are all after it.
			if full < w.bound && !strings.HasPrefix(w.bound, full) {
				continue
			}
			if err := w.enterDir(joinPath(f.dir, e.name()), full); err != nil {
				return "", "", false, err
			}
			continue
		}
		if w.below(full) || !strings.HasPrefix(full, w.prefix) {
			continue
		}
		path := joinPath(f.dir, e.name())
		switch e.kind {
		case kindSkip:
			w.skipped(path, f.l.why[e.key])
			continue
		case kindFail:
			return "", "", false, fsError(w.op, path, f.l.why[e.key])
		}
		return full, path, true, nil
	}
	return "", "", false, nil
}

// enterDir pushes directory path (key prefix key) unless it vanished or
// is a directory already on the walk's path.
func (w *walker) enterDir(path, key string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil && vanished(err):
		w.skipped(path, err)
		return nil
	case err != nil:
		return fsError(w.op, path, err)
	case !fi.IsDir():
		return nil // replaced by a file since readdir: not walked now
	}
	for _, f := range w.stack {
		if os.SameFile(f.fi, fi) {
			w.skipped(path, ErrSymlinkCycle)
			return nil
		}
	}
	return w.enter(path, key, fi)
}

// enter pushes directory path, whose stat is fi, starting at the first
// entry that may hold a key at or after the bound.
func (w *walker) enter(path, key string, fi fs.FileInfo) error {
	if err := w.ctx.Err(); err != nil {
		return canceled(w.op, path, err)
	}
	l, err := w.entries(path, fi)
	if err != nil {
		if vanished(err) && len(w.stack) > 0 {
			w.skipped(path, err)
			return nil
		}
		return fsError(w.op, path, err)
	}
	start := 0
	if rest, ok := strings.CutPrefix(w.bound, key); ok {
		start = sort.Search(len(l.ents), func(i int) bool { return l.ents[i].key >= rest })
		// The directory whose keys begin with the bound sorts just before.
		if start > 0 && l.ents[start-1].kind == kindDir && strings.HasPrefix(rest, l.ents[start-1].key) {
			start--
		}
	}
	w.stack = append(w.stack, frame{dir: path, key: key, fi: fi, l: l, i: start})
	return nil
}

// entries returns directory path's sorted entries, from the cache when
// allowed and fi says it is still valid.
func (w *walker) entries(path string, fi fs.FileInfo) (*dirList, error) {
	if w.cached {
		if l := w.s.cache.get(path, fi); l != nil {
			return l, nil
		}
	}
	l, err := w.s.readDir(path)
	if err != nil {
		return nil, err
	}
	w.s.cache.put(path, fi, l)
	return l, nil
}

func (w *walker) skipped(path string, why error) {
	switch {
	case w.s.o.Skipped == nil:
	case w.report:
		w.s.o.Skipped(path, why)
	default:
		w.held = append(w.held, skip{path, why})
	}
}
