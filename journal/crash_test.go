package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The helper process: the test binary re-executed with
// -test.run=^TestHelperProcess$ and these variables set.
const (
	envHelper = "JOURNAL_TEST_HELPER" // "crash" or "hold"
	envDir    = "JOURNAL_TEST_DIR"
	envID     = "JOURNAL_TEST_ID"
	envPage   = "JOURNAL_TEST_PAGE" // objects per page in "crash" mode
)

const crashRoute = "bucket/prefix -> container/prefix"

func crashKey(batch, i int) string { return fmt.Sprintf("obj/%06d/%03d", batch, i) }

func crashToken(batch int) string { return fmt.Sprintf("tok-%d", batch) }

// TestHelperProcess is not a test: it is the child process of
// TestCrashResume and TestLockedAcrossProcesses.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("helper process, run by other tests")
	}
	dir, id := os.Getenv(envDir), os.Getenv(envID)
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	switch mode {
	case "crash":
		// Batch b: record page b (its token says "next is page b+1"),
		// Finish its objects as Copied from four workers, Flush, report.
		// With pages over batchSize entries, the background writer commits
		// parts of a batch before its Flush.
		crashPageSize, err := strconv.Atoi(os.Getenv(envPage))
		if err != nil {
			die(err)
		}
		j, err := Create(dir, Job{ID: id, Command: "copy"})
		if err != nil {
			die(err)
		}
		fmt.Println("ready")
		for b := 0; ; b++ {
			page := make([]Entry, crashPageSize)
			for i := range page {
				page[i] = Entry{Key: crashKey(b, i), Size: int64(i), ETag: `"e"`}
			}
			if err := j.RecordPage(crashRoute, page, crashToken(b+1)); err != nil {
				die(err)
			}
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Go(func() {
					for i := w; i < crashPageSize; i += 4 {
						e := page[i]
						e.State, e.Blob, e.Attempts = Copied, e.Key, 1
						j.Finish(crashRoute, e)
					}
				})
			}
			wg.Wait()
			if err := j.Flush(); err != nil {
				die(err)
			}
			fmt.Printf("flushed %d\n", b)
		}
	case "hold":
		j, err := Open(dir, id)
		if err != nil {
			die(err)
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
		if err := j.Close(); err != nil {
			die(err)
		}
		os.Exit(0)
	}
	die(fmt.Errorf("unknown mode %q", mode))
}

func helper(t *testing.T, mode, dir, id string, env ...string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envDir+"="+dir, envID+"="+id)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("helper %s: first line %q, %v", mode, sc.Text(), sc.Err())
	}
	return cmd, sc, in
}

// TestCrashResume kills (SIGKILL) a process that is recording pages and
// finishing entries, at several moments, then opens its journal and checks
// that nothing it reported durable is lost and that the store is
// consistent.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	// Kill after the child reported this many flushed batches (-1: right
	// after it is ready), plus a small extra delay so the kill lands at
	// varying points inside a batch.
	for n, kill := range []struct {
		page  int
		after int
		delay time.Duration
	}{
		{100, -1, 0},
		{100, 0, 0},
		{100, 2, 300 * time.Microsecond},
		{100, 5, 2 * time.Millisecond},
		{100, 20, 700 * time.Microsecond},
		{100, 60, 12 * time.Millisecond},
		{2500, -1, 10 * time.Millisecond},
		{2500, 1, 25 * time.Millisecond},
		{2500, 2, 40 * time.Millisecond},
		{2500, 3, 55 * time.Millisecond},
		{2500, 4, 70 * time.Millisecond},
		{2500, 5, 85 * time.Millisecond},
	} {
		crashPageSize := kill.page
		t.Run(fmt.Sprintf("page%d/after%d+%v", kill.page, kill.after, kill.delay), func(t *testing.T) {
			dir := t.TempDir()
			id := fmt.Sprintf("crash-%d", n)
			cmd, sc, _ := helper(t, "crash", dir, id, fmt.Sprintf("%s=%d", envPage, kill.page))
			last := -1 // last batch the child reported flushed
			for last < kill.after && sc.Scan() {
				last = parseFlushed(t, sc.Text())
			}
			if kill.delay > 0 {
				time.Sleep(kill.delay)
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			for sc.Scan() { // lines written before the kill
				last = parseFlushed(t, sc.Text())
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Fatalf("child did not die by the signal: %v", err)
			}

			j, err := Open(dir, id)
			if err != nil {
				t.Fatalf("Open after kill: %v", err)
			}
			defer j.Close()
			rs, err := j.Route(crashRoute)
			if err != nil {
				t.Fatal(err)
			}
			pages := int(rs.Pages)
			if pages < last+1 || pages > last+2 {
				t.Errorf("%d pages recorded, child flushed %d batches", pages, last+1)
			}
			if pages > 0 && (rs.Token != crashToken(pages) || rs.Done || rs.Objects != int64(pages*crashPageSize)) {
				t.Errorf("Route = %+v after %d pages", rs, pages)
			}
			got, scanned := scan(t, j, crashRoute)
			if len(got) != pages*crashPageSize {
				t.Errorf("%d entries for %d pages: a page was recorded partly", len(got), pages)
			}
			var copiedAfter int
			for b := 0; b < pages; b++ {
				for i := 0; i < crashPageSize; i++ {
					e, ok := got[crashKey(b, i)]
					switch {
					case !ok:
						t.Fatalf("page %d: %s missing", b, crashKey(b, i))
					case b <= last && e.State != Copied:
						t.Fatalf("batch %d was flushed but %s is %v", b, e.Key, e.State)
					case e.State != Copied && e.State != Pending:
						t.Fatalf("%s is %v", e.Key, e.State)
					case e.State == Copied && (e.Blob != e.Key || e.Attempts != 1):
						t.Fatalf("Copied entry %+v", e)
					case e.State == Pending && (e.Size != int64(i) || e.ETag != `"e"`):
						t.Fatalf("Pending entry %+v", e)
					case b > last && e.State == Copied:
						copiedAfter++
					}
				}
			}
			counts, err := j.Counts(crashRoute)
			if err != nil || !reflect.DeepEqual(counts, scanned) {
				t.Errorf("Counts = %v, %v; scan gives %v", counts, err, scanned)
			}
			t.Logf("killed after %d flushed batches: %d pages recorded, %d entries, counts %v, %d copied past the last Flush",
				last+1, pages, len(got), counts, copiedAfter)

			// Resume: re-check the Pending entries, finish them, continue listing.
			var pending []Entry
			if err := j.Each(crashRoute, []State{Pending}, func(e Entry) error {
				pending = append(pending, e)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, e := range pending {
				e.State = Copied
				j.Finish(crashRoute, e)
			}
			if err := j.RecordPage(crashRoute, []Entry{{Key: crashKey(pages, 0)}}, ""); err != nil {
				t.Fatal(err)
			}
			j.Finish(crashRoute, Entry{Key: crashKey(pages, 0), State: Copied})
			if err := j.SetJob(JobDone, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if c, _ := j.Counts(crashRoute); len(c) != 1 || c[Copied] != int64(pages*crashPageSize+1) {
				t.Errorf("Counts after resume = %v", c)
			}
		})
	}
}

func parseFlushed(t *testing.T, line string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(line, "flushed "))
	if err != nil || !strings.HasPrefix(line, "flushed ") {
		t.Fatalf("child said %q", line)
	}
	return n
}

// TestLockedAcrossProcesses: a job open in one process cannot be opened by
// another (clear error, after LockTimeout, no hang), List and ReadJob still
// work meanwhile, and Open succeeds once the holder has gone.
func TestLockedAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	j, err := Create(dir, Job{Command: "copy"})
	if err != nil {
		t.Fatal(err)
	}
	id := j.Job().ID
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	cmd, _, stdin := helper(t, "hold", dir, id)

	start := time.Now()
	_, err = Open(dir, id)
	took := time.Since(start)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("Open while another process holds the job: %v", err)
	}
	if took < LockTimeout/2 || took > LockTimeout+2*time.Second {
		t.Errorf("Open gave up after %v; timeout %v", took, LockTimeout)
	}
	t.Logf("Open while locked: %v after %v", err, took.Round(time.Millisecond))

	start = time.Now()
	jobs, err := List(dir)
	if err != nil || len(jobs) != 1 || jobs[0].ID != id {
		t.Errorf("List while locked = %+v, %v", jobs, err)
	}
	if _, err := ReadJob(dir, id); err != nil {
		t.Errorf("ReadJob while locked: %v", err)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("List and ReadJob took %v while the job is locked", took)
	}

	_ = stdin.Close() // the holder closes its journal and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	j, err = Open(dir, id)
	if err != nil {
		t.Fatalf("Open after the holder exited: %v", err)
	}
	_ = j.Close()
}
