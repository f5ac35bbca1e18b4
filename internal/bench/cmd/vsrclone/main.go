// Command vsrclone runs migrate and rclone side by side on the local rig
// (versitygw, Azurite and its copy-source front, all on 127.0.0.1), on the
// same data, and prints one table: wall time, client CPU seconds and bytes
// through the client for each tool and data set (issue 10, item 6).
//
// It starts the rig, seeds two buckets with random objects (by default
// 2,000 of 4 KiB and 5 of 64 MiB), then for each data set runs
// `migrate copy` (server-side, default options) and `rclone copy` (which
// streams through the client) into fresh containers. Each tool talks to S3
// and to Azure through a counting TCP proxy; a connection dialled from this
// process (the copy-source front fetching a presigned URL: Azure's side of
// a server-side copy) is counted as the rig's, every other one as the
// tool's, checked against the tool's open sockets in /proc. CPU seconds are
// the tool process's user+sys time (wait4's rusage). After each run every
// blob is downloaded from Azurite and compared with its object's MD5; any
// difference fails the run.
//
// scripts/bench-rclone.sh installs rclone, builds migrate and runs this.
// Linux only (it reads /proc); it talks to nothing but 127.0.0.1.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/migrate-tool/migrate/internal/testenv"
)

type config struct {
	migrate, rclone string
	small, large    int
	smallSize       int64
	largeSize       int64
	runs            int
	rcloneSmall     string
	rcloneLarge     string
	out             string
	wrap            string
}

func main() {
	var c config
	flag.StringVar(&c.migrate, "migrate", ".rig/bin/migrate", "the migrate binary")
	flag.StringVar(&c.rclone, "rclone", ".rig/bin/rclone", "the rclone binary")
	flag.IntVar(&c.small, "small-objects", 2000, "objects in the small data set")
	flag.Int64Var(&c.smallSize, "small-size", 4<<10, "size of each small object, bytes")
	flag.IntVar(&c.large, "large-objects", 5, "objects in the large data set")
	flag.Int64Var(&c.largeSize, "large-size", 64<<20, "size of each large object, bytes")
	flag.IntVar(&c.runs, "runs", 1, "rounds over both data sets (each tool alternately first)")
	flag.StringVar(&c.rcloneSmall, "rclone-small-flags", "--transfers 64 --checkers 64", "rclone flags for the small data set")
	flag.StringVar(&c.rcloneLarge, "rclone-large-flags", "--transfers 8 --checkers 8", "rclone flags for the large data set")
	flag.StringVar(&c.wrap, "migrate-wrap", "", "diagnostics only: a command to run migrate under, e.g. \"perf record -g -o FILE --\" (its CPU then counts too)")
	flag.StringVar(&c.out, "out", "", "directory for the tools' logs (default: a new temporary directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vsrclone: FAILED:", err)
		os.Exit(1)
	}
}

// dataset is one seeded bucket.
type dataset struct {
	name   string // "small", "large"
	bucket string
	size   int64 // of each object
	md5s   map[string][16]byte
	flags  string // rclone's
}

func (d *dataset) payload() int64 { return int64(len(d.md5s)) * d.size }

// result is one tool's run over one data set.
type result struct {
	round       int
	tool        string
	set         *dataset
	wall        time.Duration
	cpu         time.Duration // user+sys of the tool's process
	user, sys   time.Duration
	maxRSS      int64 // bytes, VmHWM sampled every 20 ms
	s3, az      *countingProxy
	rigCPU      time.Duration // this process (front, proxies) + versitygw + Azurite during the run
	frontSource int64         // bytes the front fetched from copy sources during the run
}

// clientBytes is what the issue counts: bytes the tool received from S3
// plus bytes it sent to Azure.
func (r *result) clientBytes() int64 { return r.s3.tool.received.Load() + r.az.tool.sent.Load() }

func run(ctx context.Context, c config) error {
	for _, b := range []*string{&c.migrate, &c.rclone} {
		abs, err := filepath.Abs(*b)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%w (scripts/bench-rclone.sh builds and installs both tools)", err)
		}
		*b = abs
	}
	if c.out == "" {
		d, err := os.MkdirTemp("", "vsrclone-*")
		if err != nil {
			return err
		}
		c.out = d
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	printMachine(ctx, c)

	trackSelfDials() // before the front starts: its fetches are the rig's
	s3srv, err := testenv.StartS3(ctx, testenv.S3Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer s3srv.Stop()
	az, err := testenv.StartAzure(ctx, testenv.AzureOptions{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer az.Stop()
	rigPIDs := children()

	s3c, err := s3srv.NewClient(ctx)
	if err != nil {
		return err
	}
	sets := []*dataset{
		{name: "small", bucket: "bench-small", size: c.smallSize, flags: c.rcloneSmall},
		{name: "large", bucket: "bench-large", size: c.largeSize, flags: c.rcloneLarge},
	}
	counts := []int{c.small, c.large}
	for i := len(sets) - 1; i >= 0; i-- {
		if counts[i] <= 0 { // a data set can be left out
			sets, counts = slices.Delete(sets, i, i+1), slices.Delete(counts, i, i+1)
		}
	}
	for i, d := range sets {
		start := time.Now()
		if err := seed(ctx, s3c, d, counts[i]); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "== seeded s3://%s: %d objects of %d bytes (%.1f s)\n", d.bucket, len(d.md5s), d.size, time.Since(start).Seconds())
	}
	azc, err := blobClient(az)
	if err != nil {
		return err
	}

	var results []*result
	for round := 1; round <= c.runs; round++ {
		for _, d := range sets {
			tools := []string{"migrate", "rclone"}
			if round%2 == 0 {
				slices.Reverse(tools)
			}
			for _, tool := range tools {
				r, err := runOne(ctx, c, s3srv, az, azc, rigPIDs, d, tool, round)
				if err != nil {
					return err
				}
				results = append(results, r)
				fmt.Fprintf(os.Stderr, "   %s %s: %.2f s wall, %.2f s CPU, %d client bytes; every blob verified\n",
					tool, d.name, r.wall.Seconds(), r.cpu.Seconds(), r.clientBytes())
			}
		}
	}
	printTable(results)
	fmt.Printf("\nlogs: %s\n", c.out)
	return nil
}

// seed puts n random objects of d.size bytes into a new bucket.
func seed(ctx context.Context, s3c *awss3.Client, d *dataset, n int) error {
	if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(d.bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", d.bucket, err)
	}
	d.md5s = make(map[string][16]byte, n)
	var mu sync.Mutex
	workers := 16
	if d.size >= 16<<20 {
		workers = 2
	}
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, d.size)
			for i := range jobs {
				r := rand.New(rand.NewChaCha8(seedFor(d.name, i)))
				fill(r, buf)
				key := fmt.Sprintf("%s/obj-%05d", d.name, i)
				if _, err := s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(key), Body: bytes.NewReader(buf)}); err != nil {
					errs <- fmt.Errorf("put s3://%s/%s: %w", d.bucket, key, err)
					return
				}
				mu.Lock()
				d.md5s[key] = md5.Sum(buf)
				mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func seedFor(set string, i int) [32]byte {
	var s [32]byte
	copy(s[:], set)
	s[16], s[17], s[18], s[19] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
	return s
}

func fill(r *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		b[i], b[i+1], b[i+2], b[i+3], b[i+4], b[i+5], b[i+6], b[i+7] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
}

// runOne copies d with tool into a fresh container through new counting
// proxies, verifies the container and deletes it.
func runOne(ctx context.Context, c config, s3srv *testenv.S3Server, az *testenv.AzureServer, azc *azblob.Client, rigPIDs []int, d *dataset, tool string, round int) (*result, error) {
	container := fmt.Sprintf("%s-%s-%d", tool, d.name, round)
	s3p, err := newCountingProxy(strings.TrimPrefix(s3srv.Endpoint, "http://"), false)
	if err != nil {
		return nil, err
	}
	azp, err := newCountingProxy(strings.TrimPrefix(az.Front.URL, "http://"), true)
	if err != nil {
		s3p.Close()
		return nil, err
	}
	s3URL, azURL := "http://"+s3p.Addr, "http://"+azp.Addr+"/"+az.Account
	logPath := filepath.Join(c.out, container+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	var cmd *exec.Cmd
	switch tool {
	case "migrate":
		argv := append(strings.Fields(c.wrap), c.migrate, "copy", "s3://"+d.bucket, azURL+"/"+container, "--s3-endpoint", s3URL)
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID="+s3srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3srv.SecretKey, "AWS_REGION="+s3srv.Region,
			"AWS_EC2_METADATA_DISABLED=true",
			"AZURE_STORAGE_ACCOUNT="+az.Account, "AZURE_STORAGE_KEY="+az.Key,
			"MIGRATE_JOURNAL_DIR="+filepath.Join(c.out, "journal"))
	case "rclone":
		cfg := filepath.Join(c.out, container+".rclone.conf")
		conf := fmt.Sprintf(`[src]
type = s3
provider = Other
endpoint = %s
access_key_id = %s
secret_access_key = %s
region = %s
force_path_style = true

[dst]
type = azureblob
account = %s
key = %s
endpoint = %s
`, s3URL, s3srv.AccessKey, s3srv.SecretKey, s3srv.Region, az.Account, az.Key, azURL)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		args := []string{"copy", "src:" + d.bucket, "dst:" + container, "--config", cfg, "--stats", "0"}
		args = append(args, strings.Fields(d.flags)...)
		cmd = exec.CommandContext(ctx, c.rclone, args...)
		// AWS_CA_BUNDLE breaks rclone's S3 backend (see DESIGN.md).
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_CA_BUNDLE=") })
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(os.Stderr, "== round %d, %s set: %s\n", round, d.name, strings.Join(cmd.Args, " "))

	rig0 := rigCPU(rigPIDs)
	front0 := az.Front.Stats().SourceBytes
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s3p.setToolPID(cmd.Process.Pid)
	azp.setToolPID(cmd.Process.Pid)
	exited := make(chan struct{})
	rss := make(chan int64, 1)
	go func() { rss <- sampleHWM(cmd.Process.Pid, exited) }()
	werr := cmd.Wait()
	wall := time.Since(start)
	close(exited)
	rig1 := rigCPU(rigPIDs)
	s3p.Close()
	azp.Close()
	if werr != nil {
		return nil, fmt.Errorf("%s on the %s set: %w; its output (%s):\n%s", tool, d.name, werr, logPath, tail(logPath))
	}
	st := cmd.ProcessState
	r := &result{
		round: round, tool: tool, set: d, wall: wall,
		cpu: st.UserTime() + st.SystemTime(),
		s3:  s3p, az: azp,
		rigCPU:      rig1 - rig0,
		frontSource: az.Front.Stats().SourceBytes - front0,
	}
	r.user, r.sys = st.UserTime(), st.SystemTime()
	r.maxRSS = <-rss
	// Only the front dials from this process, and only to the S3 proxy, and
	// only for migrate: anything else means the classification is wrong.
	if n := azp.rig.conns.Load(); n > 0 || tool == "rclone" && s3p.rig.conns.Load() > 0 {
		return nil, fmt.Errorf("%s on the %s set: %d connections to the Azure proxy and %d to the S3 proxy were taken for the rig's: the byte counts cannot be trusted", tool, d.name, n, s3p.rig.conns.Load())
	}
	if n := s3p.unverified.Load() + azp.unverified.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "   note: %d of the tool's connections could not be matched to its process in /proc (counted as its own anyway)\n", n)
	}
	if err := verify(ctx, azc, container, d); err != nil {
		return nil, fmt.Errorf("%s on the %s set: %w", tool, d.name, err)
	}
	if _, err := azc.DeleteContainer(ctx, container, nil); err != nil {
		return nil, fmt.Errorf("delete container %s: %w", container, err)
	}
	return r, nil
}

// sampleHWM reads the peak resident set (VmHWM) of pid every 20 ms until
// exited is closed and returns the last value read. (wait4's ru_maxrss is
// no use here: after a vfork+exec it starts from the parent's peak.)
func sampleHWM(pid int, exited <-chan struct{}) int64 {
	var hwm int64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					if f := strings.Fields(v); len(f) > 0 {
						if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && kb<<10 > hwm {
							hwm = kb << 10
						}
					}
				}
			}
		}
		select {
		case <-exited:
			return hwm
		case <-t.C:
		}
	}
}

func blobClient(az *testenv.AzureServer) (*azblob.Client, error) {
	cred, err := azblob.NewSharedKeyCredential(az.Account, az.Key)
	if err != nil {
		return nil, err
	}
	return azblob.NewClientWithSharedKeyCredential(az.AzuriteEndpoint+"/", cred, nil)
}

// verify lists container, which must hold exactly d's keys, and downloads
// every blob from Azurite to compare its MD5 with its object's.
func verify(ctx context.Context, azc *azblob.Client, container string, d *dataset) error {
	var names []string
	pager := azc.NewListBlobsFlatPager(container, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", container, err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	if len(names) != len(d.md5s) {
		return fmt.Errorf("container %s holds %d blobs, the bucket %d objects", container, len(names), len(d.md5s))
	}
	jobs := make(chan string)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				if err := verifyBlob(ctx, azc, container, name, d); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d blobs in %s wrong, first: %w", len(errs), len(names), container, errs[0])
	}
	return nil
}

func verifyBlob(ctx context.Context, azc *azblob.Client, container, name string, d *dataset) error {
	want, ok := d.md5s[name]
	if !ok {
		return fmt.Errorf("blob %s/%s: no such object", container, name)
	}
	resp, err := azc.DownloadStream(ctx, container, name, nil)
	if err != nil {
		return fmt.Errorf("blob %s/%s: %w", container, name, err)
	}
	defer resp.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return fmt.Errorf("blob %s/%s: %w", container, name, err)
	}
	if got := [16]byte(h.Sum(nil)); got != want {
		return fmt.Errorf("blob %s/%s: MD5 %x, its object's %x", container, name, got, want)
	}
	return nil
}

// children returns the PIDs of this process's children now: versitygw and
// Azurite (the tools run later).
func children() []int {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 1 && f[1] == strconv.Itoa(self) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, first).
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// rigCPU is the CPU time used so far by this process (the front and the
// proxies) and by pids (versitygw, Azurite).
func rigCPU(pids []int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range pids {
		if f := statFields(pid); len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64) // utime, clock ticks (USER_HZ = 100)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			t += time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	return t
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func printMachine(ctx context.Context, c config) {
	model, mem := "?", "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	first := func(bin string, args ...string) string {
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	fmt.Printf("machine: %d CPUs (%s), %s RAM, %s/%s, load %s\n", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, loadavg())
	fmt.Printf("go: %s; migrate: %s; rclone: %s\n", runtime.Version(), first(c.migrate, "version"), first(c.rclone, "version"))
	fmt.Printf("rclone flags: small set %q, large set %q; migrate: default options\n\n", c.rcloneSmall, c.rcloneLarge)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func printTable(rs []*result) {
	fmt.Println()
	fmt.Println("| run | tool | data set | objects | wall s | CPU s | CPU ms/object | client bytes | % of payload | payload bytes through the client (from S3 / to Azure) | peak RSS MiB (sampled) | rig CPU s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		n := len(r.set.md5s)
		fmt.Printf("| %d | %s | %s | %s × %s | %.2f | %.2f | %.3f | %s | %.3f %% | %s / %s | %.0f | %.2f |\n",
			r.round, r.tool, r.set.name, thousands(int64(n)), size(r.set.size), r.wall.Seconds(), r.cpu.Seconds(),
			float64(r.cpu.Microseconds())/1000/float64(n), thousands(r.clientBytes()),
			100*float64(r.clientBytes())/float64(r.set.payload()),
			thousands(r.s3.tool.objectBytes.Load()), thousands(r.az.tool.objectBytes.Load()),
			float64(r.maxRSS)/(1<<20), r.rigCPU.Seconds())
	}
	fmt.Println()
	fmt.Println("client bytes: received from S3 + sent to Azure on the tool's own connections, on the wire (HTTP headers included).")
	fmt.Println("payload bytes: bodies of GET Object responses (from S3) and of Put Blob / Put Block requests (to Azure) on those connections.")
	fmt.Println("rig CPU: what the rig used meanwhile: the copy-source front and the counting proxies (the helper process), versitygw, Azurite.")
	fmt.Println()
	fmt.Println("| run | tool | data set | CPU user / sys s | requests to S3 / Azure | conns to S3 / Azure | S3 bytes in / out | Azure bytes in / out | client bytes/object | front's fetches from S3 (bodies; front's counter) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	var perr int64
	for _, r := range rs {
		perr += r.s3.tool.parseErrors.Load() + r.az.tool.parseErrors.Load() + r.s3.rig.parseErrors.Load()
		fmt.Printf("| %d | %s | %s | %.2f / %.2f | %s / %s | %d / %d | %s / %s | %s / %s | %s | %s requests, %s bytes; %s |\n",
			r.round, r.tool, r.set.name, r.user.Seconds(), r.sys.Seconds(),
			thousands(r.s3.tool.requests.Load()), thousands(r.az.tool.requests.Load()),
			r.s3.tool.conns.Load(), r.az.tool.conns.Load(),
			thousands(r.s3.tool.received.Load()), thousands(r.s3.tool.sent.Load()),
			thousands(r.az.tool.received.Load()), thousands(r.az.tool.sent.Load()),
			thousands(r.clientBytes()/int64(len(r.set.md5s))),
			thousands(r.s3.rig.requests.Load()), thousands(r.s3.rig.objectBytes.Load()), thousands(r.frontSource))
	}
	fmt.Println()
	for _, r := range rs {
		fmt.Printf("run %d, %s, %s set: S3: %s; Azure: %s\n", r.round, r.tool, r.set.name, r.s3.tool.requestKinds(), r.az.tool.requestKinds())
	}
	if perr > 0 {
		fmt.Printf("\nwarning: %d HTTP parse errors: the payload columns may be incomplete (the wire counts are not)\n", perr)
	}
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
