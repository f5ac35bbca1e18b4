// Package local is a folder on a local (or mounted) file system as a
// providers.Source: 'migrate copy ./dir s3://bucket/prefix' and its
// siblings read from it. The bucket argument of every method is the root
// directory as the user gave it, and a key is the slash-separated path of a
// regular file relative to that root, exactly the bytes of its names (no
// Unicode normalisation: the pipeline decides what a destination can hold).
//
// Decisions, and why:
//   - Listing is in ascending byte order of the full key, as S3 and Azure
//     list, not in the order of a naive walk: each directory's entries are
//     sorted with a directory compared as name+"/" ("a-c" < "a/b"). A page
//     token is the last key returned, so tokens are stateless and may be
//     journaled; a page descends from the root along the token, skipping
//     every subtree before it or outside the prefix, and reuses the sorted
//     entries of recently read directories (see Options.DirCacheEntries),
//     so a flat folder of a million files is read once per listing.
//   - Symlinks are followed, as the AWS CLI does by default: a link to a
//     regular file is an object with the target's size and time; a link to
//     a directory is listed as a directory, except one that leads back to a
//     directory on the current path (same device and inode), which is not
//     entered again, so loops terminate. A directory reached through two
//     links is listed under both names.
//   - Only what no longer exists is left out of a listing: a file that
//     vanishes between readdir and stat, a dangling symlink, and entries
//     that are neither regular files nor directories (FIFOs, sockets,
//     devices), each reported to Options.Skipped. Anything that cannot be
//     looked at (an unreadable directory, a symlink whose target is out of
//     reach) fails the listing with KindPermission naming the path, so a
//     permission problem is never mistaken for an absent file. Unreadable
//     files are listed (stat needs no read permission): each then fails on
//     its own in OpenRange with KindPermission.
//   - Empty directories are not objects; zero-byte files are. ETag is empty
//     (it is not known without reading the file); TagCount is 0.
//   - A file that changed since it was listed is KindPrecondition: OpenRange
//     compares its size with the listed one (modification times are not
//     compared there: a plan or journal may carry none, or a rounded one),
//     and DeleteObject, given a listed object, its size and modification
//     time, so a move never deletes a file rewritten after it was listed.
//   - Stat, OpenRange and DeleteObject resolve a key as the OS does,
//     following symlinks on the way; the listing's cycle guard is not
//     applied to them.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/migrate-tool/migrate/providers"
)

var (
	_ providers.Source        = (*Source)(nil)
	_ providers.RangeReader   = (*Source)(nil)
	_ providers.SourceDeleter = (*Source)(nil)
)

// Reasons passed to Options.Skipped besides the file system's own errors
// (a vanished file or a dangling symlink gives an error matching
// fs.ErrNotExist).
var (
	// ErrSymlinkCycle: a directory symlink leads back to a directory that
	// is being listed (an ancestor of the link); it is not entered again.
	ErrSymlinkCycle = errors.New("symlink leads back to a directory being listed")
	// ErrNotRegular: a FIFO, socket, device or other special file.
	ErrNotRegular = errors.New("not a regular file or directory")
)

// DefaultDirCacheEntries is the default of Options.DirCacheEntries.
const DefaultDirCacheEntries = 1 << 20

// Options configure a Source. The zero value is ready to use.
type Options struct {
	// NoGuessContentType leaves Stat's ContentType empty instead of
	// guessing it from the key's extension (AWS CLI's --no-guess-mime-type),
	// so the destination's default applies.
	NoGuessContentType bool
	// DirCacheEntries bounds how many directory entries, summed over the
	// directories kept, List keeps sorted in memory between pages (each
	// costs about 24 bytes plus its name); least recently used directories
	// go first. The directory read last is kept whatever its size, so a
	// flat folder is read once per listing, not once per page: memory is
	// bounded by the larger of this and the largest directory listed.
	// 0 means DefaultDirCacheEntries (some 50 MB with 20-byte names).
	DirCacheEntries int
	// Skipped, if set, is told about every entry a listing leaves out for
	// a reason other than being a directory or outside the page: path is
	// the file system path, reason ErrSymlinkCycle, ErrNotRegular or the
	// error (matching fs.ErrNotExist) of a vanished file or dangling link.
	// Each entry is reported once per listing, when the listing passes it
	// (again if a failed page is asked for again). It is called from List,
	// and so must be safe for concurrent use when List is called
	// concurrently.
	Skipped func(path string, reason error)
}

// Source lists and reads the regular files under root directories. It is
// safe for concurrent use.
type Source struct {
	o     Options
	cache *dirCache
	// readDir reads a directory's entries, sorted; a field so tests can
	// count reads and inject failures.
	readDir func(path string) (*dirList, error)
}

// New returns a Source with options o.
func New(o Options) *Source {
	if o.DirCacheEntries <= 0 {
		o.DirCacheEntries = DefaultDirCacheEntries
	}
	return &Source{o: o, cache: newDirCache(o.DirCacheEntries), readDir: readDir}
}

// Stat returns the size and modification time of the regular file key
// under root (a symlink is followed) and, unless Options.NoGuessContentType,
// a content type guessed from the key's extension ("" when unknown).
// A missing file, or a key naming a directory or a special file, is
// NotFound; a key that cannot name a file under root ("", "a//b", "../x",
// a trailing '/') is Invalid. TagCount is 0: a file has no tags.
func (s *Source) Stat(ctx context.Context, root, key string) (providers.ObjectInfo, error) {
	const op = "Stat"
	path, err := s.begin(ctx, op, root, key)
	if err != nil {
		return providers.ObjectInfo{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return providers.ObjectInfo{}, fsError(op, path, err)
	}
	if !fi.Mode().IsRegular() {
		return providers.ObjectInfo{}, notRegular(op, path, fi)
	}
	info := providers.ObjectInfo{Object: object(key, fi)}
	if !s.o.NoGuessContentType {
		info.ContentType = ContentType(key)
	}
	return info, nil
}

// OpenRange returns a reader of r's bytes of the file obj.Key under root,
// the whole file for a zero Range. When obj.Size is set (non-zero) and the
// file's size now differs, the file changed since it was listed:
// KindPrecondition. A range past the end of the file is Invalid. A file
// that shrinks while it is read fails the read with KindPrecondition
// (wrapping io.ErrUnexpectedEOF) rather than returning fewer bytes; the
// reader never returns more than the range, even if the file grows. Reads
// honour ctx.
func (s *Source) OpenRange(ctx context.Context, root string, obj providers.Object, r providers.Range) (io.ReadCloser, error) {
	const op = "OpenRange"
	path, err := s.begin(ctx, op, root, obj.Key)
	if err != nil {
		return nil, err
	}
	if r.Offset < 0 || r.Count < 0 || (r.Count == 0 && r.Offset != 0) {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: path,
			Msg: fmt.Sprintf("invalid range %d+%d", r.Offset, r.Count)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fsError(op, path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fsError(op, path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(op, path, fi)
	}
	size := fi.Size()
	if obj.Size != 0 && size != obj.Size {
		f.Close()
		return nil, &providers.Error{Kind: providers.KindPrecondition, Op: op, Where: path,
			Msg: fmt.Sprintf("the file has %d bytes, listed %d: it changed since it was listed", size, obj.Size)}
	}
	if r == (providers.Range{}) {
		r.Count = size
	} else if r.Offset+r.Count > size || r.Offset+r.Count < 0 {
		f.Close()
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: path,
			Msg: fmt.Sprintf("range %d+%d outside the file's %d bytes", r.Offset, r.Count, size)}
	}
	return &rangeReader{ctx: ctx, f: f, sr: io.NewSectionReader(f, r.Offset, r.Count), left: r.Count, where: path}, nil
}

// rangeReader reads a section of a file, failing instead of returning
// fewer bytes when the file shrinks under it.
type rangeReader struct {
	ctx   context.Context
	f     *os.File
	sr    *io.SectionReader
	left  int64
	where string
}

func (r *rangeReader) Read(p []byte) (int, error) {
	const op = "Read"
	if err := r.ctx.Err(); err != nil {
		return 0, canceled(op, r.where, err)
	}
	if r.left <= 0 {
		return 0, io.EOF
	}
	n, err := r.sr.Read(p)
	r.left -= int64(n)
	switch {
	case err == io.EOF && r.left > 0:
		return n, &providers.Error{Kind: providers.KindPrecondition, Op: op, Where: r.where,
			Msg: fmt.Sprintf("the file ended %d bytes early: it changed while being read", r.left), Err: io.ErrUnexpectedEOF}
	case err != nil && err != io.EOF:
		return n, fsError(op, r.where, err)
	}
	return n, err
}

func (r *rangeReader) Close() error { return r.f.Close() }

// DeleteObject removes the file obj.Key under root (a symlink itself, not
// its target); directories, even emptied ones, are left in place, as 'aws
// s3 mv' leaves them. A missing file, a directory or a special file is
// NotFound. When obj carries a listing's LastModified, a file whose size or
// modification time differs from obj's changed since it was listed and is
// kept: KindPrecondition.
func (s *Source) DeleteObject(ctx context.Context, root string, obj providers.Object) error {
	const op = "DeleteObject"
	path, err := s.begin(ctx, op, root, obj.Key)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fsError(op, path, err)
	}
	if !fi.Mode().IsRegular() {
		return notRegular(op, path, fi)
	}
	if !obj.LastModified.IsZero() && (fi.Size() != obj.Size || !fi.ModTime().Equal(obj.LastModified)) {
		return &providers.Error{Kind: providers.KindPrecondition, Op: op, Where: path,
			Msg: fmt.Sprintf("the file has %d bytes modified %v, listed %d bytes modified %v: it changed since it was listed and is kept",
				fi.Size(), fi.ModTime(), obj.Size, obj.LastModified)}
	}
	if err := removeFile(path); err != nil {
		return fsError(op, path, err)
	}
	return nil
}

// begin checks ctx and the root and key of a one-object call and returns
// the file's path.
func (s *Source) begin(ctx context.Context, op, root, key string) (string, error) {
	path := joinKey(root, key)
	if err := ctx.Err(); err != nil {
		return "", canceled(op, path, err)
	}
	if root == "" {
		return "", &providers.Error{Kind: providers.KindInvalid, Op: op, Where: key, Msg: "no root directory given"}
	}
	if !validKey(key) {
		return "", &providers.Error{Kind: providers.KindInvalid, Op: op, Where: path,
			Msg: fmt.Sprintf("key %q cannot name a file under the root", key)}
	}
	return path, nil
}

// validKey reports whether key is a relative slash-separated path with no
// empty, "." or ".." element: the only keys a listing gives.
func validKey(key string) bool {
	if key == "" || strings.IndexByte(key, 0) >= 0 {
		return false
	}
	if filepath.Separator != '/' && strings.ContainsRune(key, filepath.Separator) {
		return false
	}
	for el := range strings.SplitSeq(key, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// joinKey returns the path of key under root. root is kept as given, not
// cleaned: cleaning "link/.." is not what the OS resolves.
func joinKey(root, key string) string {
	if key == "" {
		return root
	}
	return joinPath(root, filepath.FromSlash(key))
}

// joinPath appends name to dir with one separator.
func joinPath(dir, name string) string {
	if dir == "" || os.IsPathSeparator(dir[len(dir)-1]) {
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}

func object(key string, fi fs.FileInfo) providers.Object {
	return providers.Object{Key: key, Size: fi.Size(), LastModified: fi.ModTime()}
}

func notRegular(op, path string, fi fs.FileInfo) error {
	what := "a directory"
	if !fi.IsDir() {
		what = "not a regular file (" + fi.Mode().Type().String() + ")"
	}
	return &providers.Error{Kind: providers.KindNotFound, Op: op, Where: path, Msg: "no such file: " + what}
}

func canceled(op, where string, err error) error {
	return &providers.Error{Kind: providers.KindCanceled, Op: op, Where: where, Err: err}
}

// fsError classifies a file system error.
func fsError(op, where string, err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return err
	}
	k := providers.KindUnknown
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		k = providers.KindCanceled
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP):
		k = providers.KindNotFound // ELOOP: a symlink loop names no file
	case errors.Is(err, fs.ErrPermission):
		k = providers.KindPermission
	case errors.Is(err, syscall.ENAMETOOLONG):
		k = providers.KindInvalid
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EINTR),
		errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.ESTALE):
		k = providers.KindTransient // out of descriptors, interrupted, stale NFS handle
	}
	return &providers.Error{Kind: k, Op: op, Where: where, Err: err}
}

// vanished reports whether err says a path that was there a moment ago is
// gone (or a directory on its way was replaced by a file).
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// dangling reports whether err, from following a symlink, says it leads
// nowhere: to nothing, through a file, or round a loop of links.
func dangling(err error) bool {
	return vanished(err) || errors.Is(err, syscall.ELOOP)
}
