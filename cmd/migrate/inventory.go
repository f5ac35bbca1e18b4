package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/migrate-tool/migrate/inventory"
	"github.com/migrate-tool/migrate/pipeline"
)

// runFromInventory is 'migrate copy --source-inventory MANIFEST': the
// rows of an S3 Inventory report replace the listing (no ListObjectsV2);
// each object's HEAD decides (docs/usage.md, "Listing from an S3
// Inventory"). Such a run is not journaled: it is resumed by running it
// again (with --overwrite=false to pass over what is there).
func runFromInventory(ctx context.Context, j copyJob, args []string, stdout, stderr io.Writer) error {
	m, open, err := openInventory(j.sourceInventory)
	if err != nil {
		return err
	}
	if m.SourceBucket != "" && m.SourceBucket != j.src.Bucket {
		return usagef("--source-inventory: the inventory is of bucket %q, the source is %q", m.SourceBucket, j.src.Bucket)
	}
	j.pipeOpts.FromInventory = true
	j.pipeOpts.FromPlan = func(yield func(pipeline.PlannedObject) error) error {
		return m.Objects(open, func(o inventory.Object) error {
			if !o.Current() {
				return nil // an older version or a delete marker
			}
			if o.Bucket != j.src.Bucket {
				return fmt.Errorf("--source-inventory: a row names bucket %q, the source is %q", o.Bucket, j.src.Bucket)
			}
			return yield(pipeline.PlannedObject{Bucket: o.Bucket, Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified})
		})
	}
	rep := newReporter(j.output, j.prices, stdout, stderr)
	date := m.Created.Format(time.RFC3339)
	rep.note("Listing s3://%s from its S3 Inventory of %s (%s, %d data files) instead of listing the bucket.", j.src.Bucket, date, j.sourceInventory, len(m.Files))
	rep.note("Objects changed since the inventory are copied as they are now; deleted ones are skipped. Objects created since %s are not in it: follow with 'migrate sync' (or 'migrate copy --include-after %s') to copy them.", date, date)
	return executeCopy(ctx, j, nil, false, rep, args)
}

// openInventory reads the manifest at p and returns it with the opener of
// its data files: a file's key (files[].key, its full key in the
// inventory's bucket) is looked for, in order, as the key relative to the
// manifest's folder, then by its name under data/ in the manifest's folder,
// under data/ in the folder above (S3's own layout: CONFIG/DATE/manifest.json
// and CONFIG/data/NAME.csv.gz), and in the manifest's folder.
func openInventory(p string) (inventory.Manifest, func(string) (io.ReadCloser, error), error) {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "manifest.json")
	}
	fh, err := os.Open(p)
	if err != nil {
		return inventory.Manifest{}, nil, usagef("--source-inventory: %v", err)
	}
	defer fh.Close()
	m, err := inventory.ReadManifest(fh)
	if err != nil {
		return inventory.Manifest{}, nil, usagef("--source-inventory %s: %v", p, err)
	}
	dir := filepath.Dir(p)
	open := func(key string) (io.ReadCloser, error) {
		name := path.Base(key)
		candidates := []string{
			filepath.Join(dir, filepath.FromSlash(key)),
			filepath.Join(dir, "data", name),
			filepath.Join(dir, "..", "data", name),
			filepath.Join(dir, name),
		}
		for _, c := range candidates {
			f, err := os.Open(c)
			if err == nil {
				return f, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		return nil, fmt.Errorf("not found under %s (looked for %s, data/%s, ../data/%s and %s): download the report's data files next to its manifest", dir, key, name, name, name)
	}
	for _, f := range m.Files {
		rc, err := open(f.Key)
		if err != nil {
			return inventory.Manifest{}, nil, usagef("--source-inventory: data file %s: %v", f.Key, err)
		}
		rc.Close()
	}
	return m, open, nil
}
