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
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/providertest"
)

func TestContentType(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"index.html", "text/html"},
		{"a/b/page.htm", "text/html"},
		{"style.css", "text/css"},
		{"app.js", "text/javascript"},
		{"mod.mjs", "text/javascript"},
		{"data.json", "application/json"},
		{"notes.txt", "text/plain"},
		{"table.csv", "text/csv"},
		{"feed.xml", "application/xml"},
		{"logo.svg", "image/svg+xml"},
		{"pic.png", "image/png"},
		{"pic.jpg", "image/jpeg"},
		{"pic.JPEG", "image/jpeg"},
		{"anim.gif", "image/gif"},
		{"pic.webp", "image/webp"},
		{"favicon.ico", "image/vnd.microsoft.icon"},
		{"doc.pdf", "application/pdf"},
		{"bundle.zip", "application/zip"},
		{"backup.tar.gz", "application/gzip"},
		{"backup.tgz", "application/gzip"},
		{"backup.tar", "application/x-tar"},
		{"song.mp3", "audio/mpeg"},
		{"clip.mp4", "video/mp4"},
		{"clip.webm", "video/webm"},
		{"mod.wasm", "application/wasm"},
		{"README.md", "text/markdown"},
		{"conf.yaml", "application/yaml"},
		{"conf.yml", "application/yaml"},
		{"part-0001.parquet", "application/vnd.apache.parquet"},
		{"events.avro", "application/avro"},
		{"font.woff2", "font/woff2"},
		{"report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"Makefile", ""},
		{"dir.d/noext", ""},
		{"trailing.", ""},
		{"weird.zz-unknown-ext", ""},
	} {
		if got := ContentType(c.key); got != c.want {
			t.Errorf("ContentType(%q) = %q, want %q", c.key, got, c.want)
		}
	}
	// Extensions outside the table fall back to mime.TypeByExtension,
	// whose answer depends on the machine: only check the table wins.
	if got := ContentType("x.XML"); got != "application/xml" {
		t.Errorf("ContentType(x.XML) = %q: the machine's table overrode the fixed one", got)
	}
}

func TestStat(t *testing.T) {
	root := build(t, "index.html", "dir/data.parquet", "noext", "dir/sub/")
	put(t, root, "empty.txt", "")
	for _, c := range []struct {
		name  string
		opts  Options
		key   string
		size  int64
		ctype string
		kind  providers.Kind // 0: no error
	}{
		{"html", Options{}, "index.html", int64(len("index.html")), "text/html", 0},
		{"parquet", Options{}, "dir/data.parquet", int64(len("dir/data.parquet")), "application/vnd.apache.parquet", 0},
		{"no extension", Options{}, "noext", 5, "", 0},
		{"empty", Options{}, "empty.txt", 0, "text/plain", 0},
		{"no guess", Options{NoGuessContentType: true}, "index.html", int64(len("index.html")), "", 0},
		{"missing", Options{}, "absent.html", 0, "", providers.KindNotFound},
		{"a key's prefix", Options{}, "index.htm", 0, "", providers.KindNotFound},
		{"directory", Options{}, "dir", 0, "", providers.KindNotFound},
		{"nested directory", Options{}, "dir/sub", 0, "", providers.KindNotFound},
		{"through a file", Options{}, "noext/x", 0, "", providers.KindNotFound},
		{"empty key", Options{}, "", 0, "", providers.KindInvalid},
		{"double slash", Options{}, "dir//data.parquet", 0, "", providers.KindInvalid},
		{"dot segment", Options{}, "./noext", 0, "", providers.KindInvalid},
		{"escapes the root", Options{}, "../noext", 0, "", providers.KindInvalid},
		{"absolute", Options{}, "/etc/passwd", 0, "", providers.KindInvalid},
		{"trailing slash", Options{}, "dir/", 0, "", providers.KindInvalid},
		{"NUL", Options{}, "a\x00b", 0, "", providers.KindInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := time.Now().Add(-time.Minute)
			info, err := New(c.opts).Stat(t.Context(), root, c.key)
			if c.kind != 0 {
				checkKind(t, "Stat "+c.key, err, c.kind)
				if err != nil && c.key != "" && !strings.Contains(err.Error(), root) {
					t.Errorf("%v does not name the path", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Key != c.key || info.Size != c.size || info.ContentType != c.ctype {
				t.Errorf("Stat = key %q size %d type %q, want %q %d %q", info.Key, info.Size, info.ContentType, c.key, c.size, c.ctype)
			}
			if info.LastModified.Before(before) || info.ETag != "" || info.TagCount != 0 || info.Metadata != nil {
				t.Errorf("Stat = %+v, want a recent time, no ETag, tags or metadata", info)
			}
		})
	}
	t.Run("missing root", func(t *testing.T) {
		_, err := New(Options{}).Stat(t.Context(), filepath.Join(root, "nope"), "index.html")
		checkKind(t, "Stat in a missing root", err, providers.KindNotFound)
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := New(Options{}).Stat(ctx, root, "index.html")
		checkKind(t, "Stat with a canceled ctx", err, providers.KindCanceled)
	})
	t.Run("unreadable file still stats", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(root, "noext"), 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(filepath.Join(root, "noext"), 0o644)
		if _, err := New(Options{}).Stat(t.Context(), root, "noext"); err != nil {
			t.Errorf("Stat of a file without read permission: %v", err)
		}
		if os.Geteuid() == 0 {
			return // root reads it anyway
		}
		_, err := New(Options{}).OpenRange(t.Context(), root, providers.Object{Key: "noext"}, providers.Range{})
		checkKind(t, "OpenRange of an unreadable file", err, providers.KindPermission)
	})
}

func TestOpenRange(t *testing.T) {
	data := providertest.Data(10000, 3)
	root := t.TempDir()
	put(t, root, "f.bin", string(data))
	put(t, root, "empty", "")
	put(t, root, "d/", "")
	s := New(Options{})
	n := int64(len(data))
	obj := providers.Object{Key: "f.bin", Size: n}
	for _, c := range []struct {
		name string
		obj  providers.Object
		r    providers.Range
		want []byte
		kind providers.Kind
	}{
		{"whole", obj, providers.Range{}, data, 0},
		{"whole, size unknown", providers.Object{Key: "f.bin"}, providers.Range{}, data, 0},
		{"first byte", obj, rng(0, 1), data[:1], 0},
		{"middle", obj, rng(4096, 1000), data[4096:5096], 0},
		{"last byte", obj, rng(n-1, 1), data[n-1:], 0},
		{"all as a range", obj, rng(0, n), data, 0},
		{"empty file", providers.Object{Key: "empty"}, providers.Range{}, nil, 0},
		{"past the end", obj, rng(n-1, 2), nil, providers.KindInvalid},
		{"starts past the end", obj, rng(n, 1), nil, providers.KindInvalid},
		{"negative offset", obj, rng(-1, 1), nil, providers.KindInvalid},
		{"negative count", obj, rng(0, -1), nil, providers.KindInvalid},
		{"empty range not at 0", obj, rng(5, 0), nil, providers.KindInvalid},
		{"listed bigger", providers.Object{Key: "f.bin", Size: n + 1}, rng(0, 1), nil, providers.KindPrecondition},
		{"listed smaller", providers.Object{Key: "f.bin", Size: n - 1}, providers.Range{}, nil, providers.KindPrecondition},
		{"missing", providers.Object{Key: "nope"}, providers.Range{}, nil, providers.KindNotFound},
		{"directory", providers.Object{Key: "d"}, providers.Range{}, nil, providers.KindNotFound},
		{"invalid key", providers.Object{Key: "../f.bin"}, providers.Range{}, nil, providers.KindInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc, err := s.OpenRange(t.Context(), root, c.obj, c.r)
			if c.kind != 0 {
				checkKind(t, "OpenRange", err, c.kind)
				if rc != nil {
					rc.Close()
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(c.want) {
				t.Errorf("read %d bytes, want %d (or different content)", len(got), len(c.want))
			}
		})
	}
	t.Run("file shrinks while read", func(t *testing.T) {
		p := filepath.Join(root, "shrinks")
		put(t, root, "shrinks", string(data))
		rc, err := s.OpenRange(t.Context(), root, providers.Object{Key: "shrinks", Size: n}, rng(1000, 5000))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if err := os.Truncate(p, 3000); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		checkKind(t, "reading a file that shrank", err, providers.KindPrecondition)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 2000 {
			t.Errorf("read %d bytes, %v; want 2000 and io.ErrUnexpectedEOF", len(got), err)
		}
	})
	t.Run("file grows while read", func(t *testing.T) {
		put(t, root, "grows", string(data))
		rc, err := s.OpenRange(t.Context(), root, providers.Object{Key: "grows", Size: n}, providers.Range{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		f, err := os.OpenFile(filepath.Join(root, "grows"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("more")
		f.Close()
		got, err := io.ReadAll(rc)
		if err != nil || int64(len(got)) != n {
			t.Errorf("read %d bytes, %v; want the %d listed", len(got), err, n)
		}
	})
	t.Run("canceled while reading", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		rc, err := s.OpenRange(ctx, root, obj, providers.Range{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		buf := make([]byte, 100)
		if _, err := rc.Read(buf); err != nil {
			t.Fatal(err)
		}
		cancel()
		_, err = rc.Read(buf)
		checkKind(t, "Read after cancel", err, providers.KindCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v does not match context.Canceled", err)
		}
	})
}

func rng(off, n int64) providers.Range { return providers.Range{Offset: off, Count: n} }

func TestDeleteObject(t *testing.T) {
	for _, c := range []struct {
		name string
		key  string
		// obj returns the object to delete given the file's listing.
		obj     func(listed providers.Object) providers.Object
		kind    providers.Kind
		removed bool
	}{
		{"as listed", "d/f", func(o providers.Object) providers.Object { return o }, 0, true},
		{"key only", "d/f", func(o providers.Object) providers.Object { return providers.Object{Key: o.Key} }, 0, true},
		{"size changed", "d/f", func(o providers.Object) providers.Object { o.Size++; return o }, providers.KindPrecondition, false},
		{"touched", "d/f", func(o providers.Object) providers.Object {
			o.LastModified = o.LastModified.Add(-time.Second)
			return o
		}, providers.KindPrecondition, false},
		{"missing", "d/nope", func(o providers.Object) providers.Object { return providers.Object{Key: "d/nope"} }, providers.KindNotFound, false},
		{"directory", "d", func(o providers.Object) providers.Object { return providers.Object{Key: "d"} }, providers.KindNotFound, false},
		{"empty directory", "d/empty", func(o providers.Object) providers.Object { return providers.Object{Key: "d/empty"} }, providers.KindNotFound, false},
		{"invalid key", "d/../d/f", func(o providers.Object) providers.Object { return providers.Object{Key: "d/../d/f"} }, providers.KindInvalid, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := build(t, "d/f", "d/empty/", "other")
			s := New(Options{})
			objs := listAll(t, s, root, "d/f", 0)
			if len(objs) != 1 {
				t.Fatalf("listed %q", keysOf(objs))
			}
			err := s.DeleteObject(t.Context(), root, c.obj(objs[0]))
			if c.kind != 0 {
				checkKind(t, "DeleteObject", err, c.kind)
			} else if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(root, "d", "f"))
			if gone := errors.Is(statErr, fs.ErrNotExist); gone != c.removed {
				t.Errorf("d/f removed: %v, want %v", gone, c.removed)
			}
			// Directories stay, even emptied; so does everything else.
			for _, p := range []string{"d", "d/empty", "other"} {
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
			if c.removed {
				err := s.DeleteObject(t.Context(), root, c.obj(objs[0]))
				checkKind(t, "DeleteObject again", err, providers.KindNotFound)
			}
		})
	}
	t.Run("canceled", func(t *testing.T) {
		root := build(t, "f")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := New(Options{}).DeleteObject(ctx, root, providers.Object{Key: "f"})
		checkKind(t, "DeleteObject with a canceled ctx", err, providers.KindCanceled)
		if _, err := os.Stat(filepath.Join(root, "f")); err != nil {
			t.Errorf("the file was removed: %v", err)
		}
	})
}

func TestErrorText(t *testing.T) {
	root := t.TempDir()
	_, err := New(Options{}).Stat(t.Context(), root, "a b/c")
	want := fmt.Sprintf("Stat %s: not found", filepath.Join(root, "a b", "c"))
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}
