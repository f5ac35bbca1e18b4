package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/migrate-tool/migrate/naming"
	"github.com/migrate-tool/migrate/pipeline"
)

// reporter is how a run talks to the person or the script reading it.
type reporter interface {
	job(id, dir string)
	mappings(ms []naming.Mapping)
	object(r pipeline.ObjectResult)
	summary(service string, s pipeline.Summary)
	note(format string, a ...any)
	// close ends the output (the JSON summary is its last line).
	close()
	// errOut is where warnings go.
	errOut() io.Writer
	// redirect sends what would be printed for a person to w (a live
	// display prints it above its status line) until restore is called.
	redirect(w io.Writer) (restore func())
}

func newReporter(output string, p prices, stdout, stderr io.Writer) reporter {
	if output == "json" {
		return &jsonReporter{enc: json.NewEncoder(stdout), stderr: stderr, prices: p}
	}
	return &textReporter{stdout: stdout, stderr: stderr, prices: p}
}

// textReporter writes for a person: the text formats of report.go.
type textReporter struct {
	stdout, stderr io.Writer
	prices         prices
}

func (t *textReporter) job(id, dir string)             { fmt.Fprintf(t.stdout, "Job %s (journal %s)\n", id, dir) }
func (t *textReporter) mappings(ms []naming.Mapping)   { printMappings(t.stdout, ms) }
func (t *textReporter) object(r pipeline.ObjectResult) { reportObject(t.stdout, t.stderr, r) }
func (t *textReporter) note(format string, a ...any) {
	fmt.Fprintf(t.stdout, format+"\n", a...)
}
func (t *textReporter) close()            {}
func (t *textReporter) errOut() io.Writer { return t.stderr }
func (t *textReporter) redirect(w io.Writer) func() {
	out, err := t.stdout, t.stderr
	t.stdout, t.stderr = w, w
	return func() { t.stdout, t.stderr = out, err }
}
func (t *textReporter) summary(service string, s pipeline.Summary) {
	printSummary(t.stdout, service, s)
	printEstimate(t.stdout, s, t.prices)
}

// jsonReporter writes JSON Lines on stdout (docs/output.md): one "start"
// line, an "object" line per object that failed, was skipped or deleted,
// "note" lines, and a final "summary" line that is the whole report.
// Warnings still go to stderr as text.
type jsonReporter struct {
	mu     sync.Mutex // lines come from the workers and the progress ticker
	enc    *json.Encoder
	stderr io.Writer
	prices prices
	maps   []naming.Mapping
	sum    *summaryRecord // emitted last, by close
}

// schemaVersion is the version of the JSON output; it changes only when a
// field changes meaning or goes away (fields may be added).
const schemaVersion = 1

func (j *jsonReporter) emit(v any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(v)
}

func (j *jsonReporter) errOut() io.Writer { return j.stderr }
func (j *jsonReporter) redirect(w io.Writer) func() {
	err := j.stderr
	j.stderr = w
	return func() { j.stderr = err }
}

func (j *jsonReporter) job(id, dir string) {
	j.emit(map[string]any{"type": "start", "version": schemaVersion, "job": id, "journal": dir, "time": time.Now().UTC()})
}
func (j *jsonReporter) mappings(ms []naming.Mapping) { j.maps = ms }
func (j *jsonReporter) object(r pipeline.ObjectResult) {
	for _, w := range r.Warnings {
		fmt.Fprintf(j.stderr, "warning: %s: %s\n", sourceURL(r.Bucket, r.Key), w)
	}
	switch r.Outcome {
	case pipeline.Failed, pipeline.Skipped, pipeline.Deleted:
		j.emit(struct {
			Type string `json:"type"`
			resultRecord
		}{"object", record(r)})
	}
}
func (j *jsonReporter) note(format string, a ...any) {
	j.emit(map[string]any{"type": "note", "message": fmt.Sprintf(format, a...)})
}
func (j *jsonReporter) summary(service string, s pipeline.Summary) {
	d := summaryDoc(service, s, j.maps, j.prices)
	j.sum = &d
}

func (j *jsonReporter) close() {
	if j.sum != nil {
		j.emit(j.sum)
		j.sum = nil
	}
}

// summaryRecord is the final JSON line (docs/output.md documents every
// field; keep them stable).
type summaryRecord struct {
	Type           string           `json:"type"` // "summary"
	Version        int              `json:"version"`
	DryRun         bool             `json:"dry_run"`
	Destination    string           `json:"destination"`
	Totals         countsRecord     `json:"totals"`
	Buckets        []bucketRecord   `json:"buckets"`
	SkipReasons    map[string]int64 `json:"skip_reasons"`
	Filtered       map[string]int64 `json:"filtered"`
	Streamed       map[string]int64 `json:"streamed"`
	Metadata       map[string]int64 `json:"metadata_actions"`
	Largest        []largestRecord  `json:"largest"`
	Failures       []failureRecord  `json:"failures"`
	Estimate       estimateRecord   `json:"estimate"`
	Renamed        int64            `json:"renamed_keys"`
	Found          int64            `json:"found_at_destination"`
	SourcesDeleted int64            `json:"sources_deleted"`
	Unchanged      int64            `json:"unchanged"`
	// ChangedSince counts, in a --source-inventory run, the objects
	// copied as they are now because they changed since the inventory.
	ChangedSince int64   `json:"changed_since_inventory,omitempty"`
	Deleted      int64   `json:"deleted"`
	Extra        int64   `json:"extra_blobs"`
	Warnings     int64   `json:"warnings"`
	ElapsedSec   float64 `json:"elapsed_seconds"`
	Requests     int64   `json:"requests"`
	OK           bool    `json:"ok"`
}

type countsRecord struct {
	Objects       int64 `json:"objects"`
	Bytes         int64 `json:"bytes"`
	Copied        int64 `json:"copied"`
	CopiedBytes   int64 `json:"copied_bytes"`
	Planned       int64 `json:"planned"`
	PlannedBytes  int64 `json:"planned_bytes"`
	Skipped       int64 `json:"skipped"`
	SkippedBytes  int64 `json:"skipped_bytes"`
	Failed        int64 `json:"failed"`
	FailedBytes   int64 `json:"failed_bytes"`
	Interrupted   int64 `json:"interrupted"`
	StreamedBytes int64 `json:"streamed_bytes,omitempty"`
}

type bucketRecord struct {
	Bucket           string       `json:"bucket"`
	Prefix           string       `json:"prefix"`
	Container        string       `json:"container"`
	DestPrefix       string       `json:"dest_prefix"`
	NameNote         string       `json:"name_note,omitempty"`
	Error            string       `json:"error,omitempty"`
	ContainerCreated bool         `json:"container_created"`
	Counts           countsRecord `json:"counts"`
}

type largestRecord struct {
	Source string `json:"source"`
	Size   int64  `json:"size"`
}

type failureRecord struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Reason      string `json:"reason"`
}

type estimateRecord struct {
	pipeline.Requests
	CostUSD float64 `json:"cost_usd"`
	Prices  prices  `json:"prices"`
}

func counts(c pipeline.Counts) countsRecord {
	return countsRecord{Objects: c.Objects, Bytes: c.Bytes, Copied: c.Copied, CopiedBytes: c.CopiedBytes, Planned: c.Planned,
		PlannedBytes: c.PlannedBytes, Skipped: c.Skipped, SkippedBytes: c.SkippedBytes, Failed: c.Failed, FailedBytes: c.FailedBytes,
		Interrupted: c.Interrupted}
}

func summaryDoc(service string, s pipeline.Summary, maps []naming.Mapping, p prices) summaryRecord {
	d := summaryRecord{Type: "summary", Version: schemaVersion, DryRun: s.DryRun, Destination: service, Totals: counts(s.Counts),
		SkipReasons: s.SkipReasons, Filtered: s.Filtered, Streamed: s.Streamed, Metadata: s.MetadataActions,
		Estimate: estimateRecord{Requests: s.Estimate, CostUSD: p.cost(s.Estimate), Prices: p},
		Renamed:  s.Renamed, Found: s.Found, SourcesDeleted: s.SourcesDeleted, Unchanged: s.Unchanged, ChangedSince: s.ChangedSinceInventory, Deleted: s.Deleted, Extra: s.Extra, Warnings: s.Warnings,
		ElapsedSec: s.Elapsed.Seconds(), Requests: s.Requests, OK: s.OK(),
		Buckets: []bucketRecord{}, Largest: []largestRecord{}, Failures: []failureRecord{}}
	d.Totals.StreamedBytes = s.StreamedBytes
	for _, r := range s.Routes {
		d.Buckets = append(d.Buckets, bucketRecord{Bucket: r.Bucket, Prefix: r.Prefix, Container: r.Container, DestPrefix: r.DestPrefix,
			NameNote: r.Note, Error: r.Error, ContainerCreated: r.ContainerCreated, Counts: counts(r.Counts)})
	}
	for _, o := range s.Largest {
		d.Largest = append(d.Largest, largestRecord{Source: sourceURL(o.Bucket, o.Key), Size: o.Size})
	}
	for _, f := range s.Failures {
		d.Failures = append(d.Failures, failureRecord{Source: sourceURL(f.Bucket, f.Key), Destination: f.Blob, Reason: f.Reason})
	}
	return d
}

// prices are the list prices the cost estimate uses, in US dollars; flags
// change them (docs/usage.md gives the defaults' source).
type prices struct {
	S3RequestPer1000 float64 `json:"s3_get_head_per_1000"`
	S3ListPer1000    float64 `json:"s3_list_per_1000"`
	EgressPerGB      float64 `json:"s3_egress_per_gb"`
	AzureWritePer10k float64 `json:"azure_write_per_10000"`
	AzureReadPer10k  float64 `json:"azure_read_per_10000"`
	// src and dst name the ends in the text ("" = S3 and Azure); prices of
	// an end that is neither (a local folder; S3 as the destination) are
	// zero, so the estimate prices only what they apply to.
	src, dst string
}

// forEnds zeroes the prices that do not apply to a job's ends and names
// them for the text.
func (p prices) forEnds(j copyJob) prices {
	if j.srcLocal != "" {
		p.S3RequestPer1000, p.S3ListPer1000, p.EgressPerGB, p.src = 0, 0, 0, "local folder"
	}
	if j.dstS3 != nil {
		p.AzureWritePer10k, p.AzureReadPer10k, p.dst = 0, 0, "S3 destination"
	}
	return p
}

// cost estimates what the requests and the egress cost.
func (p prices) cost(q pipeline.Requests) float64 {
	return float64(q.S3Get+q.S3Head+q.S3Tagging)/1000*p.S3RequestPer1000 +
		float64(q.S3List)/1000*p.S3ListPer1000 +
		float64(q.EgressBytes)/(1<<30)*p.EgressPerGB +
		float64(q.AzureWrite)/10000*p.AzureWritePer10k +
		float64(q.AzureRead)/10000*p.AzureReadPer10k
}

// printEstimate prints the requests and their cost.
func printEstimate(w io.Writer, s pipeline.Summary, p prices) {
	q := s.Estimate
	what := "Requests"
	if s.DryRun {
		what = "Estimate"
	}
	src, dst := "S3", "Azure"
	if p.src != "" {
		src = p.src
	}
	if p.dst != "" {
		dst = p.dst
	}
	fmt.Fprintf(w, "%s: %s %d LIST, %d HEAD, %d tagging, %d GET (%s read); %s %d writes, %d reads; about $%.4f at the prices used",
		what, src, q.S3List, q.S3Head, q.S3Tagging, q.S3Get, pipeline.FormatBytes(q.EgressBytes), dst, q.AzureWrite, q.AzureRead, p.cost(q))
	var unpriced []string
	for _, e := range []string{p.src, p.dst} {
		if e != "" {
			unpriced = append(unpriced, e)
		}
	}
	if len(unpriced) > 0 {
		fmt.Fprintf(w, " (none for the %s)", strings.Join(unpriced, " or the "))
	}
	fmt.Fprintln(w)
	if len(s.Largest) > 0 {
		fmt.Fprintf(w, "Largest objects:\n")
		for _, o := range s.Largest {
			fmt.Fprintf(w, "  %10s  %s\n", pipeline.FormatBytes(o.Size), sourceURL(o.Bucket, o.Key))
		}
	}
}
