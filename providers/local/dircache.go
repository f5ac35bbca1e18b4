package local

import (
	"container/list"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
)

// entryKind says what a directory entry is, symlinks resolved.
type entryKind uint8

const (
	kindFile entryKind = iota // a regular file, or a symlink to one
	kindDir                   // a directory, or a symlink to one
	kindSkip                  // left out and reported: see dirList.why
	kindFail                  // fails the listing when reached: see dirList.why
)

// entry is one directory entry. key is the name, with a '/' appended for
// a directory: sorting by key sorts by the full keys the entry stands for.
type entry struct {
	key  string
	kind entryKind
}

func (e entry) name() string { return strings.TrimSuffix(e.key, "/") }

// dirList is one directory's entries in ascending byte order of key. It is
// never modified once built, so listings share it.
type dirList struct {
	ents []entry
	why  map[string]error // by key, for kindSkip and kindFail entries
}

// readDir reads the entries of directory dir, resolving symlinks, and
// sorts them.
func readDir(dir string) (*dirList, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l := &dirList{}
	note := func(name string, k entryKind, why error) {
		l.ents = append(l.ents, entry{key: name, kind: k})
		if l.why == nil {
			l.why = map[string]error{}
		}
		l.why[name] = why
	}
	for {
		// In batches, without os.ReadDir's sort: the DirEntry values are
		// dropped batch by batch and only the compact entries stay.
		des, err := f.ReadDir(4096)
		for _, de := range des {
			name := de.Name()
			t := de.Type()
			switch {
			case t.IsRegular():
				l.ents = append(l.ents, entry{key: name, kind: kindFile})
			case t.IsDir():
				l.ents = append(l.ents, entry{key: name + "/", kind: kindDir})
			case t&fs.ModeSymlink != 0:
				fi, err := os.Stat(joinPath(dir, name))
				switch {
				case err == nil && fi.Mode().IsRegular():
					l.ents = append(l.ents, entry{key: name, kind: kindFile})
				case err == nil && fi.IsDir():
					l.ents = append(l.ents, entry{key: name + "/", kind: kindDir})
				case err == nil:
					note(name, kindSkip, ErrNotRegular)
				case dangling(err):
					note(name, kindSkip, err)
				default:
					note(name, kindFail, err)
				}
			default:
				note(name, kindSkip, ErrNotRegular)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(l.ents, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return l, nil
}

// dirCache keeps the sorted entries of recently read directories, at most
// budget entries in all except that the last one put is always kept.
// An entry is valid while its directory is the same (device and inode)
// with the same modification time and size: any create, delete or rename
// in a directory changes its modification time.
type dirCache struct {
	mu     sync.Mutex
	budget int
	total  int
	lru    list.List // of *cachedDir, most recent first
	byPath map[string]*list.Element
}

type cachedDir struct {
	path string
	fi   fs.FileInfo // of the directory, taken before reading it
	l    *dirList
}

func newDirCache(budget int) *dirCache {
	return &dirCache{budget: budget, byPath: map[string]*list.Element{}}
}

// get returns the cached entries of path if fi (a fresh stat of it) says
// the directory has not changed since they were read.
func (c *dirCache) get(path string, fi fs.FileInfo) *dirList {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.byPath[path]
	if el == nil {
		return nil
	}
	cd := el.Value.(*cachedDir)
	if !os.SameFile(cd.fi, fi) || !cd.fi.ModTime().Equal(fi.ModTime()) || cd.fi.Size() != fi.Size() {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	return cd.l
}

// put caches l as path's entries, read after fi was taken.
func (c *dirCache) put(path string, fi fs.FileInfo, l *dirList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.byPath[path]; el != nil {
		c.remove(el)
	}
	c.byPath[path] = c.lru.PushFront(&cachedDir{path: path, fi: fi, l: l})
	c.total += len(l.ents)
	for c.total > c.budget && c.lru.Len() > 1 {
		c.remove(c.lru.Back())
	}
}

func (c *dirCache) remove(el *list.Element) {
	cd := c.lru.Remove(el).(*cachedDir)
	delete(c.byPath, cd.path)
	c.total -= len(cd.l.ents)
}
