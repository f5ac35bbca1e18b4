package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/pipeline"
)

// journalDir resolves --journal-dir: the flag, else $MIGRATE_JOURNAL_DIR,
// else ~/.migrate/jobs.
func journalDir(flag string, getenv env) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if d := getenv("MIGRATE_JOURNAL_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usagef("no home directory for the job journal (%v): set --journal-dir or MIGRATE_JOURNAL_DIR", err)
	}
	return filepath.Join(home, ".migrate", "jobs"), nil
}

// secretFlags take a secret value, never journaled: a resume takes it from
// the environment again (MIGRATE_SSE_C_KEY).
var secretFlags = map[string]bool{"--sse-c-key": true}

// redactArgs removes what must not be stored with a job: the values of
// secret flags, and query strings of URLs (a SAS; a resume reads
// AZURE_STORAGE_SAS_TOKEN instead).
func redactArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(a, "=")
		if secretFlags[name] {
			if !hasValue {
				i++ // the value is the next argument
			}
			continue
		}
		if u, err := url.Parse(a); err == nil && u.Scheme != "" && u.RawQuery != "" {
			u.RawQuery = ""
			a = u.String()
		}
		out = append(out, a)
	}
	return out
}

// finishJob records how the run ended in the journal and tells the user
// how to resume an interrupted or failed job.
func finishJob(jr *journal.Journal, runErr error, summary []byte, rep reporter) error {
	state := journal.JobDone
	switch {
	case errors.Is(runErr, context.Canceled):
		state = journal.JobInterrupted
	case runErr != nil:
		state = journal.JobFailed
	}
	if err := jr.SetJob(state, summary); err != nil && runErr == nil {
		runErr = fmt.Errorf("journal: %w", err)
	}
	var ue usageError
	if state != journal.JobDone && !errors.As(runErr, &ue) { // a configuration error is fixed and run anew
		rep.note("Job %s %s; resume with: migrate jobs resume %s", jr.Job().ID, state, jr.Job().ID)
	}
	return runErr
}

// printJobTotals shows the whole job (every run) from the journal.
func printJobTotals(rep reporter, jr *journal.Journal, routes []pipeline.Route) {
	if err := jr.Flush(); err != nil {
		rep.note("Job totals unavailable: %v", err)
		return
	}
	total := map[journal.State]int64{}
	for _, r := range routes {
		c, err := jr.Counts(r.String())
		if err != nil {
			rep.note("Job totals unavailable: %v", err)
			return
		}
		for k, v := range c {
			total[k] += v
		}
	}
	rep.note("Job %s, all runs: %d copied, %d skipped, %d failed, %d pending", jr.Job().ID,
		total[journal.Copied], total[journal.Skipped], total[journal.Failed], total[journal.Pending])
}

const jobsUsage = `Usage:
  migrate jobs list              the jobs in the journal, newest first
  migrate jobs show ID           one job: its command, state and counts, and its failures
  migrate jobs resume ID         finish an interrupted or failed job
  migrate jobs summary --results FILE|GLOB|FOLDER...
                                 merge the results of the shards of one job
                                 (--shard) into one summary and one exit code

Flags:
  --journal-dir DIR   where jobs are journaled (default $MIGRATE_JOURNAL_DIR, else ~/.migrate/jobs)
  --results PATH      summary: a results file, a glob, or a folder searched for
                      results.jsonl files (a journal directory shared by all
                      shards); repeatable

A summary exits 0 when every object was copied or skipped, 1 when some
failed or were interrupted, 2 when an object appears in two files (the files
are not the shards of one job).

A resume runs the job's command again with its journal: listing goes on after
the last recorded page, objects already copied are not copied again, objects
that failed are tried again. Secrets are never journaled: give them again
through the environment (AZURE_STORAGE_SAS_TOKEN for a SAS that was in the
destination URL, MIGRATE_SSE_C_KEY, AWS and Azure credentials).
`

func runJobs(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("jobs", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	dirFlag := fs.String("journal-dir", "", "where jobs are journaled")
	results := fs.StringArray("results", nil, "summary: results file, glob or folder (repeatable)")
	fs.Usage = func() { fmt.Fprint(stderr, jobsUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelp
		}
		return usagef("%v (see 'migrate jobs --help')", err)
	}
	dir, err := journalDir(*dirFlag, getenv)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usagef("jobs needs list, show ID, resume ID or summary (see 'migrate jobs --help')")
	}
	if len(*results) > 0 && rest[0] != "summary" {
		return usagef("--results belongs to 'migrate jobs summary'")
	}
	switch rest[0] {
	case "summary":
		return runJobsSummary(append(*results, rest[1:]...), stdout)
	case "list", "ls":
		jobs, err := journal.List(dir)
		if err != nil && len(jobs) == 0 {
			return fmt.Errorf("listing jobs in %s: %w", dir, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tCOMMAND")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\n", j.ID, j.State, j.Created.Local().Format("2006-01-02 15:04:05"), j.Command, strings.Join(j.Args, " "))
		}
		tw.Flush()
		if err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
		return nil
	case "show":
		if len(rest) != 2 {
			return usagef("jobs show needs a job ID")
		}
		return showJob(dir, rest[1], stdout)
	case "resume":
		if len(rest) != 2 {
			return usagef("jobs resume needs a job ID")
		}
		jr, err := journal.Open(dir, rest[1])
		if err != nil {
			return usagef("%v", err)
		}
		defer jr.Close()
		job := jr.Job()
		if job.Command != "copy" && job.Command != "move" {
			return usagef("job %s is a %q job; only copy and move jobs can be resumed", job.ID, job.Command)
		}
		if job.State == journal.JobDone {
			fmt.Fprintf(stdout, "Job %s is already done.\n", job.ID)
			return nil
		}
		cj, err := parseCopy(append(job.Args, "--journal-dir", dir), getenv, stderr)
		if err != nil {
			return err
		}
		cj.pipeOpts.DeleteSource = job.Command == "move"
		rep := newReporter(cj.output, cj.prices, stdout, stderr)
		rep.note("Resuming job %s: migrate %s %s", job.ID, job.Command, strings.Join(job.Args, " "))
		return executeCopy(ctx, cj, jr, true, rep, job.Args)
	}
	return usagef("unknown jobs command %q (use list, show, resume or summary)", rest[0])
}

// showJob prints one job; the counts need the journal itself, which a
// running job holds locked, so they are left out then.
func showJob(dir, id string, stdout io.Writer) error {
	job, err := journal.ReadJob(dir, id)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "Job:      %s\nState:    %s\nCreated:  %s\nUpdated:  %s\nCommand:  migrate %s %s\nJournal:  %s\n",
		job.ID, job.State, job.Created.Local().Format("2006-01-02 15:04:05"), job.Updated.Local().Format("2006-01-02 15:04:05"),
		job.Command, strings.Join(job.Args, " "), filepath.Join(dir, job.ID))
	jr, err := journal.Open(dir, id)
	if err != nil {
		fmt.Fprintf(stdout, "Counts:   unavailable (%v)\n", err)
		return nil
	}
	defer jr.Close()
	routes, err := jr.Routes()
	if err != nil {
		return err
	}
	for _, r := range routes {
		c, err := jr.Counts(r)
		if err != nil {
			return err
		}
		st, _ := jr.Route(r)
		listing := "listing finished"
		if !st.Done {
			listing = "listing not finished"
		}
		fmt.Fprintf(stdout, "Route %s: %d copied, %d skipped, %d failed, %d pending (%s)\n", r,
			c[journal.Copied], c[journal.Skipped], c[journal.Failed], c[journal.Pending], listing)
		shown := 0
		err = jr.Each(r, []journal.State{journal.Failed}, func(e journal.Entry) error {
			if shown++; shown > 20 {
				return errStop
			}
			fmt.Fprintf(stdout, "  failed: %s: %s\n", e.Key, e.Reason)
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
	}
	return nil
}

var errStop = errors.New("stop")
