package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/migrate-tool/migrate/pipeline"
)

// verifyFlags are the flags only 'migrate verify' has; every other flag is
// copy's, parsed by parseCopy (so a copy's command line can be verified by
// changing only the command name).
type verifyFlags struct {
	deep      bool
	metadata  bool
	output    string
	maxListed int
}

func newVerifyFlagSet(f *verifyFlags, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("verify", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.BoolVar(&f.deep, "deep", false, "read both sides of every object whose MD5 is not known on both sides and compare their SHA-256 (the bytes pass through this machine)")
	fs.BoolVar(&f.metadata, "metadata", false, "also compare the content headers and metadata of every object (one request per side per object)")
	fs.StringVar(&f.output, "output", "text", "text or json (one JSON document on stdout, see docs/verify.md)")
	fs.IntVar(&f.maxListed, "max-listed", 100, "list at most this many differences of each kind (all are counted)")
	return fs
}

// copyFlagsForVerify are the copy flags that change what verify compares
// or how it reaches the two sides; verify accepts the others and ignores
// them.
var copyFlagsForVerify = []string{
	"s3-endpoint", "region", "aws-profile", "azure-endpoint", "sse-c-key", "request-payer",
	"rename-invalid-keys", "keep-folder-markers", "s2s-handle-invalid-metadata",
	"keep-s3-headers-as-metadata", "preserve-source-info", "container-map", "container-map-file",
	"include", "exclude", "include-after", "include-before", "min-size", "max-size",
	"include-bucket", "exclude-bucket", "concurrency", "retries", "page-size",
}

func verifyUsage(stderr io.Writer, vfs *pflag.FlagSet) {
	fmt.Fprint(stderr, `Usage: migrate verify SRC DST [flags]

Compares SRC with DST after a copy: every object's blob is looked for under
the name the copy gave it, and reported missing, extra (in DST only), of
another size, of other content (where both sides know an MD5, or with
--deep), or with other headers and metadata (--metadata). Listings are read a
page at a time on both sides; only what a listing cannot decide costs a
request per object.

SRC, DST and credentials are as for 'migrate copy'. Give verify the copy's
own flags (naming, metadata, filters): the expected blob is computed as the
copy computed it. Copy flags that do not change the comparison are accepted
and ignored.

Exit codes: 0 everything matches, 3 differences found, 1 verify could not
compare everything (a listing or an object's check failed), 2 usage or
configuration error, 130 interrupted.

Flags:
`)
	vfs.PrintDefaults()
	fmt.Fprint(stderr, "\nCopy flags that matter to verify:\n")
	cfs := newCopyFlagSet(&copyFlags{}, stderr)
	keep := map[string]bool{}
	for _, n := range copyFlagsForVerify {
		keep[n] = true
	}
	cfs.VisitAll(func(fl *pflag.Flag) {
		if !keep[fl.Name] {
			_ = cfs.MarkHidden(fl.Name)
		}
	})
	cfs.PrintDefaults()
}

// splitVerifyArgs sends verify's own flags to vfs's arguments and the rest
// (copy's flags, SRC and DST) to copy's, keeping each flag with its value.
// It reports whether help was asked for and how many positional arguments
// there are.
func splitVerifyArgs(args []string, vfs, cfs *pflag.FlagSet) (mine, theirs []string, help bool, npos int) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			npos += len(args) - i - 1
			theirs = append(theirs, args[i:]...)
			return mine, theirs, help, npos
		case a == "-h" || a == "--help":
			help = true
			continue
		case !strings.HasPrefix(a, "--") || a == "-":
			if !strings.HasPrefix(a, "-") || a == "-" {
				npos++
			}
			theirs = append(theirs, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		to := &theirs
		fl := cfs.Lookup(name)
		if vf := vfs.Lookup(name); vf != nil {
			to, fl = &mine, vf
		}
		*to = append(*to, a)
		// A flag that takes a value and has none after "=" takes the next
		// argument; an unknown flag is left for parseCopy to refuse.
		if fl != nil && !hasValue && fl.NoOptDefVal == "" && i+1 < len(args) {
			i++
			*to = append(*to, args[i])
		}
	}
	return mine, theirs, help, npos
}

// verifyJob is a parsed 'migrate verify' invocation.
type verifyJob struct {
	copyJob
	opts      pipeline.VerifyOptions
	json      bool
	maxListed int
}

// parseVerify turns arguments and environment into a verifyJob: its own
// flags here, everything else through parseCopy. Every error is a usage
// error.
func parseVerify(args []string, getenv env, stderr io.Writer) (verifyJob, error) {
	var f verifyFlags
	vfs := newVerifyFlagSet(&f, stderr)
	mine, theirs, help, npos := splitVerifyArgs(args, vfs, newCopyFlagSet(&copyFlags{}, io.Discard))
	if help {
		verifyUsage(stderr, vfs)
		return verifyJob{}, errHelp
	}
	if err := vfs.Parse(mine); err != nil {
		return verifyJob{}, usageError{fmt.Errorf("%v (see 'migrate verify --help')", err)}
	}
	if npos != 2 {
		return verifyJob{}, usagef("verify needs SRC and DST, got %d arguments (see 'migrate verify --help')", npos)
	}
	switch f.output {
	case "text", "json":
	default:
		return verifyJob{}, usagef("--output must be text or json, got %q", f.output)
	}
	if f.maxListed < 0 {
		return verifyJob{}, usagef("--max-listed must be 0 or more, got %d", f.maxListed)
	}
	// Verify keeps no journal: never let the journal's location fail it.
	copyEnv := func(k string) string {
		if v := getenv(k); v != "" || k != "MIGRATE_JOURNAL_DIR" {
			return v
		}
		return os.DevNull
	}
	cj, err := parseCopy(theirs, copyEnv, stderr)
	if err != nil {
		return verifyJob{}, err
	}
	// The containers a copy made exist now: they are what is verified.
	cj.routes.AllowExisting = true
	j := verifyJob{copyJob: cj, json: f.output == "json", maxListed: f.maxListed}
	p := cj.pipeOpts
	j.opts = pipeline.VerifyOptions{
		Names:              pipeline.NameOptions{RenameInvalidKeys: p.RenameInvalidKeys, KeepFolderMarkers: p.KeepFolderMarkers},
		Filter:             p.Filter,
		Deep:               f.deep,
		Metadata:           f.metadata,
		Policy:             p.MetadataPolicy,
		KeepS3Headers:      p.KeepS3Headers,
		PreserveSourceInfo: p.PreserveSourceInfo,
		MaxListed:          f.maxListed,
		Concurrency:        p.Concurrency,
		PageSize:           p.PageSize,
		Retry:              p.Retry,
	}
	if f.maxListed == 0 {
		j.opts.MaxListed = -1 // none
	}
	return j, nil
}

// verifyDiffError says that verify finished and found differences: exit
// code 3. The report already lists them.
type verifyDiffError struct{ n int64 }

func (e verifyDiffError) Error() string { return fmt.Sprintf("verify found %d differences", e.n) }

// runVerify is 'migrate verify SRC DST [flags]'.
func runVerify(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	j, err := parseVerify(args, getenv, stderr)
	if err != nil {
		return err
	}
	src, dst, err := openEnds(ctx, j.copyJob, func(path string, why error) {
		fmt.Fprintf(stderr, "warning: %s is not compared: %v\n", path, why)
	})
	if err != nil {
		return err
	}
	routes, _, err := j.planRoutes(ctx, src, dst)
	if err != nil {
		return err
	}
	rep, verr := pipeline.Verify(ctx, src, dst, routes, j.opts)
	var se *pipeline.SetupError
	switch {
	case errors.As(verr, &se):
		return usageError{verr} // nothing was compared
	case verr != nil && ctx.Err() == nil:
		return usagef("%v", verr)
	}
	if j.json {
		writeVerifyJSON(stdout, rep, ctx.Err() != nil)
	} else {
		printVerify(stdout, serviceName(j.copyJob), rep)
	}
	switch {
	case ctx.Err() != nil:
		return context.Canceled
	case !rep.Complete():
		return fmt.Errorf("verify could not compare everything: %d buckets failed, %d objects could not be checked", rep.FailedRoutes, rep.Unchecked)
	case rep.DifferenceCount() > 0:
		return verifyDiffError{rep.DifferenceCount()}
	}
	return nil
}

// printVerify writes the verify report for a person.
func printVerify(w io.Writer, service string, rep pipeline.VerifyReport) {
	fmt.Fprintf(w, "Verify: -> %s\n", service)
	if len(rep.Routes) == 1 {
		r := rep.Routes[0]
		fmt.Fprintf(w, "  s3://%s/%s -> %s/%s\n", r.Bucket, r.Prefix, r.Container, r.DestPrefix)
		routeNotes(w, r)
	} else {
		fmt.Fprintf(w, "  %-28s %-28s %9s %9s %9s %9s %9s %9s %9s\n", "bucket", "container", "objects", "matched", "missing", "extra", "size", "content", "metadata")
		for _, r := range rep.Routes {
			fmt.Fprintf(w, "  %-28s %-28s %9d %9d %9d %9d %9d %9d %9d\n", r.Bucket, r.Container, r.SourceObjects, r.Matched,
				r.Missing, r.Extra, r.SizeMismatch, r.HashMismatch, r.MetadataMismatch)
			routeNotes(w, r)
		}
	}
	c := rep.VerifyCounts
	fmt.Fprintf(w, "  source objects:    %d (%s)\n", c.SourceObjects, pipeline.FormatBytes(c.SourceBytes))
	fmt.Fprintf(w, "  destination blobs: %d (%s)\n", c.DestinationBlobs, pipeline.FormatBytes(c.DestinationBytes))
	if c.Skipped > 0 {
		fmt.Fprintf(w, "  skipped:           %d (folder markers and names Azure refuses: a copy skips them)\n", c.Skipped)
	}
	if c.Filtered > 0 {
		fmt.Fprintf(w, "  filtered out:      %d (not compared)\n", c.Filtered)
	}
	fmt.Fprintf(w, "  matched:           %d\n", c.Matched)
	deep := ""
	if c.DeepHashed > 0 {
		deep = fmt.Sprintf(", %d by reading both sides", c.DeepHashed)
	}
	fmt.Fprintf(w, "    content equal:   %d (same MD5 or SHA-256, or both empty%s)\n", c.ContentVerified, deep)
	if c.SizeOnly > 0 {
		fmt.Fprintf(w, "    size only:       %d (no MD5 known on both sides; --deep reads them)\n", c.SizeOnly)
	}
	fmt.Fprintf(w, "  missing:           %d\n", c.Missing)
	fmt.Fprintf(w, "  extra:             %d\n", c.Extra)
	fmt.Fprintf(w, "  size differs:      %d\n", c.SizeMismatch)
	fmt.Fprintf(w, "  content differs:   %d\n", c.HashMismatch)
	if rep.Metadata {
		fmt.Fprintf(w, "  metadata differs:  %d\n", c.MetadataMismatch)
	} else {
		fmt.Fprintf(w, "  metadata:          not compared (--metadata)\n")
	}
	if c.Unchecked > 0 {
		fmt.Fprintf(w, "  unchecked:         %d (a request failed: see below)\n", c.Unchecked)
	}
	if len(rep.Differences) > 0 {
		fmt.Fprintf(w, "Differences:\n")
		for _, d := range rep.Differences {
			fmt.Fprintf(w, "  %-9s %s\n", d.Kind, describeDiff(d))
		}
	}
	for _, k := range pipeline.DiffKinds {
		if n := rep.Unlisted[k]; n > 0 {
			fmt.Fprintf(w, "  ... and %d more of kind %s (raise --max-listed)\n", n, k)
		}
	}
	switch n := c.DifferenceCount(); {
	case !rep.Complete():
		fmt.Fprintf(w, "Result: incomplete (%d differences found in what could be compared)\n", n)
	case n > 0:
		fmt.Fprintf(w, "Result: %d differences\n", n)
	default:
		fmt.Fprintf(w, "Result: everything matches\n")
	}
}

func routeNotes(w io.Writer, r pipeline.RouteVerify) {
	if r.ContainerMissing {
		fmt.Fprintf(w, "    container %s does not exist: every object is missing\n", r.Container)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "    error: %s\n", r.Error)
	}
}

// describeDiff is one difference on one line: where, and what differs.
func describeDiff(d pipeline.Difference) string {
	dst := d.Container + "/" + d.Blob
	switch d.Kind {
	case pipeline.DiffExtra:
		return fmt.Sprintf("%s (%s)", dst, pipeline.FormatBytes(d.DstSize))
	case pipeline.DiffMissing:
		return fmt.Sprintf("%s -> %s (%s)", sourceURL(d.Bucket, d.Key), dst, pipeline.FormatBytes(d.SrcSize))
	}
	return fmt.Sprintf("%s -> %s: %s", sourceURL(d.Bucket, d.Key), dst, d.Detail)
}

// The JSON document of --output json (docs/verify.md documents it; keep
// the fields stable).
type (
	verifyDoc struct {
		Version     int              `json:"version"`
		Result      string           `json:"result"` // match, differences, incomplete, interrupted
		Deep        bool             `json:"deep"`
		Metadata    bool             `json:"metadata"`
		Totals      verifyCountsDoc  `json:"totals"`
		Routes      []verifyRouteDoc `json:"routes"`
		Differences []verifyDiffDoc  `json:"differences"`
		Unlisted    map[string]int64 `json:"unlisted,omitempty"`
	}
	verifyCountsDoc struct {
		SourceObjects    int64 `json:"source_objects"`
		SourceBytes      int64 `json:"source_bytes"`
		DestinationBlobs int64 `json:"destination_blobs"`
		DestinationBytes int64 `json:"destination_bytes"`
		Skipped          int64 `json:"skipped"`
		Filtered         int64 `json:"filtered"`
		Matched          int64 `json:"matched"`
		ContentVerified  int64 `json:"content_verified"`
		DeepHashed       int64 `json:"deep_hashed"`
		SizeOnly         int64 `json:"size_only"`
		Missing          int64 `json:"missing"`
		Extra            int64 `json:"extra"`
		SizeMismatch     int64 `json:"size_mismatch"`
		HashMismatch     int64 `json:"hash_mismatch"`
		MetadataMismatch int64 `json:"metadata_mismatch"`
		Unchecked        int64 `json:"unchecked"`
	}
	verifyRouteDoc struct {
		Bucket           string `json:"bucket"`
		Prefix           string `json:"prefix"`
		Container        string `json:"container"`
		DestPrefix       string `json:"dest_prefix"`
		ContainerMissing bool   `json:"container_missing,omitempty"`
		Error            string `json:"error,omitempty"`
		verifyCountsDoc
	}
	verifyDiffDoc struct {
		Kind            string `json:"kind"`
		Source          string `json:"source,omitempty"` // s3://bucket/key; absent for extra
		Destination     string `json:"destination"`      // container/blob
		SourceSize      *int64 `json:"source_size,omitempty"`
		DestinationSize *int64 `json:"destination_size,omitempty"`
		Detail          string `json:"detail"`
	}
)

func countsDoc(c pipeline.VerifyCounts) verifyCountsDoc {
	return verifyCountsDoc{
		SourceObjects: c.SourceObjects, SourceBytes: c.SourceBytes, DestinationBlobs: c.DestinationBlobs, DestinationBytes: c.DestinationBytes,
		Skipped: c.Skipped, Filtered: c.Filtered, Matched: c.Matched, ContentVerified: c.ContentVerified, DeepHashed: c.DeepHashed, SizeOnly: c.SizeOnly,
		Missing: c.Missing, Extra: c.Extra, SizeMismatch: c.SizeMismatch, HashMismatch: c.HashMismatch, MetadataMismatch: c.MetadataMismatch,
		Unchecked: c.Unchecked,
	}
}

// writeVerifyJSON writes the report as one JSON document.
func writeVerifyJSON(w io.Writer, rep pipeline.VerifyReport, interrupted bool) {
	doc := verifyDoc{Version: 1, Deep: rep.Deep, Metadata: rep.Metadata, Totals: countsDoc(rep.VerifyCounts),
		Routes: []verifyRouteDoc{}, Differences: []verifyDiffDoc{}}
	switch {
	case interrupted:
		doc.Result = "interrupted"
	case !rep.Complete():
		doc.Result = "incomplete"
	case rep.DifferenceCount() > 0:
		doc.Result = "differences"
	default:
		doc.Result = "match"
	}
	for _, r := range rep.Routes {
		doc.Routes = append(doc.Routes, verifyRouteDoc{Bucket: r.Bucket, Prefix: r.Prefix, Container: r.Container, DestPrefix: r.DestPrefix,
			ContainerMissing: r.ContainerMissing, Error: r.Error, verifyCountsDoc: countsDoc(r.VerifyCounts)})
	}
	for _, d := range rep.Differences {
		dd := verifyDiffDoc{Kind: string(d.Kind), Destination: d.Container + "/" + d.Blob, Detail: d.Detail}
		if d.Key != "" {
			dd.Source = sourceURL(d.Bucket, d.Key)
		}
		if d.SrcSize >= 0 {
			dd.SourceSize = &d.SrcSize
		}
		if d.DstSize >= 0 {
			dd.DestinationSize = &d.DstSize
		}
		doc.Differences = append(doc.Differences, dd)
	}
	for k, n := range rep.Unlisted {
		if doc.Unlisted == nil {
			doc.Unlisted = map[string]int64{}
		}
		doc.Unlisted[string(k)] = n
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}
