package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/journal"
	"github.com/migrate-tool/migrate/providers"
)

func newJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, err := journal.Create(t.TempDir(), journal.Job{Command: "copy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// TestResumeAfterInterruption: a run stopped part way, then resumed with
// the same journal, copies every object exactly once.
func TestResumeAfterInterruption(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var puts atomic.Int32
	fault := func(op, where string) error {
		if op == "PutBlobFromURL" && puts.Add(1) == 40 {
			cancel() // the run is interrupted at its 40th object
		}
		return nil
	}
	r := newRig(t, fault)
	const n = 150
	for i := range n {
		r.src.Put("bkt", fmt.Sprintf("k%03d", i), payload(10+i, byte(i)), providers.Properties{})
	}
	j := newJournal(t)
	opts := Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), Concurrency: 4, PageSize: 20,
		Journal: j, JobStarted: time.Now()}
	c, _ := New(r.src, r.dst, opts)
	sum1, err := c.Run(ctx)
	if !errors.Is(err, context.Canceled) || sum1.Copied >= n {
		t.Fatalf("first run: %+v err %v", sum1, err)
	}
	st, _ := j.Route(opts.Routes[0].String())
	if st.Done {
		t.Fatal("the listing should not have finished before the interruption")
	}

	c, _ = New(r.src, r.dst, opts)
	sum2, err := c.Run(context.Background())
	if err != nil || sum2.Failed != 0 {
		t.Fatalf("resumed run: %+v err %v", sum2, err)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	counts, _ := j.Counts(opts.Routes[0].String())
	if counts[journal.Copied] != n || counts[journal.Pending] != 0 {
		t.Errorf("journal counts %v, want %d copied", counts, n)
	}
	for i := range n {
		got, _, ok := r.dst.Get("c", fmt.Sprintf("k%03d", i))
		if !ok || !bytes.Equal(got, payload(10+i, byte(i))) {
			t.Errorf("k%03d missing or different after resume", i)
		}
	}
	// Copies that completed in the first run (puts that returned) plus the
	// second run's add up to n: nothing was copied twice.
	if first, second := sum1.Copied, sum2.Copied-sum2.Found; first+second != n {
		t.Errorf("copied %d + %d (found %d) = %d objects, want %d", first, second, sum2.Found, first+second, n)
	}
}

// TestResumeFindsUnrecordedCopies: objects a killed run copied without
// recording are found at the destination, not copied again.
func TestResumeFindsUnrecordedCopies(t *testing.T) {
	r := newRig(t, nil)
	for i := range 10 {
		r.src.Put("bkt", fmt.Sprintf("k%d", i), payload(100, byte(i)), providers.Properties{})
	}
	j := newJournal(t)
	route := Route{Bucket: "bkt", Container: "c"}
	// A first run listed everything and copied k0..k4, then was killed
	// before recording them: the journal says pending.
	var entries []journal.Entry
	for i := range 10 {
		_, info, _ := r.src.Get("bkt", fmt.Sprintf("k%d", i))
		entries = append(entries, journal.Entry{Key: info.Key, Size: info.Size, ETag: info.ETag})
	}
	if err := j.RecordPage(route.String(), entries, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.dst.EnsureContainer(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		u, _ := r.src.PresignGet(context.Background(), "bkt", providers.Object{Key: key}, time.Minute)
		if err := r.dst.PutBlobFromURL(context.Background(), "c", key, u, 100, providers.Properties{}); err != nil {
			t.Fatal(err)
		}
	}
	before := r.dst.Calls("PutBlobFromURL")
	c, _ := New(r.src, r.dst, Options{Routes: []Route{route}, Retry: fastRetry(), Journal: j, JobStarted: time.Now().Add(-time.Hour)})
	sum, err := c.Run(context.Background())
	if err != nil || sum.Copied != 10 || sum.Found != 5 {
		t.Fatalf("resumed run: %+v err %v", sum, err)
	}
	if puts := r.dst.Calls("PutBlobFromURL") - before; puts != 5 {
		t.Errorf("resume made %d copies, want 5 (the 5 found must not be copied again)", puts)
	}
	if n := r.src.Calls("List"); n != 0 {
		t.Errorf("a finished listing was listed again %d times", n)
	}
}

func TestOverwritePolicies(t *testing.T) {
	r := newRig(t, nil)
	r.src.Put("bkt", "a", payload(10, 1), providers.Properties{})
	r.src.Put("bkt", "b", payload(10, 2), providers.Properties{})
	c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry()})
	if sum, err := c.Run(context.Background()); err != nil || sum.Copied != 2 {
		t.Fatal(sum, err)
	}
	r.src.Put("bkt", "c", payload(10, 3), providers.Properties{})
	for _, tc := range []struct {
		policy       Overwrite
		copied, skip int64
	}{
		{OverwriteNever, 1, 2},         // only the new object
		{OverwriteIfSourceNewer, 0, 3}, // the blobs are newer than every object now
		{OverwriteAlways, 3, 0},
	} {
		c, _ := New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), Overwrite: tc.policy})
		sum, err := c.Run(context.Background())
		if err != nil || sum.Copied != tc.copied || sum.Skipped != tc.skip {
			t.Errorf("%s: copied %d skipped %d (%v), want %d and %d", tc.policy, sum.Copied, sum.Skipped, sum.SkipReasons, tc.copied, tc.skip)
		}
	}
	// The source changes after the blob was written: ifSourceNewer copies it.
	time.Sleep(10 * time.Millisecond)
	r.src.Put("bkt", "a", payload(11, 9), providers.Properties{})
	c, _ = New(r.src, r.dst, Options{Routes: []Route{{Bucket: "bkt", Container: "c"}}, Retry: fastRetry(), Overwrite: OverwriteIfSourceNewer})
	if sum, _ := c.Run(context.Background()); sum.Copied != 1 || sum.Skipped != 2 {
		t.Errorf("after a source change: %+v", sum)
	}
	if _, err := ParseOverwrite("IFSOURCENEWER"); err != nil {
		t.Error(err)
	}
	if _, err := ParseOverwrite("maybe"); err == nil {
		t.Error("ParseOverwrite accepted maybe")
	}
}
