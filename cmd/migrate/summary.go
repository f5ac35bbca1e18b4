package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/pipeline"
)

// resultsFileName is the per-object results file kept in each job's folder.
const resultsFileName = "results.jsonl"

// resultsFiles expands the --results arguments of 'jobs summary': a file,
// a glob, or a folder searched (recursively) for results.jsonl files, such
// as a journal directory shared by every shard. Each file appears once.
func resultsFiles(args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		matches := []string{a}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, usagef("--results %s: %v", a, err)
			}
			if len(m) == 0 {
				return nil, usagef("--results %s matches no file", a)
			}
			matches = m
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, usagef("--results: %v", err)
			}
			if !st.IsDir() {
				add(m)
				continue
			}
			n := len(out)
			err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && d.Name() == resultsFileName {
					add(p)
				}
				return nil
			})
			if err != nil {
				return nil, usagef("--results %s: %v", m, err)
			}
			if len(out) == n {
				return nil, usagef("--results %s: no %s in this folder", m, resultsFileName)
			}
		}
	}
	if len(out) == 0 {
		return nil, usagef("jobs summary needs results files: --results FILE|GLOB|FOLDER (repeatable)")
	}
	return out, nil
}

// mergedResults is the union of the results of the shards of one job.
type mergedResults struct {
	Files       int
	Jobs        []string // "ID (shard I/N, state)" for files kept in a job's folder
	Objects     int64
	Bytes       int64
	Outcomes    map[string]int64
	OutcomeSize map[string]int64
	SkipReasons map[string]int64
	Failures    []resultRecord // failed and interrupted objects, by source
	Duplicates  []string       // objects found in more than one file
	Shards      map[int]bool   // shard indexes seen (from the jobs' command lines)
	ShardCount  int            // N of those shards, -1 when they disagree
	BadLines    int
}

// mergeResults reads every file. Within one file a later line for the same
// object supersedes an earlier one (a resumed job appends to its file);
// across files the same object is a duplicate: two shards (or two jobs)
// handled it.
func mergeResults(files []string) (mergedResults, error) {
	m := mergedResults{Files: len(files), Outcomes: map[string]int64{}, OutcomeSize: map[string]int64{},
		SkipReasons: map[string]int64{}, Shards: map[int]bool{}}
	owner := map[string]int{} // object -> index of the file that holds it
	var all []resultRecord
	for fi, p := range files {
		last := map[string]int{} // object -> index in all
		fh, err := os.Open(p)
		if err != nil {
			return m, usagef("--results: %v", err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if len(strings.TrimSpace(string(line))) == 0 {
				continue
			}
			var r resultRecord
			if err := json.Unmarshal(line, &r); err != nil || r.Outcome == "" {
				m.BadLines++ // a plan file's header, or a line cut by a crash
				continue
			}
			id := r.Source
			if id == "" {
				id = "blob " + r.Destination
			}
			if i, ok := last[id]; ok {
				all[i] = r
				continue
			}
			if prev, ok := owner[id]; ok && prev != fi {
				m.Duplicates = append(m.Duplicates, fmt.Sprintf("%s (in %s and %s)", id, files[prev], p))
				continue
			}
			owner[id] = fi
			last[id] = len(all)
			all = append(all, r)
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return m, fmt.Errorf("reading %s: %w", p, err)
		}
		m.describeJob(p)
	}
	for _, r := range all {
		m.Objects++
		m.Bytes += r.Size
		m.Outcomes[r.Outcome]++
		m.OutcomeSize[r.Outcome] += r.Size
		switch r.Outcome {
		case string(pipeline.Skipped):
			reason, _, _ := strings.Cut(r.Reason, ": ")
			m.SkipReasons[reason]++
		case string(pipeline.Failed), string(pipeline.Interrupted):
			m.Failures = append(m.Failures, r)
		}
	}
	slices.SortFunc(m.Failures, func(a, b resultRecord) int { return strings.Compare(a.Source, b.Source) })
	slices.Sort(m.Duplicates)
	return m, nil
}

// describeJob notes the job a results file belongs to, when it is kept in
// a job's folder: its id, its shard and its state.
func (m *mergedResults) describeJob(path string) {
	if filepath.Base(path) != resultsFileName {
		return
	}
	dir := filepath.Dir(path)
	job, err := journal.ReadJob(filepath.Dir(dir), filepath.Base(dir))
	if err != nil {
		return
	}
	desc := job.ID + " (" + string(job.State)
	for i, a := range job.Args {
		v, ok := strings.CutPrefix(a, "--shard=")
		if !ok && a == "--shard" && i+1 < len(job.Args) {
			v, ok = job.Args[i+1], true
		}
		if !ok {
			continue
		}
		if s, err := pipeline.ParseShard(v); err == nil {
			desc += ", shard " + s.String()
			m.Shards[s.Index] = true
			switch m.ShardCount {
			case 0:
				m.ShardCount = s.Count
			case s.Count:
			default:
				m.ShardCount = -1
			}
		}
	}
	m.Jobs = append(m.Jobs, desc+")")
}

// OK is true when every object arrived or was skipped, and the files
// agree with each other.
func (m mergedResults) OK() bool {
	return m.Outcomes[string(pipeline.Failed)] == 0 && m.Outcomes[string(pipeline.Interrupted)] == 0 && len(m.Duplicates) == 0
}

// missingShards lists the shard indexes of N that no file came from.
func (m mergedResults) missingShards() []int {
	var out []int
	for i := 0; i < m.ShardCount; i++ {
		if !m.Shards[i] {
			out = append(out, i)
		}
	}
	return out
}

// runJobsSummary is 'migrate jobs summary --results ...'.
func runJobsSummary(args []string, stdout io.Writer) error {
	files, err := resultsFiles(args)
	if err != nil {
		return err
	}
	m, err := mergeResults(files)
	if err != nil {
		return err
	}
	w := stdout
	fmt.Fprintf(w, "Summary of %d results files\n", m.Files)
	for _, j := range m.Jobs {
		fmt.Fprintf(w, "  job %s\n", j)
	}
	switch {
	case m.ShardCount < 0:
		fmt.Fprintf(w, "  warning: the jobs are shards of different counts: they are not one job\n")
	case m.ShardCount > 0:
		if miss := m.missingShards(); len(miss) > 0 {
			fmt.Fprintf(w, "  warning: shards %v of %d have no results here\n", miss, m.ShardCount)
		} else {
			fmt.Fprintf(w, "  shards:          all %d\n", m.ShardCount)
		}
	}
	fmt.Fprintf(w, "  objects:         %d (%s)\n", m.Objects, pipeline.FormatBytes(m.Bytes))
	for _, o := range []pipeline.Outcome{pipeline.Copied, pipeline.Planned, pipeline.Skipped, pipeline.Failed, pipeline.Interrupted, pipeline.Deleted} {
		n := m.Outcomes[string(o)]
		if n == 0 && o != pipeline.Copied && o != pipeline.Failed {
			continue
		}
		fmt.Fprintf(w, "  %-16s %d (%s)\n", string(o)+":", n, pipeline.FormatBytes(m.OutcomeSize[string(o)]))
		if o == pipeline.Skipped {
			printReasons(w, m.SkipReasons)
		}
	}
	if m.BadLines > 0 {
		fmt.Fprintf(w, "  unreadable lines: %d (ignored)\n", m.BadLines)
	}
	if len(m.Failures) > 0 {
		fmt.Fprintf(w, "Failed or interrupted objects (%d):\n", len(m.Failures))
		for _, f := range m.Failures {
			reason := f.Reason
			if reason == "" {
				reason = f.Outcome
			}
			fmt.Fprintf(w, "  %s: %s\n", f.Source, reason)
		}
	}
	if len(m.Duplicates) > 0 {
		fmt.Fprintf(w, "Objects in more than one results file (%d): the files are not the shards of one job\n", len(m.Duplicates))
		for _, d := range m.Duplicates {
			fmt.Fprintf(w, "  %s\n", d)
		}
		return usageError{fmt.Errorf("%d objects appear in more than one results file, e.g. %s", len(m.Duplicates), m.Duplicates[0])}
	}
	if !m.OK() {
		return failedError{m.Outcomes[string(pipeline.Failed)] + m.Outcomes[string(pipeline.Interrupted)]}
	}
	return nil
}
