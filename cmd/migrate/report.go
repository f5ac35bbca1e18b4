package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/migrate-tool/migrate/metadata"
	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/pipeline"
)

// printMappings shows the bucket -> container table of a multi-bucket run,
// with the reason for every changed or unmappable name.
func printMappings(w io.Writer, ms []naming.Mapping) {
	fmt.Fprintf(w, "Buckets -> containers:\n")
	for _, m := range ms {
		switch {
		case m.Err != nil:
			fmt.Fprintf(w, "  %-40s NOT COPIED: %v\n", m.Bucket, m.Err)
		case m.Changed:
			fmt.Fprintf(w, "  %-40s -> %s (%s)\n", m.Bucket, m.Container, m.Reason)
		default:
			fmt.Fprintf(w, "  %-40s -> %s\n", m.Bucket, m.Container)
		}
	}
}

// reportObject prints what a person needs to see of one object as it
// finishes: failures and warnings on stderr; in a dry run, every decision
// on stdout.
func reportObject(stdout, stderr io.Writer, r pipeline.ObjectResult) {
	src := sourceURL(r.Bucket, r.Key)
	for _, w := range r.Warnings {
		fmt.Fprintf(stderr, "warning: %s: %s\n", src, w)
	}
	if r.Streamed != "" && r.Streamed != pipeline.StreamedByTheEnds && r.Outcome == pipeline.Copied {
		fmt.Fprintf(stderr, "streamed through this machine: %s: %s\n", src, r.Streamed)
	}
	if r.Mode == pipeline.ModeDelete {
		switch r.Outcome {
		case pipeline.Planned:
			fmt.Fprintf(stdout, "would delete %s/%s (its source is gone)\n", r.Container, r.Blob)
		case pipeline.Deleted:
			fmt.Fprintf(stdout, "deleted %s/%s (its source is gone)\n", r.Container, r.Blob)
		case pipeline.Failed:
			fmt.Fprintf(stderr, "failed to delete %s/%s: %s\n", r.Container, r.Blob, r.Reason)
		}
		return
	}
	switch r.Outcome {
	case pipeline.Failed:
		fmt.Fprintf(stderr, "failed: %s: %s\n", src, r.Reason)
	case pipeline.Planned:
		how := string(r.Mode)
		if r.Blocks > 0 {
			how = fmt.Sprintf("%s, %d blocks", r.Mode, r.Blocks)
		}
		line := fmt.Sprintf("would copy %s -> %s/%s (%s, %s)", src, r.Container, r.Blob, pipeline.FormatBytes(r.Size), how)
		if r.Renamed {
			line += " [renamed]"
		}
		if r.Tier != "" {
			line += " [tier " + r.Tier + "]"
		}
		line += changed("metadata", r.Metadata) + changed("tags", r.Tags)
		fmt.Fprintln(stdout, line)
	case pipeline.Skipped:
		if r.Reason != "" {
			fmt.Fprintf(stdout, "skipped %s: %s\n", src, r.Reason)
		}
	}
}

// changed lists the decisions other than "kept", as " [what: k dropped, …]".
func changed(what string, ds []metadata.Decision) string {
	var parts []string
	for _, d := range ds {
		if d.Action != metadata.ActionKept {
			parts = append(parts, d.Key+" "+d.Action)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + what + ": " + strings.Join(parts, ", ") + "]"
}

// printSummary writes the final summary for a person.
func printSummary(w io.Writer, service string, s pipeline.Summary) {
	title := "Summary"
	if s.DryRun {
		title = "Dry run (nothing was written)"
	}
	fmt.Fprintf(w, "\n%s: -> %s\n", title, service)
	if len(s.Routes) > 1 || len(s.Routes) == 1 && s.Routes[0].Error != "" {
		fmt.Fprintf(w, "  %-32s %-32s %9s %9s %9s %9s\n", "bucket", "container", "objects", "done", "skipped", "failed")
		for _, r := range s.Routes {
			done := r.Copied + r.Planned
			fmt.Fprintf(w, "  %-32s %-32s %9d %9d %9d %9d\n", r.Bucket, r.Container, r.Objects, done, r.Skipped, r.Failed)
			if r.Note != "" {
				fmt.Fprintf(w, "    name: %s\n", r.Note)
			}
			if r.Error != "" {
				fmt.Fprintf(w, "    error: %s\n", r.Error)
			}
		}
	} else if len(s.Routes) == 1 {
		r := s.Routes[0]
		fmt.Fprintf(w, "  %s -> %s/%s\n", sourceURL(r.Bucket, r.Prefix), r.Container, r.DestPrefix)
	}
	fmt.Fprintf(w, "  objects listed:  %d (%s)\n", s.Objects, pipeline.FormatBytes(s.Bytes))
	if s.DryRun {
		fmt.Fprintf(w, "  would copy:      %d (%s)\n", s.Planned, pipeline.FormatBytes(s.PlannedBytes))
	} else {
		fmt.Fprintf(w, "  copied:          %d (%s)\n", s.Copied, pipeline.FormatBytes(s.CopiedBytes))
	}
	fmt.Fprintf(w, "  skipped:         %d (%s)\n", s.Skipped, pipeline.FormatBytes(s.SkippedBytes))
	printReasons(w, s.SkipReasons)
	if len(s.Filtered) > 0 {
		fmt.Fprintf(w, "  filtered out:    %d (%s)\n", total(s.Filtered), pipeline.FormatBytes(s.FilteredBytes))
		printReasons(w, s.Filtered)
	}
	if s.OtherShards > 0 {
		fmt.Fprintf(w, "  other shards:    %d (%s) (listed, left to the other shards)\n", s.OtherShards, pipeline.FormatBytes(s.OtherShardsBytes))
	}
	fmt.Fprintf(w, "  failed:          %d (%s)\n", s.Failed, pipeline.FormatBytes(s.FailedBytes))
	if s.ChangedSinceInventory > 0 {
		fmt.Fprintf(w, "  changed since the inventory: %d (copied as they are now)\n", s.ChangedSinceInventory)
	}
	if s.Unchanged > 0 {
		fmt.Fprintf(w, "  unchanged:       %d (already at the destination)\n", s.Unchanged)
	}
	if s.Deleted > 0 {
		verb := "deleted:       "
		if s.DryRun {
			verb = "would delete:  "
		}
		fmt.Fprintf(w, "  %s  %d (blobs whose source is gone)\n", verb, s.Deleted)
	}
	if s.SourcesDeleted > 0 {
		fmt.Fprintf(w, "  sources deleted: %d (moved: each deleted after its copy was verified)\n", s.SourcesDeleted)
	}
	if s.Extra > 0 {
		fmt.Fprintf(w, "  extra blobs:     %d (no source object; --delete-destination deletes them)\n", s.Extra)
	}
	if s.FailedRoutes > 0 {
		fmt.Fprintf(w, "  buckets failed:  %d\n", s.FailedRoutes)
	}
	if s.Renamed > 0 {
		fmt.Fprintf(w, "  renamed keys:    %d\n", s.Renamed)
	}
	if len(s.MetadataActions) > 0 {
		fmt.Fprintf(w, "  metadata and tag decisions other than kept: %d\n", total(s.MetadataActions))
		printReasons(w, s.MetadataActions)
	}
	if len(s.Streamed) > 0 {
		fmt.Fprintf(w, "  streamed:        %d (%s through this machine)\n", total(s.Streamed), pipeline.FormatBytes(s.StreamedBytes))
		printReasons(w, s.Streamed)
	}
	if s.Interrupted > 0 {
		fmt.Fprintf(w, "  interrupted:     %d\n", s.Interrupted)
	}
	if s.Warnings > 0 {
		fmt.Fprintf(w, "  warnings:        %d\n", s.Warnings)
	}
	fmt.Fprintf(w, "  elapsed:         %s (%.1f objects/s, %d requests)\n", s.Elapsed.Round(time.Millisecond), s.ObjectsPerSecond(), s.Requests)
	var created []string
	for _, r := range s.Routes {
		if r.ContainerCreated {
			created = append(created, r.Container)
		}
	}
	if len(created) > 0 {
		fmt.Fprintf(w, "  containers created: %s\n", strings.Join(created, ", "))
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(w, "Failed objects:\n")
		for _, f := range s.Failures {
			if f.Key == "" { // a sync's deletion
				fmt.Fprintf(w, "  delete %s/%s: %s\n", f.Container, f.Blob, f.Reason)
				continue
			}
			fmt.Fprintf(w, "  s3://%s/%s -> %s: %s\n", f.Bucket, f.Key, f.Blob, f.Reason)
		}
		if int64(len(s.Failures)) < s.Failed {
			fmt.Fprintf(w, "  ... and %d more (see stderr)\n", s.Failed-int64(len(s.Failures)))
		}
	}
}

// resultRecord is one line of the --results file (docs/usage.md documents
// the fields; keep them stable).
type resultRecord struct {
	Source      string           `json:"source"`
	Destination string           `json:"destination"`
	Size        int64            `json:"size"`
	ETag        string           `json:"etag,omitempty"`
	Outcome     string           `json:"outcome"`
	Mode        string           `json:"mode,omitempty"`
	Blocks      int              `json:"blocks,omitempty"`
	Resumed     int              `json:"resumed_blocks,omitempty"`
	Streamed    string           `json:"streamed,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	Attempts    int              `json:"attempts"`
	Renamed     bool             `json:"renamed,omitempty"`
	SrcDeleted  bool             `json:"source_deleted,omitempty"`
	Tier        string           `json:"tier,omitempty"`
	Metadata    []decisionRecord `json:"metadata,omitempty"`
	Tags        []decisionRecord `json:"tags,omitempty"`
	Warnings    []string         `json:"warnings,omitempty"`
}

type decisionRecord struct {
	Key    string `json:"key"`
	NewKey string `json:"new_key,omitempty"`
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
}

func decisions(ds []metadata.Decision) []decisionRecord {
	out := make([]decisionRecord, len(ds))
	for i, d := range ds {
		out[i] = decisionRecord{Key: d.Key, NewKey: d.NewKey, Action: d.Action, Reason: d.Reason}
	}
	return out
}

// record is r as a results-file line.
func record(r pipeline.ObjectResult) resultRecord {
	dest, src := "", ""
	if r.Blob != "" {
		dest = r.Container + "/" + r.Blob
	}
	if r.Key != "" {
		src = sourceURL(r.Bucket, r.Key)
	}
	return resultRecord{
		Source: src, Destination: dest, Size: r.Size, ETag: r.ETag,
		Outcome: string(r.Outcome), Mode: string(r.Mode), Blocks: r.Blocks, Resumed: r.Resumed, Streamed: r.Streamed, Reason: r.Reason,
		Attempts: r.Attempts, Renamed: r.Renamed, SrcDeleted: r.SourceDeleted, Tier: r.Tier,
		Metadata: decisions(r.Metadata), Tags: decisions(r.Tags), Warnings: r.Warnings,
	}
}

// writeResult appends r to the results file as one JSON line.
func writeResult(w io.Writer, r pipeline.ObjectResult) {
	line, _ := json.Marshal(record(r))
	fmt.Fprintf(w, "%s\n", line)
}

// printReasons prints a breakdown by reason under a summary line.
func printReasons(w io.Writer, m map[string]int64) {
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(w, "    %-40s %d\n", k+":", m[k])
	}
}

func total(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
