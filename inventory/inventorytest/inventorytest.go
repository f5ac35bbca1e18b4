// Package inventorytest writes S3 Inventory reports as S3 publishes them
// (manifest.json and gzip CSV data files), for tests.
package inventorytest

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Row is one object of a report.
type Row struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
	StorageClass string // "" = STANDARD
}

// Schema is the fileSchema Write uses: the usual columns and one this tool
// ignores, not in the order of the Bucket/Key/Size/... documentation.
const Schema = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus"

// EncodeKey URL-encodes a key as S3 Inventory does (a space is "+").
func EncodeKey(k string) string { return url.QueryEscape(k) }

// Line is one CSV line of a report in Schema's columns, every field quoted.
func Line(bucket string, r Row) string {
	class := r.StorageClass
	if class == "" {
		class = "STANDARD"
	}
	fields := []string{bucket, EncodeKey(r.Key), strconv.FormatInt(r.Size, 10),
		r.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"), r.ETag, class, "false", ""}
	for i, f := range fields {
		fields[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
	}
	return strings.Join(fields, ",") + "\n"
}

// Write publishes a report of bucket under dir as S3 lays one out:
// dir/BUCKET/CONFIG/data/*.csv.gz (one file per element of files) and
// dir/BUCKET/CONFIG/YYYY-MM-DDTHH-MMZ/manifest.json, whose files[].key are
// the full keys "inventory/BUCKET/CONFIG/data/NAME". It returns the
// manifest's path.
func Write(dir, bucket string, created time.Time, files ...[]Row) (string, error) {
	const config = "all-objects"
	base := filepath.Join(dir, bucket, config)
	if err := os.MkdirAll(filepath.Join(base, "data"), 0o755); err != nil {
		return "", err
	}
	type file struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
		MD5  string `json:"MD5checksum"`
	}
	var fs []file
	for i, rows := range files {
		var raw bytes.Buffer
		zw := gzip.NewWriter(&raw)
		for _, r := range rows {
			if _, err := zw.Write([]byte(Line(bucket, r))); err != nil {
				return "", err
			}
		}
		if err := zw.Close(); err != nil {
			return "", err
		}
		name := fmt.Sprintf("0f1e2d3c-%04d.csv.gz", i)
		if err := os.WriteFile(filepath.Join(base, "data", name), raw.Bytes(), 0o644); err != nil {
			return "", err
		}
		sum := md5.Sum(raw.Bytes())
		fs = append(fs, file{Key: "inventory/" + bucket + "/" + config + "/data/" + name, Size: int64(raw.Len()), MD5: hex.EncodeToString(sum[:])})
	}
	m, err := json.MarshalIndent(map[string]any{
		"sourceBucket":      bucket,
		"destinationBucket": "arn:aws:s3:::inventory-reports",
		"version":           "2016-11-30",
		"creationTimestamp": strconv.FormatInt(created.UnixMilli(), 10),
		"fileFormat":        "CSV",
		"fileSchema":        Schema,
		"files":             fs,
	}, "", "  ")
	if err != nil {
		return "", err
	}
	mdir := filepath.Join(base, created.UTC().Format("2006-01-02T15-04Z"))
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(mdir, "manifest.json")
	return path, os.WriteFile(path, m, 0o644)
}
