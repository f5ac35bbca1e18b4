package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/migrate-tool/migrate/pipeline"
)

// rates turns progress snapshots into objects/s and bytes/s over the last
// rateWindow, and an ETA once the listing is complete.
type rates struct {
	samples []sample
}

type sample struct {
	t           time.Time
	done, bytes int64
}

const rateWindow = 10 * time.Second

// status is one line of progress.
type status struct {
	pipeline.Progress
	ObjPerSec, BytesPerSec float64
	ETA                    time.Duration // -1 while unknown
}

func (r *rates) add(now time.Time, p pipeline.Progress) status {
	r.samples = append(r.samples, sample{now, p.Done, p.DoneBytes})
	for len(r.samples) > 2 && now.Sub(r.samples[0].t) > rateWindow {
		r.samples = r.samples[1:]
	}
	st := status{Progress: p, ETA: -1}
	if first := r.samples[0]; len(r.samples) > 1 {
		if d := now.Sub(first.t).Seconds(); d > 0 {
			st.ObjPerSec = float64(p.Done-first.done) / d
			st.BytesPerSec = float64(p.DoneBytes-first.bytes) / d
		}
	}
	if !p.Scanning && st.ObjPerSec > 0 {
		st.ETA = time.Duration(float64(p.Listed-p.Done) / st.ObjPerSec * float64(time.Second))
	}
	return st
}

// line renders st for a person, without control characters.
func (st status) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d objects", st.Done, st.Listed)
	if st.Scanning {
		b.WriteString(" (scanning)")
	}
	fmt.Fprintf(&b, ", %s, %.1f objects/s, %s/s", pipeline.FormatBytes(st.DoneBytes), st.ObjPerSec, pipeline.FormatBytes(int64(st.BytesPerSec)))
	if st.ETA >= 0 {
		fmt.Fprintf(&b, ", ETA %s", st.ETA.Round(time.Second))
	}
	fmt.Fprintf(&b, ", %d failed, %d skipped", st.Failed, st.Skipped)
	return b.String()
}

// display shows a run's progress while it runs.
type display struct {
	stop func()
	live bool // a live status area on a terminal
	// Err receives what would go to stderr while the display runs: on a
	// terminal it is printed above the live status line.
	Err io.Writer
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startDisplay starts the right progress display for the output: a live
// status area on a terminal (mpb), a plain status line on stderr every
// interval elsewhere, JSON progress records in JSON mode; none when off.
func startDisplay(ctx context.Context, cp *pipeline.Copier, output string, off bool, interval time.Duration, rep reporter, stderr io.Writer) *display {
	d := &display{stop: func() {}, Err: stderr}
	if off {
		return d
	}
	var r rates
	snapshot := func() status { return r.add(time.Now(), cp.Progress()) }
	if output == "text" && isTerminal(stderr) {
		p := mpb.NewWithContext(ctx, mpb.WithOutput(stderr), mpb.WithWidth(30), mpb.WithRefreshRate(200*time.Millisecond))
		var mu sync.Mutex
		cur := status{ETA: -1}
		bar := p.New(0, mpb.BarStyle(), mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return cur.line()
		})))
		done := make(chan struct{})
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
				}
				st := snapshot()
				mu.Lock()
				cur = st
				mu.Unlock()
				bar.SetTotal(max(st.Listed, 1), false)
				bar.SetCurrent(st.Done)
			}
		}()
		d.Err, d.live = p, true
		d.stop = func() {
			close(done)
			st := snapshot()
			mu.Lock()
			cur = st
			mu.Unlock()
			bar.SetTotal(max(st.Listed, 1), false)
			bar.SetCurrent(st.Done)
			bar.SetTotal(-1, true)
			p.Wait()
		}
		return d
	}
	if interval <= 0 {
		return d
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			st := snapshot()
			if jr, ok := rep.(*jsonReporter); ok {
				jr.emit(progressRecord{Type: "progress", Listed: st.Listed, ListedBytes: st.ListedBytes, Done: st.Done, DoneBytes: st.DoneBytes,
					Failed: st.Failed, Skipped: st.Skipped, Scanning: st.Scanning, ObjPerSec: st.ObjPerSec, BytesPerSec: st.BytesPerSec,
					ETASec: etaSeconds(st.ETA)})
			} else {
				fmt.Fprintf(stderr, "status: %s\n", st.line())
			}
		}
	}()
	d.stop = func() {
		close(done)
		<-finished
	}
	return d
}

// progressRecord is a periodic JSON progress line (docs/output.md).
type progressRecord struct {
	Type        string  `json:"type"` // "progress"
	Listed      int64   `json:"listed"`
	ListedBytes int64   `json:"listed_bytes"`
	Done        int64   `json:"done"`
	DoneBytes   int64   `json:"done_bytes"`
	Failed      int64   `json:"failed"`
	Skipped     int64   `json:"skipped"`
	Scanning    bool    `json:"scanning"`
	ObjPerSec   float64 `json:"objects_per_second"`
	BytesPerSec float64 `json:"bytes_per_second"`
	ETASec      float64 `json:"eta_seconds"` // -1 while unknown
}

func etaSeconds(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds()
}
