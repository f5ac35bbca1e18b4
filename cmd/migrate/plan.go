package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/migrate-tool/migrate/pipeline"
)

// runPlan is 'migrate plan': 'migrate copy --dry-run'.
func runPlan(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	return runCopy(ctx, append([]string{"--dry-run"}, args...), getenv, stdout, stderr)
}

// planHeader is the first line of a plan file.
type planHeader struct {
	Plan int      `json:"migrate_plan"` // the format version
	Args []string `json:"args"`         // the plan's command line, without secrets
}

func writePlanHeader(w io.Writer, args []string) error {
	// The plan is executed, not planned again: no --dry-run, no --plan-file.
	var kept []string
	redacted := redactArgs(args)
	for i := 0; i < len(redacted); i++ {
		a := redacted[i]
		switch {
		case a == "--dry-run" || a == "--dry-run=true" || strings.HasPrefix(a, "--plan-file="):
		case a == "--plan-file":
			i++ // and its value
		default:
			kept = append(kept, a)
		}
	}
	line, err := json.Marshal(planHeader{Plan: 1, Args: kept})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// runFromPlan executes a saved plan: the header's command line, with the
// listings replaced by the plan's objects (those still planned to be
// copied).
func runFromPlan(ctx context.Context, path string, getenv env, stdout, stderr io.Writer) error {
	fh, err := os.Open(path)
	if err != nil {
		return usagef("--from-plan: %v", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	if !sc.Scan() {
		return usagef("--from-plan: %s is empty", path)
	}
	var h planHeader
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Plan != 1 {
		return usagef("--from-plan: %s is not a migrate plan (its first line is not a plan header)", path)
	}
	j, err := parseCopy(h.Args, getenv, stderr)
	if err != nil {
		return err
	}
	j.pipeOpts.FromPlan = func(yield func(pipeline.PlannedObject) error) error {
		for n := 2; sc.Scan(); n++ {
			var r resultRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				return fmt.Errorf("%s line %d: %w", path, n, err)
			}
			if r.Outcome != string(pipeline.Planned) || r.Mode == string(pipeline.ModeDelete) {
				continue
			}
			bucket, key, ok := splitSourceURL(j.srcLocal, r.Source)
			if !ok {
				return fmt.Errorf("%s line %d: source %q is not an object of %s", path, n, r.Source, h.Args[0])
			}
			if err := yield(pipeline.PlannedObject{Bucket: bucket, Key: key, Size: r.Size, ETag: r.ETag}); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	rep := newReporter(j.output, j.prices, stdout, stderr)
	rep.note("Executing the plan in %s: migrate copy %s", path, strings.Join(h.Args, " "))
	return executeCopy(ctx, j, nil, false, rep, h.Args)
}
