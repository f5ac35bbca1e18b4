package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// process is a child server in its own process group.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
	logf *os.File

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts argv in its own process group with stdout and stderr
// appended to logPath. The child is killed if this process dies (Linux).
func startProcess(name, dir, logPath string, env []string, argv ...string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("testenv: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), logf: logf}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, waits up to grace, then kills
// the group. It is safe to call more than once.
func (p *process) stop(grace time.Duration) error {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		select {
		case <-p.done:
			return
		default:
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// Make sure nothing of the group is left behind.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return p.stopErr
}

// exited reports whether the process has ended, with its log tail.
func (p *process) exitedErr(logPath string) error {
	return fmt.Errorf("testenv: %s exited early (%v); log %s: %s", p.name, p.err, logPath, tail(logPath, 2048))
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until any HTTP response arrives, the process exits,
// ctx ends or timeout passes.
func waitHTTP(ctx context.Context, p *process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			return errors.New("process exited")
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s: %w", url, ctx.Err())
		case <-tick.C:
		}
	}
}

// startServer starts a server on a free port, retrying with another port
// when the process exits before answering (the port may have been taken).
func startServer(ctx context.Context, name, logPath string, launch func(port int) (*process, error), probe func(port int) string) (*process, int, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		p, err := launch(port)
		if err != nil {
			return nil, 0, err
		}
		err = waitHTTP(ctx, p, probe(port), 60*time.Second)
		if err == nil {
			return p, port, nil
		}
		select {
		case <-p.done:
			lastErr = p.exitedErr(logPath)
			continue
		default:
		}
		_ = p.stop(5 * time.Second)
		return nil, 0, fmt.Errorf("testenv: %s on port %d: %w; log %s: %s", name, port, err, logPath, tail(logPath, 2048))
	}
	return nil, 0, lastErr
}

// dataDir returns dir, or a new temporary directory (owned=true) when dir
// is empty.
func dataDir(dir, pattern string) (string, bool, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", false, err
		}
		return dir, false, nil
	}
	d, err := os.MkdirTemp("", pattern)
	return d, true, err
}

func itoa(i int) string { return strconv.Itoa(i) }

// prepare does what starting either server needs first: a log writer, the
// installed binary (found with path in the tools directory, ToolsDir() when
// tools is ""), and the data directory (a new temporary one, owned and later
// removed by the server, when data is "").
func prepare(log io.Writer, tools, data, name string, path func(string) string, pattern string) (io.Writer, string, string, bool, error) {
	if log == nil {
		log = io.Discard
	}
	if tools == "" {
		var err error
		if tools, err = ToolsDir(); err != nil {
			return nil, "", "", false, err
		}
	}
	bin := path(tools)
	if _, err := os.Stat(bin); err != nil {
		return nil, "", "", false, fmt.Errorf("testenv: %s not installed at %s (run `go run ./internal/testenv/cmd/rig install`)", name, bin)
	}
	dir, owns, err := dataDir(data, pattern)
	if err != nil {
		return nil, "", "", false, err
	}
	return log, bin, dir, owns, nil
}
