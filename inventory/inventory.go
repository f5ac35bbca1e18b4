// Package inventory reads Amazon S3 Inventory reports in CSV format: the
// manifest.json of one report and its gzip-compressed CSV data files, one
// row at a time. It makes no requests: the caller opens the data files.
//
// A report is published as
//
//	PREFIX/SOURCE-BUCKET/CONFIG-ID/YYYY-MM-DDTHH-MMZ/manifest.json
//	PREFIX/SOURCE-BUCKET/CONFIG-ID/data/UUID.csv.gz
//
// where the manifest names each data file by its full key in the
// destination bucket (files[].key), with its size and the MD5 of the gzip
// file (MD5checksum). The manifest's fileSchema names the CSV columns in
// order ("Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, ...");
// every field is quoted and the key is URL-encoded (a space may be "+" or
// "%20", a "+" is "%2B").
package inventory

import (
	"compress/gzip"
	"crypto/md5"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// File is one data file of a report.
type File struct {
	Key         string `json:"key"`         // its key in the destination bucket
	Size        int64  `json:"size"`        // bytes of the gzip file
	MD5Checksum string `json:"MD5checksum"` // hex MD5 of the gzip file ("" = not checked)
}

// Manifest is a report's manifest.json.
type Manifest struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	Version           string `json:"version"`
	// CreationTimestamp is when S3 began scanning the bucket, in
	// milliseconds since the epoch (a string in the manifest).
	CreationTimestamp string `json:"creationTimestamp"`
	FileFormat        string `json:"fileFormat"`
	FileSchema        string `json:"fileSchema"`
	Files             []File `json:"files"`

	// Created is CreationTimestamp as a time (UTC); Columns the fileSchema's
	// column names, in order.
	Created time.Time `json:"-"`
	Columns []string  `json:"-"`
}

// Object is one row of a report. Fields whose column the report lacks are
// zero.
type Object struct {
	Bucket, Key    string
	VersionID      string
	IsLatest       bool // true when the report has no IsLatest column
	IsDeleteMarker bool
	Size           int64
	LastModified   time.Time
	ETag           string
	StorageClass   string
}

// Current reports whether the row is the current version of a live object
// (not an older version, not a delete marker).
func (o Object) Current() bool { return o.IsLatest && !o.IsDeleteMarker }

// ReadManifest reads and checks a manifest.json: CSV format, a schema that
// names at least Bucket and Key, a creation timestamp.
func ReadManifest(r io.Reader) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(r)
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if !strings.EqualFold(m.FileFormat, "CSV") {
		return Manifest{}, fmt.Errorf("manifest: file format %q is not supported (only CSV inventories are)", m.FileFormat)
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(m.CreationTimestamp), 10, 64)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: creationTimestamp %q is not milliseconds since the epoch", m.CreationTimestamp)
	}
	m.Created = time.UnixMilli(ms).UTC()
	for _, c := range strings.Split(m.FileSchema, ",") {
		m.Columns = append(m.Columns, strings.TrimSpace(c))
	}
	if _, err := newColumns(m.Columns); err != nil {
		return Manifest{}, fmt.Errorf("manifest: fileSchema %q: %w", m.FileSchema, err)
	}
	for i, f := range m.Files {
		if f.Key == "" {
			return Manifest{}, fmt.Errorf("manifest: files[%d] has no key", i)
		}
		if f.MD5Checksum != "" {
			if b, err := hex.DecodeString(f.MD5Checksum); err != nil || len(b) != md5.Size {
				return Manifest{}, fmt.Errorf("manifest: files[%d] (%s): MD5checksum %q is not 32 hex digits", i, f.Key, f.MD5Checksum)
			}
		}
	}
	return m, nil
}

// columns is where each known field is in a row (-1: absent).
type columns struct {
	n                                                                 int
	bucket, key, version, latest, marker, size, modified, etag, class int
}

func newColumns(names []string) (columns, error) {
	c := columns{n: len(names), bucket: -1, key: -1, version: -1, latest: -1, marker: -1, size: -1, modified: -1, etag: -1, class: -1}
	for i, name := range names {
		var p *int
		switch name {
		case "Bucket":
			p = &c.bucket
		case "Key":
			p = &c.key
		case "VersionId":
			p = &c.version
		case "IsLatest":
			p = &c.latest
		case "IsDeleteMarker":
			p = &c.marker
		case "Size":
			p = &c.size
		case "LastModifiedDate":
			p = &c.modified
		case "ETag":
			p = &c.etag
		case "StorageClass":
			p = &c.class
		case "":
			return c, fmt.Errorf("column %d has no name", i+1)
		default:
			continue // a column this tool does not use
		}
		if *p >= 0 {
			return c, fmt.Errorf("column %s appears twice", name)
		}
		*p = i
	}
	if c.bucket < 0 || c.key < 0 {
		return c, errors.New("it must name the Bucket and Key columns")
	}
	return c, nil
}

// RowDecoder turns CSV records of a report into Objects.
type RowDecoder struct{ c columns }

// NewRowDecoder decodes records whose columns are named by schema, in
// order (the manifest's Columns).
func NewRowDecoder(schema []string) (RowDecoder, error) {
	c, err := newColumns(schema)
	return RowDecoder{c}, err
}

// Decode maps one record (its fields, unquoted by the CSV reader) to an
// Object: the key URL-decoded, the size and times parsed.
func (d RowDecoder) Decode(rec []string) (Object, error) {
	c := d.c
	if len(rec) != c.n {
		return Object{}, fmt.Errorf("%d fields, the schema has %d", len(rec), c.n)
	}
	get := func(i int) string {
		if i < 0 {
			return ""
		}
		return rec[i]
	}
	o := Object{Bucket: rec[c.bucket], VersionID: get(c.version), ETag: get(c.etag), StorageClass: get(c.class), IsLatest: true}
	if o.Bucket == "" {
		return Object{}, errors.New("empty Bucket")
	}
	key, err := url.QueryUnescape(rec[c.key])
	if err != nil {
		return Object{}, fmt.Errorf("key %q is not URL-encoded: %v", rec[c.key], err)
	}
	if key == "" {
		return Object{}, errors.New("empty Key")
	}
	o.Key = key
	var bad error
	boolean := func(i int, name string, def bool) bool {
		switch s := get(i); s {
		case "":
			return def
		case "true", "TRUE", "True":
			return true
		case "false", "FALSE", "False":
			return false
		default:
			bad = fmt.Errorf("%s %q is not true or false", name, s)
			return def
		}
	}
	o.IsLatest = boolean(c.latest, "IsLatest", true)
	o.IsDeleteMarker = boolean(c.marker, "IsDeleteMarker", false)
	if bad != nil {
		return Object{}, bad
	}
	if s := get(c.size); s != "" {
		if o.Size, err = strconv.ParseInt(s, 10, 64); err != nil || o.Size < 0 {
			return Object{}, fmt.Errorf("size %q is not a number of bytes", s)
		}
	} else if c.size >= 0 && !o.IsDeleteMarker {
		return Object{}, errors.New("empty Size")
	}
	if s := get(c.modified); s != "" {
		if o.LastModified, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return Object{}, fmt.Errorf("LastModifiedDate %q is not an ISO 8601 time", s)
		}
	}
	return o, nil
}

// Objects calls yield with every row of every data file, in the
// manifest's order, reading one row at a time. open returns a data file
// by its key (files[].key): the gzip file as published. A file with an
// MD5checksum is checked, by a first reading, before any of its rows is
// used. Errors name the file and, for a row, its line. An error of yield
// stops the reading and is returned as it is.
func (m Manifest) Objects(open func(key string) (io.ReadCloser, error), yield func(Object) error) error {
	dec, err := NewRowDecoder(m.Columns)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	for _, f := range m.Files {
		if f.MD5Checksum != "" {
			if err := checkMD5(open, f); err != nil {
				return err
			}
		}
		if err := m.readFile(open, f, dec, yield); err != nil {
			return err
		}
	}
	return nil
}

// yieldError marks an error of the caller's yield.
type yieldError struct{ err error }

func (e yieldError) Error() string { return e.err.Error() }

func checkMD5(open func(string) (io.ReadCloser, error), f File) error {
	rc, err := open(f.Key)
	if err != nil {
		return fmt.Errorf("inventory file %s: %w", f.Key, err)
	}
	defer rc.Close()
	h := md5.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("inventory file %s: %w", f.Key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, f.MD5Checksum) {
		return fmt.Errorf("inventory file %s: MD5 %s (%d bytes), the manifest says %s (%d bytes): the file is damaged or not this report's", f.Key, got, n, strings.ToLower(f.MD5Checksum), f.Size)
	}
	return nil
}

func (m Manifest) readFile(open func(string) (io.ReadCloser, error), f File, dec RowDecoder, yield func(Object) error) error {
	rc, err := open(f.Key)
	if err != nil {
		return fmt.Errorf("inventory file %s: %w", f.Key, err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return fmt.Errorf("inventory file %s: not gzip: %w", f.Key, err)
	}
	defer zr.Close()
	err = EachRow(zr, dec, func(line int, o Object) error {
		if err := yield(o); err != nil {
			return yieldError{err}
		}
		return nil
	})
	var ye yieldError
	if errors.As(err, &ye) {
		return ye.err
	}
	if err != nil {
		return fmt.Errorf("inventory file %s %w", f.Key, err)
	}
	return nil
}

// EachRow decodes the CSV rows of r (uncompressed) one at a time and calls
// fn with each row's line and Object. A row that cannot be decoded is an
// error "line N: ..."; an error of fn is returned as it is.
func EachRow(r io.Reader, dec RowDecoder, fn func(line int, o Object) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked by Decode, with a clearer message
	cr.ReuseRecord = true
	line := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("line %d: %v", pe.Line, pe.Err)
			}
			return fmt.Errorf("after line %d: %w", line, err)
		}
		line, _ = cr.FieldPos(0)
		o, err := dec.Decode(rec)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := fn(line, o); err != nil {
			return err
		}
	}
}
