// Command migrate copies objects from Amazon S3 (or any S3-compatible
// server) into Azure Blob Storage. Azure pulls each object itself from a
// short-lived presigned S3 URL, so the payload never passes through the
// machine running migrate.
//
// This package turns flags and environment into typed options, wires the
// providers to the pipeline, prints the summary and maps the outcome to an
// exit code; it holds no copy logic of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Exit codes scripts can rely on (docs/usage.md).
const (
	exitOK          = 0   // every object arrived (skips are fine)
	exitFailed      = 1   // some objects failed, or the run stopped
	exitUsage       = 2   // bad arguments or configuration
	exitDifferences = 3   // verify found differences
	exitInterrupted = 130 // stopped by Ctrl-C / SIGTERM
)

// version and commit are set at build time with -ldflags
// "-X main.version=... -X main.commit=..."; commit falls back to the VCS
// stamp Go records when it can.
var version, commit = "dev", ""

func versionLine() string {
	c := commit
	if c == "" {
		c = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	return fmt.Sprintf("migrate %s (commit %s, %s)", version, c, runtime.Version())
}

// env reads the process environment; tests replace it.
type env func(string) string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors in the user's arguments or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const topUsage = `migrate copies objects from Amazon S3 into Azure Blob Storage, server-side; also
local folders into S3 or Azure, and S3 into S3.

Usage:
  migrate copy SRC DST [flags]   copy a bucket (or a prefix of it, or a local folder) into a container or bucket
  migrate move SRC DST [flags]   copy, verify each copy, then delete its source
  migrate plan SRC DST [flags]   decide everything and write nothing (copy --dry-run)
  migrate sync SRC DST [flags]   copy what is missing or changed; --delete-destination removes what went
  migrate verify SRC DST [flags] prove the destination matches the source
  migrate jobs list|show|resume|summary  the journaled jobs; finish one; merge shards' results
  migrate version                print the version
  migrate help [command]         show help

Examples:
  migrate plan s3://photos https://acct.blob.core.windows.net/photos   # review first
  migrate copy s3://photos https://acct.blob.core.windows.net/photos
  migrate copy s3:// https://acct.blob.core.windows.net/ --region eu-west-1
  migrate sync s3://photos https://acct.blob.core.windows.net/photos --delete-destination
  migrate verify s3://photos https://acct.blob.core.windows.net/photos --deep
  migrate copy ./build s3://releases/v2 --acl bucket-owner-full-control
  migrate move s3://staging/2024 s3://archive/2024
  migrate jobs resume 20261121T054812-3fa9c2

Run 'migrate COMMAND --help' for its flags. Documentation: docs/usage.md.
`

func run(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "copy", "cp":
		err = runCopy(ctx, args[1:], getenv, stdout, stderr)
	case "plan":
		err = runPlan(ctx, args[1:], getenv, stdout, stderr)
	case "sync":
		err = runSync(ctx, args[1:], getenv, stdout, stderr)
	case "move", "mv":
		err = runMove(ctx, args[1:], getenv, stdout, stderr)
	case "verify":
		err = runVerify(ctx, args[1:], getenv, stdout, stderr)
	case "jobs", "job":
		err = runJobs(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "help", "-h", "--help":
		if len(args) > 1 && (args[1] == "copy" || args[1] == "cp" || args[1] == "plan" || args[1] == "sync" || args[1] == "move" || args[1] == "mv" || args[1] == "verify" || args[1] == "jobs") {
			return run(ctx, []string{args[1], "--help"}, getenv, stdout, stderr)
		}
		fmt.Fprint(stdout, topUsage)
		return exitOK
	default:
		err = usagef("unknown command %q (commands: copy, move, plan, sync, verify, jobs, version, help)", args[0])
	}
	return exitCode(err, stderr)
}

// exitCode prints err, one line, and maps it to the exit code.
func exitCode(err error, stderr io.Writer) int {
	var fe failedError
	var vd verifyDiffError
	switch {
	case errors.As(err, &vd):
		return exitDifferences // the report already lists the differences
	case err == nil:
		return exitOK
	case errors.As(err, &fe):
		return exitFailed // the summary already says what failed
	case errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "migrate: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "migrate: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

// failedError says that the run finished with failed objects.
type failedError struct{ n int64 }

func (e failedError) Error() string { return fmt.Sprintf("%d objects failed", e.n) }
