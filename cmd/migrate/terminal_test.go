package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/migrate-tool/migrate/providers/providertest"
)

// TestLiveStatusOnATerminal runs the binary under a pseudo-terminal: the
// status area is redrawn in place while the copy runs, and the final
// summary is clean.
func TestLiveStatusOnATerminal(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-terminal"
	var seeds []seed
	for i := range 60 {
		seeds = append(seeds, seed{key: fmt.Sprintf("t%02d", i), data: providertest.Data(2000, uint32(i))})
	}
	w.seed(t, bucket, seeds)
	// Slow Azure's fetches so the run lasts long enough to be watched.
	w.proxy.SetPresignedHook(func(string, string, int) int { time.Sleep(40 * time.Millisecond); return 0 })
	defer w.proxy.SetPresignedHook(nil)

	cmd := exec.Command(binary(t), "copy", "s3://"+bucket, w.az.Endpoint+"/terminal", "--s3-endpoint", w.proxy.URL, "--concurrency", "2")
	cmd.Env = w.childEnv(append(w.azureKey(), "MIGRATE_JOURNAL_DIR="+t.TempDir(), "TERM=xterm")...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&out, tty); close(copied) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("copy under a terminal: %v\n%s", err, out.String())
	}
	<-copied
	tty.Close()
	text := out.String()
	// The status was drawn several times, in place (cursor movement), with
	// growing counts.
	updates := regexp.MustCompile(`(\d+)/(\d+) objects`).FindAllStringSubmatch(text, -1)
	if len(updates) < 3 {
		t.Fatalf("the status was drawn %d times, want several:\n%q", len(updates), text)
	}
	if !strings.Contains(text, "\x1b[") {
		t.Errorf("no cursor control: the status is not redrawn in place:\n%q", text)
	}
	if first, last := updates[0][1], updates[len(updates)-1]; first == last[1] || last[1] != "60" || last[2] != "60" {
		t.Errorf("status went from %s to %s/%s done, want it to grow to 60/60", first, last[1], last[2])
	}
	for _, want := range []string{"objects/s", "failed", "Summary", "copied:          60"} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, text)
		}
	}
	// The summary itself is plain text: no escape sequence inside it.
	if i := strings.Index(text, "Summary"); i >= 0 && strings.Contains(text[i:], "\x1b[") {
		t.Errorf("the final summary carries escape sequences:\n%q", text[i:])
	}
}

// TestStatusLinesWhenNotATerminal: a plain status line every
// --status-interval.
func TestStatusLinesWhenNotATerminal(t *testing.T) {
	w := newWorld(t)
	const bucket = "e2e-status-lines"
	var seeds []seed
	for i := range 20 {
		seeds = append(seeds, seed{key: fmt.Sprintf("s%02d", i), data: providertest.Data(100, uint32(i))})
	}
	w.seed(t, bucket, seeds)
	w.proxy.SetPresignedHook(func(string, string, int) int { time.Sleep(30 * time.Millisecond); return 0 })
	defer w.proxy.SetPresignedHook(nil)
	code, stdout, stderr := w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/status-lines", "--s3-endpoint", w.proxy.URL,
		"--concurrency", "1", "--status-interval", "100ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "status: "); n < 2 {
		t.Errorf("%d status lines, want several:\n%s", n, stderr)
	}
	// JSON: progress records on stdout, every line valid against the schema.
	code, stdout, stderr = w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/status-lines-json", "--s3-endpoint", w.proxy.URL,
		"--concurrency", "1", "--status-interval", "100ms", "--output", "json")
	if code != 0 || strings.Contains(stderr, "status: ") {
		t.Fatalf("json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	schema := outputSchema(t)
	progress := 0
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(l))
		if err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if err := schema.Validate(v); err != nil {
			t.Errorf("line breaks the schema: %v\n%s", err, l)
		}
		if strings.Contains(l, `"type":"progress"`) {
			progress++
		}
	}
	if progress < 2 {
		t.Errorf("%d progress records, want several:\n%s", progress, stdout)
	}
	code, _, stderr = w.run(t, "copy", "s3://"+bucket, w.az.Endpoint+"/status-lines-off", "--s3-endpoint", w.proxy.URL,
		"--concurrency", "1", "--status-interval", "100ms", "--no-progress")
	if code != 0 || strings.Contains(stderr, "status: ") {
		t.Errorf("--no-progress printed status lines:\n%s", stderr)
	}
}
