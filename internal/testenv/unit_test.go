package testenv

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

func TestParseSourceRange(t *testing.T) {
	cases := []struct {
		in     string
		want   byteRange
		ranged bool
		err    bool
	}{
		{"", byteRange{}, false, false},
		{"bytes=0-99", byteRange{0, 99}, true, false},
		{"bytes=100-", byteRange{100, -1}, true, false},
		{"bytes=5-5", byteRange{5, 5}, true, false},
		{"bytes=10-5", byteRange{}, false, true},
		{"items=0-1", byteRange{}, false, true},
		{"bytes=-5", byteRange{}, false, true},
		{"bytes=a-b", byteRange{}, false, true},
	}
	for _, c := range cases {
		got, ranged, err := parseSourceRange(c.in)
		if (err != nil) != c.err || ranged != c.ranged || (err == nil && got != c.want) {
			t.Errorf("parseSourceRange(%q) = %v, %v, %v", c.in, got, ranged, err)
		}
	}
	if n := (byteRange{5, 5}).count(); n != 1 {
		t.Errorf("count of 5-5 = %d", n)
	}
}

func TestVerifyingReaderWithholdsLastBytes(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	good := md5.Sum(data)
	bad := md5.Sum([]byte("x"))
	cases := []struct {
		name    string
		src     io.Reader
		n       int64
		md5     []byte
		wantErr error
	}{
		{"match", bytes.NewReader(data), int64(len(data)), good[:], nil},
		{"mismatch", bytes.NewReader(data), int64(len(data)), bad[:], errChecksum},
		{"short source", bytes.NewReader(data[:500]), int64(len(data)), good[:], io.ErrUnexpectedEOF},
		{"one byte reads", iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)), bad[:], errChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var counter atomic.Int64
			v := &verifyingReader{r: c.src, remaining: c.n, wantMD5: c.md5, md5: md5.New(), crc: newCRC(), counter: &counter}
			got, err := io.ReadAll(v)
			if c.wantErr == nil {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("got %d bytes, err %v", len(got), err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if int64(len(got)) >= c.n {
				t.Fatalf("all %d bytes were handed over despite the failure", len(got))
			}
		})
	}
}

func TestToolsDir(t *testing.T) {
	t.Setenv("MIGRATE_RIG_DIR", "")
	d, err := ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(d), "go.mod")); err != nil || filepath.Base(d) != ".rig" {
		t.Errorf("ToolsDir() = %s, want <module root>/.rig", d)
	}
	t.Setenv("MIGRATE_RIG_DIR", "/some/where")
	if d, _ := ToolsDir(); d != "/some/where" {
		t.Errorf("with MIGRATE_RIG_DIR: %s", d)
	}
	if err := ToolsInstalled(t.TempDir()); err == nil {
		t.Error("ToolsInstalled of an empty dir: no error")
	}
}

func TestCompareHeaderNames(t *testing.T) {
	// '-' weighs nothing at the first level, so x-ms-meta-ab sorts before
	// x-ms-meta-a-c ("ab" < "ac"), unlike byte order.
	if compareHeaderNames("x-ms-meta-ab", "x-ms-meta-a-c") >= 0 {
		t.Error("x-ms-meta-ab should sort before x-ms-meta-a-c")
	}
	if compareHeaderNames("x-ms-blob-type", "x-ms-version") >= 0 || compareHeaderNames("x-ms-version", "x-ms-blob-type") <= 0 {
		t.Error("plain order broken")
	}
	if compareHeaderNames("x-ms-date", "x-ms-date") != 0 {
		t.Error("equal names compare unequal")
	}
}
