package inventory_test

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/inventory"
	"github.com/migrate-tool/migrate/inventory/inventorytest"
)

const goodManifest = `{
  "sourceBucket": "src",
  "destinationBucket": "arn:aws:s3:::inv",
  "version": "2016-11-30",
  "creationTimestamp": "1514944800000",
  "fileFormat": "CSV",
  "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
  "files": [{"key": "inv/src/cfg/data/a.csv.gz", "size": 10, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"}]
}`

func TestReadManifest(t *testing.T) {
	m, err := inventory.ReadManifest(strings.NewReader(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2018, 1, 3, 2, 0, 0, 0, time.UTC); !m.Created.Equal(want) {
		t.Errorf("created %v, want %v", m.Created, want)
	}
	if m.SourceBucket != "src" || len(m.Files) != 1 || m.Files[0].MD5Checksum != "f11166069f1990abeb9c97ace9cdfabc" || len(m.Columns) != 6 || m.Columns[5] != "StorageClass" {
		t.Errorf("manifest %+v", m)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"orc", `"fileFormat": "CSV"`, `"fileFormat": "ORC"`, `file format "ORC" is not supported`},
		{"timestamp", `"1514944800000"`, `"2018-01-03"`, "creationTimestamp"},
		{"no key column", `"Bucket, Key, Size`, `"Bucket, Size`, "Bucket and Key"},
		{"twice", `ETag, StorageClass"`, `ETag, ETag"`, "ETag appears twice"},
		{"md5", `f11166069f1990abeb9c97ace9cdfabc`, `xyz`, "MD5checksum"},
		{"no file key", `"key": "inv/src/cfg/data/a.csv.gz"`, `"key": ""`, "files[0] has no key"},
		{"json", `"files"`, `files`, "manifest:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inventory.ReadManifest(strings.NewReader(strings.Replace(goodManifest, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	mod := time.Date(2024, 3, 1, 12, 30, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		schema string
		rec    []string
		want   inventory.Object
		err    string
	}{
		{name: "usual", schema: "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
			rec:  []string{"b", "a%2Fb+c%2Bd%25.txt", "12", "2024-03-01T12:30:05.000Z", "0123", "GLACIER"},
			want: inventory.Object{Bucket: "b", Key: "a/b c+d%.txt", Size: 12, LastModified: mod, ETag: "0123", StorageClass: "GLACIER", IsLatest: true}},
		{name: "any order, extra columns", schema: "ETag, IsMultipartUploaded, Size, Key, Bucket, ObjectLockMode",
			rec:  []string{"e", "true", "0", "x%20y", "b", ""},
			want: inventory.Object{Bucket: "b", Key: "x y", ETag: "e", IsLatest: true}},
		{name: "versions", schema: "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
			rec:  []string{"b", "k", "v1", "false", "true", ""},
			want: inventory.Object{Bucket: "b", Key: "k", VersionID: "v1", IsDeleteMarker: true}},
		{name: "unicode", schema: "Bucket, Key", rec: []string{"b", "%E6%97%A5%E6%9C%AC%2F%C3%A9t%C3%A9"},
			want: inventory.Object{Bucket: "b", Key: "日本/été", IsLatest: true}},
		{name: "field count", schema: "Bucket, Key, Size", rec: []string{"b", "k"}, err: "2 fields, the schema has 3"},
		{name: "bad escape", schema: "Bucket, Key", rec: []string{"b", "a%zz"}, err: "not URL-encoded"},
		{name: "bad size", schema: "Bucket, Key, Size", rec: []string{"b", "k", "12x"}, err: `size "12x"`},
		{name: "negative size", schema: "Bucket, Key, Size", rec: []string{"b", "k", "-1"}, err: `size "-1"`},
		{name: "empty size", schema: "Bucket, Key, Size", rec: []string{"b", "k", ""}, err: "empty Size"},
		{name: "bad time", schema: "Bucket, Key, LastModifiedDate", rec: []string{"b", "k", "yesterday"}, err: "LastModifiedDate"},
		{name: "bad bool", schema: "Bucket, Key, IsLatest", rec: []string{"b", "k", "yes"}, err: "IsLatest"},
		{name: "empty key", schema: "Bucket, Key", rec: []string{"b", ""}, err: "empty Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cols []string
			for _, c := range strings.Split(tc.schema, ",") {
				cols = append(cols, strings.TrimSpace(c))
			}
			d, err := inventory.NewRowDecoder(cols)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Decode(tc.rec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// trickyKeys are keys an inventory must carry through its CSV and URL
// encodings.
var trickyKeys = []string{
	"plain.txt",
	"with,comma,s.csv",
	`with "quotes" and 'apostrophes'`,
	"with space/and folder/",
	"100% sure",
	"a+b=c&d",
	"already%20encoded%2Bnot",
	"ünïcödé/日本語/файл.bin",
	"emoji 😀.png",
	"tab\there",
	"new\nline",
	"question?hash#semi;colon",
	"~tilde!star*paren()",
	`back\slash`,
}

func openDir(dir string) func(string) (io.ReadCloser, error) {
	return func(key string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, "data", filepath.Base(key)))
	}
}

func TestGeneratedInventory(t *testing.T) {
	dir := t.TempDir()
	created := time.Date(2024, 5, 6, 7, 8, 0, 0, time.UTC)
	mod := time.Date(2024, 5, 1, 0, 0, 0, 123e6, time.UTC)
	var first, second []inventorytest.Row
	for i, k := range trickyKeys {
		r := inventorytest.Row{Key: k, Size: int64(i * 1000), LastModified: mod, ETag: hex.EncodeToString([]byte(k))[:8]}
		if i%2 == 0 {
			first = append(first, r)
		} else {
			second = append(second, r)
		}
	}
	path, err := inventorytest.Write(dir, "src-bucket", created, first, second)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	m, err := inventory.ReadManifest(fh)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Created.Equal(created) || m.SourceBucket != "src-bucket" || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	base := filepath.Join(dir, "src-bucket", "all-objects")
	var got []inventory.Object
	if err := m.Objects(openDir(base), func(o inventory.Object) error {
		got = append(got, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := append(append([]inventorytest.Row(nil), first...), second...)
	if len(got) != len(want) {
		t.Fatalf("%d objects, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Bucket != "src-bucket" || g.Key != w.Key || g.Size != w.Size || !g.LastModified.Equal(w.LastModified) ||
			g.ETag != w.ETag || g.StorageClass != "STANDARD" || !g.Current() {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}

	// An error of yield stops the reading and comes back as it is.
	stop := errors.New("stop")
	n := 0
	if err := m.Objects(openDir(base), func(inventory.Object) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("yield error: got %v after %d rows", err, n)
	}

	// A damaged file is refused before any of its rows is used.
	data := filepath.Join(base, "data", filepath.Base(m.Files[1].Key))
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(data, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	n = 0
	err = m.Objects(openDir(base), func(inventory.Object) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), m.Files[1].Key) || !strings.Contains(err.Error(), "MD5") || n != len(first) {
		t.Errorf("damaged file: %v after %d rows (want the first file's %d)", err, n, len(first))
	}
	// A missing file is named.
	err = m.Objects(func(string) (io.ReadCloser, error) { return nil, os.ErrNotExist }, func(inventory.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), m.Files[0].Key) {
		t.Errorf("missing file: %v", err)
	}
}

// TestBadRowNamesFileAndLine: a row that cannot be read is reported with
// its file and line.
func TestBadRowNamesFileAndLine(t *testing.T) {
	for _, tc := range []struct{ name, csv, want string }{
		{"size", "\"b\",\"k1\",\"1\"\n\"b\",\"k2\",\"x\"\n", `line 2: size "x"`},
		{"quote", "\"b\",\"k1\",\"1\"\n\"b\",\"k\"2\",\"1\"\n", "line 2:"},
		{"fields", "\"b\",\"k1\",\"1\"\n\"b\",\"k2\",\"1\"\n\"b\",\"k3\"\n", "line 3: 2 fields"},
		{"multi-line key", "\"b\",\"k\n1\",\"1\"\n\"b\",\"k2\",\"-5\"\n", "line 3:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw bytes.Buffer
			zw := gzip.NewWriter(&raw)
			zw.Write([]byte(tc.csv))
			zw.Close()
			sum := md5.Sum(raw.Bytes())
			m, err := inventory.ReadManifest(strings.NewReader(`{"creationTimestamp":"0","fileFormat":"CSV","fileSchema":"Bucket, Key, Size",
				"files":[{"key":"p/data/x.csv.gz","MD5checksum":"` + hex.EncodeToString(sum[:]) + `"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			err = m.Objects(func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw.Bytes())), nil },
				func(inventory.Object) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "inventory file p/data/x.csv.gz "+tc.want) {
				t.Errorf("error %v, want one with %q", err, "inventory file p/data/x.csv.gz "+tc.want)
			}
		})
	}
}

// FuzzRow: a row written as S3 writes it reads back as the object it
// describes, and no input makes the reader panic.
func FuzzRow(f *testing.F) {
	for _, k := range trickyKeys {
		f.Add(k, int64(len(k)), `"b","`+k+`","1"`)
	}
	f.Add("", int64(-1), "\"\n,\"")
	dec, err := inventory.NewRowDecoder(strings.Split(strings.ReplaceAll(inventorytest.Schema, " ", ""), ","))
	if err != nil {
		f.Fatal(err)
	}
	raw, err := inventory.NewRowDecoder([]string{"Bucket", "Key", "Size"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string, size int64, junk string) {
		_ = inventory.EachRow(strings.NewReader(junk), raw, func(int, inventory.Object) error { return nil })
		if key == "" || size < 0 || !utf8Valid(key) {
			return
		}
		mod := time.Unix(1700000000, 0).UTC()
		line := inventorytest.Line("bkt", inventorytest.Row{Key: key, Size: size, LastModified: mod, ETag: `e"t`})
		var got []inventory.Object
		if err := inventory.EachRow(strings.NewReader(line+line), dec, func(_ int, o inventory.Object) error {
			got = append(got, o)
			return nil
		}); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		want := inventory.Object{Bucket: "bkt", Key: key, Size: size, LastModified: mod, ETag: `e"t`, StorageClass: "STANDARD", IsLatest: true}
		if len(got) != 2 || got[0] != want || got[1] != want {
			t.Fatalf("%q read back as %+v", line, got)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
