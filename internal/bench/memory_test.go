package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/internal/testenv/scale"
	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/pipeline"
)

// childEnv carries a childConfig to the memory benchmark's child process.
const childEnv = "MIGRATE_BENCH_CHILD"

// childConfig is one run of the child process.
type childConfig struct {
	S3URL, AzureURL string
	Objects         int
	Concurrency     int
	Journal         string // job journal directory, "" for none
}

// childResult is what the child reports on a line of its own.
type childResult struct {
	Copied     int64
	Seconds    float64
	HWMKiB     int64   // peak resident set (VmHWM)
	CPUSeconds float64 // user + system CPU of the whole child
	HeapSysMiB float64
	LiveMiB    float64 // heap still in use after the run and a GC: what a leak would leave
	Err        string
}

const childMarker = "BENCH-CHILD-RESULT "

// TestScaleChild is the memory benchmark's child process: it copies the
// fake's bucket and reports its own peak RSS. It skips at once unless the
// benchmark started it.
func TestScaleChild(t *testing.T) {
	env := os.Getenv(childEnv)
	if env == "" {
		t.Skip("runs only as BenchmarkMemory's child process")
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(env), &cfg); err != nil {
		t.Fatal(err)
	}
	src, dst := clients(t, cfg.S3URL, cfg.AzureURL, nil, nil)
	o := pipeline.Options{Routes: []pipeline.Route{{Bucket: "bench", Container: "c"}}, TransferMode: pipeline.ServerSide,
		Concurrency: cfg.Concurrency}
	if cfg.Journal != "" {
		j, err := journal.Create(cfg.Journal, journal.Job{Command: "copy"})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		o.Journal, o.JobStarted = j, time.Now()
	}
	var res childResult
	c, err := pipeline.New(src, dst, o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sum, err := c.Run(context.Background())
	res.Seconds = time.Since(start).Seconds()
	res.Copied = sum.Copied
	if err != nil || sum.Copied != int64(cfg.Objects) {
		res.Err = fmt.Sprintf("copied %d of %d: %v %v", sum.Copied, cfg.Objects, err, sum.Failures)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapSysMiB = float64(ms.HeapSys) / (1 << 20)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.LiveMiB = float64(ms.HeapAlloc) / (1 << 20)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	res.HWMKiB, err = vmHWM()
	if err != nil {
		res.Err = err.Error()
	}
	line, _ := json.Marshal(res)
	fmt.Printf("\n%s%s\n", childMarker, line)
}

// vmHWM reads this process's peak resident set size from /proc.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS needs Linux's /proc: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// runChild runs one copy in a child process (this test binary again), so
// the peak RSS is the copy's own and not the fake's or an earlier run's.
func runChild(tb testing.TB, cfg childConfig) childResult {
	tb.Helper()
	env, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(env))
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("child: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, childMarker); ok {
			var res childResult
			if err := json.Unmarshal([]byte(v), &res); err != nil {
				tb.Fatal(err)
			}
			if res.Err != "" {
				tb.Fatalf("child: %s", res.Err)
			}
			return res
		}
	}
	tb.Fatalf("child printed no result:\n%s", out)
	return childResult{}
}

// BenchmarkMemory is figure 2: the peak RSS of a process planning and
// copying N objects server-side (N from -bench.memory-objects), measured in
// a child process so that it is the copy's own.
func BenchmarkMemory(b *testing.B) {
	journals := []bool{false}
	if *memoryJournal {
		journals = append(journals, true)
	}
	for _, field := range strings.Split(*memoryObjects, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			b.Fatalf("-bench.memory-objects: %v", err)
		}
		for _, withJournal := range journals {
			b.Run(fmt.Sprintf("objects=%d/journal=%t/concurrency=%d", n, withJournal, *memoryConcurrency), func(b *testing.B) {
				f := startFake(b, scale.Options{Objects: n})
				var peak int64
				var objects int64
				var seconds, cpu float64
				for range b.N {
					cfg := childConfig{S3URL: f.S3URL, AzureURL: f.AzureURL, Objects: n, Concurrency: *memoryConcurrency}
					if withJournal {
						cfg.Journal = b.TempDir()
					}
					res := runChild(b, cfg)
					peak = max(peak, res.HWMKiB)
					objects += res.Copied
					seconds += res.Seconds
					cpu += res.CPUSeconds
					b.ReportMetric(res.HeapSysMiB, "heap-sys-MiB")
					b.ReportMetric(res.LiveMiB, "live-heap-after-MiB")
				}
				b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
				b.ReportMetric(float64(objects)/seconds, "objects/s")
				b.ReportMetric(1e6*cpu/float64(objects), "client-CPU-us/object")
			})
		}
	}
}
