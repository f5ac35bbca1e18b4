package azure

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"testing"

	"github.com/migrate-tool/migrate/providers"
)

// TestReadBackAndDelete: ListBlobs gives the Content-MD5 a blob has,
// OpenRange reads a blob back (whole, a range, conditional on the listed
// ETag) and DeleteBlob removes it, with classified errors.
func TestReadBackAndDelete(t *testing.T) {
	r := newRig(t)
	c := r.container(t)
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	sum := md5.Sum(data)
	commit := func(name string, props providers.Properties) {
		t.Helper()
		if err := r.dst.StageBlock(ctx, c, name, "b0", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if err := r.dst.CommitBlocks(ctx, c, name, []providers.BlockID{"b0"}, props); err != nil {
			t.Fatal(err)
		}
	}
	commit("with-md5", providers.Properties{ContentMD5: sum[:]})
	commit("without-md5", providers.Properties{})

	page, err := r.dst.ListBlobs(ctx, c, providers.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 2 || !bytes.Equal(page.Objects[0].ListedMD5, sum[:]) || page.Objects[1].ListedMD5 != nil {
		t.Fatalf("ListBlobs: %+v", page.Objects)
	}
	obj := page.Objects[0]

	read := func(o providers.Object, rg providers.Range) ([]byte, error) {
		rc, err := r.dst.OpenRange(ctx, c, o, rg)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if got, err := read(obj, providers.Range{}); err != nil || !bytes.Equal(got, data) {
		t.Errorf("whole blob: %d bytes, %v", len(got), err)
	}
	if got, err := read(obj, providers.Range{Offset: 5, Count: 7}); err != nil || string(got) != "5678901" {
		t.Errorf("range: %q, %v", got, err)
	}
	if _, err := read(providers.Object{Key: "nope"}, providers.Range{}); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("missing blob: %v", err)
	}
	stale := obj
	stale.ETag = "0x8DEADBEEF"
	if _, err := read(stale, providers.Range{}); providers.KindOf(err) != providers.KindPrecondition {
		t.Errorf("changed since listed: %v, want Precondition", err)
	}
	if _, err := read(obj, providers.Range{Offset: int64(len(data)) + 10, Count: 5}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("range past the end: %v, want Invalid", err)
	}
	if _, err := read(obj, providers.Range{Offset: -1}); providers.KindOf(err) != providers.KindInvalid {
		t.Errorf("negative range: %v, want Invalid", err)
	}

	if err := r.dst.DeleteBlob(ctx, c, "with-md5"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.dst.StatBlob(ctx, c, "with-md5"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("after DeleteBlob: %v", err)
	}
	if err := r.dst.DeleteBlob(ctx, c, "with-md5"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("deleting a missing blob: %v", err)
	}
	if err := r.dst.DeleteBlob(ctx, newContainerName(t), "x"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("deleting in a missing container: %v", err)
	}
}
