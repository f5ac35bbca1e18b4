//go:build unix

package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestListSymlinks(t *testing.T) {
	for _, c := range []struct {
		name  string
		keys  []string
		links map[string]string // link key -> target, as written
		want  []string
		// skipped are the reports Options.Skipped must get, by key.
		skipped map[string]error
	}{
		{
			name:  "to a file",
			keys:  []string{"d/real.txt"},
			links: map[string]string{"alias.txt": "d/real.txt", "d/sibling": "real.txt"},
			want:  []string{"alias.txt", "d/real.txt", "d/sibling"},
		},
		{
			name:  "to a directory",
			keys:  []string{"data/a", "data/sub/b", "z/"},
			links: map[string]string{"data-link": "data", "z/inner": "../data/sub"},
			// Listed as a directory: "data-link/" sorts after "data/" and
			// before "z/".
			want: []string{"data-link/a", "data-link/sub/b", "data/a", "data/sub/b", "z/inner/b"},
		},
		{
			name:    "loop to the root and to a parent",
			keys:    []string{"a/f", "g"},
			links:   map[string]string{"self": ".", "a/up": "..", "a/here": "."},
			want:    []string{"a/f", "g"},
			skipped: map[string]error{"self": ErrSymlinkCycle, "a/up": ErrSymlinkCycle, "a/here": ErrSymlinkCycle},
		},
		{
			// b/to-a leads into a, not an ancestor of b: followed once;
			// inside it a/to-b leads to b, which is on the path: stop.
			name:    "mutual directory links",
			keys:    []string{"a/x", "b/y"},
			links:   map[string]string{"a/to-b": "../b", "b/to-a": "../a"},
			want:    []string{"a/to-b/y", "a/x", "b/to-a/x", "b/y"},
			skipped: map[string]error{"a/to-b/to-a": ErrSymlinkCycle, "b/to-a/to-b": ErrSymlinkCycle},
		},
		{
			name:    "dangling and looping links",
			keys:    []string{"ok"},
			links:   map[string]string{"gone": "nowhere", "ring1": "ring2", "ring2": "ring1", "through-file": "ok/x"},
			want:    []string{"ok"},
			skipped: map[string]error{"gone": fs.ErrNotExist, "ring1": syscall.ELOOP, "ring2": syscall.ELOOP, "through-file": syscall.ENOTDIR},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := build(t, c.keys...)
			for link, target := range c.links {
				symlink(t, target, filepath.Join(root, filepath.FromSlash(link)))
			}
			for _, max := range []int{1, 2, 0} {
				var sk skips
				s := New(Options{Skipped: sk.hook(root)})
				checkKeys(t, "List", keysOf(listAll(t, s, root, "", max)), c.want)
				if sk.n != len(c.skipped) {
					t.Errorf("max %d: %d reports %v, want %d", max, sk.n, sk.got, len(c.skipped))
				}
				for k, want := range c.skipped {
					if !errors.Is(sk.got[k], want) {
						t.Errorf("max %d: %s reported as %v, want %v", max, k, sk.got[k], want)
					}
				}
			}
			// Stat and OpenRange follow links to files.
			s := New(Options{})
			for _, k := range c.want {
				info, err := s.Stat(t.Context(), root, k)
				if err != nil || info.Size == 0 {
					t.Errorf("Stat %q = size %d, %v", k, info.Size, err)
				}
			}
		})
	}
}

func TestListSpecialFiles(t *testing.T) {
	root := build(t, "a", "z")
	fifo := filepath.Join(root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	symlink(t, "fifo", filepath.Join(root, "fifo-link"))
	var sk skips
	s := New(Options{Skipped: sk.hook(root)})
	checkKeys(t, "List", keysOf(listAll(t, s, root, "", 0)), []string{"a", "z"})
	for _, k := range []string{"fifo", "fifo-link"} {
		if !errors.Is(sk.got[k], ErrNotRegular) {
			t.Errorf("%s reported as %v, want ErrNotRegular", k, sk.got[k])
		}
	}
	_, err := s.Stat(t.Context(), root, "fifo")
	checkKind(t, "Stat of a FIFO", err, providers.KindNotFound)
}

func TestListUnreachableLinkTarget(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions are not enforced")
	}
	root := build(t, "a")
	outside := t.TempDir()
	put(t, outside, "locked/f", "x")
	symlink(t, filepath.Join(outside, "locked", "f"), filepath.Join(root, "b"))
	if err := os.Chmod(filepath.Join(outside, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(outside, "locked"), 0o755) })
	_, err := listAllErr(t.Context(), New(Options{}), root, "", 0)
	checkKind(t, "List with a link into a locked directory", err, providers.KindPermission)
}

func TestDeleteSymlink(t *testing.T) {
	root := build(t, "real", "dir/f")
	symlink(t, "real", filepath.Join(root, "link"))
	symlink(t, "dir", filepath.Join(root, "dirlink"))
	s := New(Options{})
	// A link to a directory is not an object; the link stays.
	err := s.DeleteObject(t.Context(), root, providers.Object{Key: "dirlink"})
	checkKind(t, "DeleteObject of a directory link", err, providers.KindNotFound)
	if _, err := os.Lstat(filepath.Join(root, "dirlink")); err != nil {
		t.Errorf("the directory link was removed: %v", err)
	}
	// A link to a file: the link goes, the target stays.
	if err := s.DeleteObject(t.Context(), root, providers.Object{Key: "link"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "link")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "real")); err != nil {
		t.Errorf("the link's target was removed: %v", err)
	}
}
