package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/internal/testenv"
	"github.com/migrate-tool/migrate/providers/providertest"
)

// started is a migrate process the test can kill from a proxy hook.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	once           sync.Once
}

func (w *world) start(t *testing.T, args ...string) *started {
	t.Helper()
	s := &started{cmd: exec.Command(binary(t), args...)}
	s.cmd.Env = w.childEnv(w.azureKey()...)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// kill is kill -9.
func (s *started) kill() { s.once.Do(func() { _ = s.cmd.Process.Kill() }) }

// TestKillAndResume kills migrate with SIGKILL at several moments (during
// listing, mid-object with blocks staged, between objects), resumes the
// job, and checks that everything arrived and nothing was fetched twice.
func TestKillAndResume(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-resume"
	objs := map[string][]byte{"big.bin": providertest.Data(2<<20, 1)} // 8 blocks of 256 KiB
	for i := range 60 {
		objs[fmt.Sprintf("small/%02d", i)] = providertest.Data(1000+i, uint32(i))
	}
	var seeds []seed
	for k, v := range objs {
		seeds = append(seeds, seed{key: k, data: v})
	}
	w.seed(t, bucket, seeds)

	cases := []struct {
		name string
		// kill says, for each request the proxy sees, whether to kill now.
		kill func(r testenv.S3Record, lists, presigned, bigBlocks int) bool
	}{
		{"during listing", func(r testenv.S3Record, lists, _, _ int) bool { return lists == 3 }},
		{"mid-object with blocks staged", func(r testenv.S3Record, _, _, bigBlocks int) bool { return bigBlocks == 4 }},
		{"between objects", func(r testenv.S3Record, _, presigned, _ int) bool { return presigned == 25 }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			container := fmt.Sprintf("resume-%d", i)
			journals := t.TempDir()
			args := []string{"copy", "s3://" + bucket, w.az.Endpoint + "/" + container, "--s3-endpoint", w.proxy.URL,
				"--journal-dir", journals, "--page-size", "10", "--concurrency", "1",
				"--put-blob-max-size", "256KiB", "--block-size", "256KiB", "--transfer-mode", "server-side"}
			w.proxy.Reset()
			var mu sync.Mutex
			var lists, presigned, bigBlocks int
			var child *started
			killed := make(chan struct{})
			w.proxy.SetRequestHook(func(r testenv.S3Record) int {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.Authorized && r.Method == "GET" && r.Key == "" && strings.Contains(r.RawQueryRedacted, "list-type=2"):
					lists++
				case r.Presigned && r.Method == "GET" && r.Key == "big.bin":
					bigBlocks++
				case r.Presigned && r.Method == "GET":
					presigned++
				default:
					return 0
				}
				if child != nil && tc.kill(r, lists, presigned, bigBlocks) {
					child.kill()
					close(killed)
					return http.StatusServiceUnavailable // the dead process's request never lands
				}
				return 0
			})
			mu.Lock()
			child = w.start(t, args...)
			mu.Unlock()
			select {
			case <-killed:
			case <-time.After(2 * time.Minute):
				child.kill()
				t.Fatalf("the kill point was never reached\n%s\n%s", child.stdout.String(), child.stderr.String())
			}
			_ = child.cmd.Wait()
			w.proxy.SetRequestHook(nil)
			if child.cmd.ProcessState.ExitCode() != -1 {
				t.Fatalf("the child was not killed: exit %d", child.cmd.ProcessState.ExitCode())
			}
			ids, _ := filepath.Glob(filepath.Join(journals, "*", "job.json"))
			if len(ids) != 1 {
				t.Fatalf("journal holds %v", ids)
			}
			id := filepath.Base(filepath.Dir(ids[0]))
			arrived := w.listBlobs(t, container)
			firstRun := w.proxy.Records()

			code, stdout, stderr := w.run(t, "jobs", "resume", id, "--journal-dir", journals)
			if code != 0 {
				t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, fmt.Sprintf("all runs: %d copied, 0 skipped, 0 failed, 0 pending", len(objs))) {
				t.Errorf("the resumed summary does not cover the whole job:\n%s", stdout)
			}
			for k, v := range objs {
				if got := w.download(t, container, k); !bytes.Equal(got, v) {
					t.Errorf("%s differs after resume", k)
				}
			}
			// Nothing was fetched twice: every object (every block of the
			// big one) was fetched successfully exactly once over both runs
			// (the request in flight at the kill was refused), and the
			// resume fetched nothing that had arrived.
			fetched := map[string]int{}
			for i, r := range w.proxy.Records() {
				if r.Presigned && r.Method == "GET" && r.Status < 300 {
					fetched[r.Key+" "+r.Range]++
					if _, ok := arrived[r.Key]; ok && i >= len(firstRun) {
						t.Errorf("the resume fetched %s again although it had arrived", r.Key)
					}
				}
			}
			for k, n := range fetched {
				if n != 1 {
					t.Errorf("%s fetched %d times", k, n)
				}
			}
			if len(fetched) != len(objs)-1+8 {
				t.Errorf("%d distinct fetches, want %d", len(fetched), len(objs)-1+8)
			}
			code, stdout, _ = w.run(t, "jobs", "show", id, "--journal-dir", journals)
			if code != 0 || !strings.Contains(stdout, "State:    done") || !strings.Contains(stdout, fmt.Sprintf("%d copied", len(objs))) {
				t.Errorf("jobs show: exit %d\n%s", code, stdout)
			}
		})
	}
}

// TestInterruptPrintsResumeAndExits130: Ctrl-C stops the run gracefully,
// says how to resume, exits 130; the resume finishes the job.
func TestInterruptPrintsResumeAndExits130(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-interrupt"
	objs := map[string][]byte{}
	var seeds []seed
	for i := range 40 {
		k := fmt.Sprintf("o%02d", i)
		objs[k] = providertest.Data(500+i, uint32(i))
		seeds = append(seeds, seed{key: k, data: objs[k]})
	}
	w.seed(t, bucket, seeds)
	journals := t.TempDir()
	w.proxy.Reset()
	var mu sync.Mutex
	var child *started
	n := 0
	w.proxy.SetRequestHook(func(r testenv.S3Record) int {
		mu.Lock()
		defer mu.Unlock()
		if r.Presigned && r.Method == "GET" {
			if n++; n == 15 && child != nil {
				_ = child.cmd.Process.Signal(os.Interrupt)
			}
		}
		return 0
	})
	mu.Lock()
	child = w.start(t, "copy", "s3://"+bucket, w.az.Endpoint+"/interrupted", "--s3-endpoint", w.proxy.URL,
		"--journal-dir", journals, "--concurrency", "2")
	mu.Unlock()
	err := child.cmd.Wait()
	w.proxy.SetRequestHook(nil)
	if code := child.cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d (%v), want 130\n%s\n%s", code, err, child.stdout.String(), child.stderr.String())
	}
	out := child.stdout.String()
	i := strings.Index(out, "resume with: migrate jobs resume ")
	if i < 0 || !strings.Contains(out, "interrupted") {
		t.Fatalf("no resume hint:\n%s", out)
	}
	id := strings.Fields(out[i+len("resume with: migrate jobs resume "):])[0]
	arrived := w.listBlobs(t, "interrupted") // what the first run got across
	if len(arrived) == 0 || len(arrived) == len(objs) {
		t.Fatalf("%d of %d objects arrived before the interruption; want some, not all", len(arrived), len(objs))
	}
	w.proxy.Reset()
	code, stdout, stderr := w.run(t, "jobs", "list", "--journal-dir", journals)
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "interrupted") {
		t.Errorf("jobs list: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = w.run(t, "jobs", "resume", id, "--journal-dir", journals)
	if code != 0 || !strings.Contains(stdout, "all runs: 40 copied") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for k, v := range objs {
		if got := w.download(t, "interrupted", k); !bytes.Equal(got, v) {
			t.Errorf("%s differs", k)
		}
	}
	// The resume fetched what had not arrived, once each, and nothing that
	// had (an object cut off in flight did not arrive: fetching it again is
	// right).
	fetched := map[string]int{}
	for _, r := range w.proxy.Records() {
		if r.Presigned && r.Method == "GET" && r.Status < 300 {
			fetched[r.Key]++
		}
	}
	for k := range objs {
		_, was := arrived[k]
		if n := fetched[k]; was && n != 0 || !was && n != 1 {
			t.Errorf("%s: arrived in the first run %v, fetched %d times by the resume", k, was, n)
		}
	}
	// A finished job resumes to nothing.
	code, stdout, _ = w.run(t, "jobs", "resume", id, "--journal-dir", journals)
	if code != 0 || !strings.Contains(stdout, "already done") {
		t.Errorf("second resume: exit %d\n%s", code, stdout)
	}
}
