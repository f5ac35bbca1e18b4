package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/pipeline"
	"github.com/migrate-tool/migrate/providers"
	"github.com/migrate-tool/migrate/providers/azure"
	"github.com/migrate-tool/migrate/providers/local"
	"github.com/migrate-tool/migrate/providers/s3"
)

// The ends of a copy: SRC is an S3 URL or a local folder; DST is an Azure
// URL or an S3 URL. Everything here is wiring: the pipeline knows no
// provider by name.

// isLocalPath says arg names a local folder: anything that is not a URL.
func isLocalPath(arg string) bool { return !strings.Contains(arg, "://") }

// localFolder checks that arg is a folder and returns its absolute path.
func localFolder(arg string) (string, error) {
	abs, err := filepath.Abs(arg)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return "", fmt.Errorf("local folder %s: %w", arg, err)
	case !fi.IsDir():
		return "", fmt.Errorf("%s is a file: give the folder that holds it (and --include NAME to pick it)", arg)
	}
	return abs, nil
}

// parseDest reads DST: s3://bucket[/prefix] for S3, else an Azure URL.
func (j *copyJob) parseDest(arg string) error {
	if !strings.HasPrefix(arg, "s3://") {
		var err error
		j.dst, err = azure.ParseURL(arg)
		return err
	}
	loc, err := s3.ParseURL(arg)
	if err != nil {
		return err
	}
	if loc.Bucket == "" {
		return fmt.Errorf("%s names no bucket: an S3 destination is one bucket (s3://bucket[/prefix])", arg)
	}
	j.dstS3 = &loc
	return nil
}

// openEnds builds the source and destination of a parsed job. A local
// source's listing tells passedOver about every entry it leaves out (a
// special file, a symbolic link that loops or leads nowhere, a file that
// vanished), so none is left out silently.
func openEnds(ctx context.Context, j copyJob, passedOver func(path string, why error)) (providers.Source, providers.Destination, error) {
	var src providers.Source
	if j.srcLocal != "" {
		src = local.New(local.Options{NoGuessContentType: j.noGuessMime, Skipped: passedOver})
	} else {
		s, err := s3.New(ctx, j.s3Opts)
		if err != nil {
			return nil, nil, usagef("S3 source: %v", err)
		}
		src = s
	}
	if j.dstS3 != nil {
		d, err := s3.New(ctx, j.dstS3Opts)
		if err != nil {
			return nil, nil, usagef("S3 destination: %v", err)
		}
		return src, d, nil
	}
	d, err := azure.New(j.azOpts)
	if err != nil {
		return nil, nil, usagef("Azure destination: %v", err)
	}
	return src, d, nil
}

// routes are the job's routes: the one DST names, or one per bucket of the
// account (each into its mapped container), with those mappings.
func (j copyJob) planRoutes(ctx context.Context, src providers.Source, dst providers.Destination) ([]pipeline.Route, []naming.Mapping, error) {
	switch {
	case j.srcLocal != "" && j.dstS3 != nil:
		return []pipeline.Route{{Bucket: j.srcLocal, Container: j.dstS3.Bucket, DestPrefix: j.dstS3.Prefix}}, nil, nil
	case j.srcLocal != "":
		return []pipeline.Route{{Bucket: j.srcLocal, Container: j.dst.Container, DestPrefix: j.dst.Prefix}}, nil, nil
	case j.dstS3 != nil:
		return []pipeline.Route{{Bucket: j.src.Bucket, Prefix: j.routes.Prefix, Container: j.dstS3.Bucket, DestPrefix: j.dstS3.Prefix}}, nil, nil
	case j.dst.Container != "":
		return []pipeline.Route{{Bucket: j.src.Bucket, Prefix: j.routes.Prefix, Container: j.dst.Container, DestPrefix: j.dst.Prefix}}, nil, nil
	}
	routes, mappings, err := pipeline.PlanRoutes(ctx, src, dst, j.routes)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if len(routes) == 0 {
		return nil, nil, usagef("no bucket to copy (region filter %q)", j.routes.Region)
	}
	return routes, mappings, nil
}

// checkEnds refuses flags that mean nothing for the ends given, rather than
// ignoring them.
func (j copyJob) checkEnds(f copyFlags) error {
	type rule struct {
		set  bool
		flag string
	}
	check := func(where string, rules ...rule) error {
		for _, r := range rules {
			if r.set {
				return usagef("%s is for %s", r.flag, where)
			}
		}
		return nil
	}
	if j.srcLocal != "" {
		if err := check("an S3 source, not a local folder",
			rule{f.sseCKey != "", "--sse-c-key"}, rule{f.requestPayer, "--request-payer"}, rule{f.s3Anonymous, "--s3-anonymous"},
			rule{f.sourceInventory != "", "--source-inventory"}, rule{!f.sourceReachable, "--source-reachable"}); err != nil {
			return err
		}
	}
	if j.dstS3 != nil {
		if j.srcLocal == "" && j.src.Bucket == "" {
			return usagef("an S3 destination takes one bucket at a time: give the source bucket (s3://bucket[/prefix])")
		}
		return check("an Azure destination, not S3",
			rule{f.blobTier != "", "--blob-tier"}, rule{f.preserveTier, "--preserve-tier"}, rule{f.azureEndpoint != "", "--azure-endpoint"},
			rule{f.renameKeys, "--rename-invalid-keys (S3 holds every key as it is)"}, rule{f.containerMapFile != "" || len(f.containerMap) > 0, "--container-map"})
	}
	return check("an S3 destination, not Azure",
		rule{f.acl != "", "--acl"}, rule{f.storageClass != "", "--storage-class"}, rule{f.copyObjectMax != 0, "--copy-object-max-size"},
		rule{f.dstEndpoint != "", "--dest-s3-endpoint"}, rule{f.dstRegion != "", "--dest-region"})
}

// metadataPairs reads --metadata key=value values.
func metadataPairs(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	md := make(map[string]string, len(pairs))
	seen := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("--metadata %q: want key=value", p)
		}
		if prev, dup := seen[strings.ToLower(k)]; dup {
			return nil, usagef("--metadata: %q and %q are the same name (metadata names ignore case)", prev, k)
		}
		seen[strings.ToLower(k)] = k
		md[k] = v
	}
	return md, nil
}

// sourceURL names a source object in reports: s3://bucket/key, or the
// path of a file of a local source (whose "bucket" is its absolute path).
func sourceURL(bucket, key string) string {
	if filepath.IsAbs(bucket) {
		return strings.TrimRight(bucket, "/") + "/" + key
	}
	return "s3://" + bucket + "/" + key
}

// splitSourceURL is sourceURL's inverse for a job whose local source, if
// any, is root: the bucket (or root) and the key.
func splitSourceURL(root, s string) (bucket, key string, ok bool) {
	if root != "" {
		key, ok = strings.CutPrefix(s, strings.TrimRight(root, "/")+"/")
		return root, key, ok && key != ""
	}
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	return bucket, key, ok
}
