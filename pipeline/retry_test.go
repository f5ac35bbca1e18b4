package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

func TestRetryPolicyDo(t *testing.T) {
	throttled := &providers.Error{Kind: providers.KindThrottled, Code: "SlowDown"}
	transient := &providers.Error{Kind: providers.KindTransient}
	notFound := &providers.Error{Kind: providers.KindNotFound}
	boom := errors.New("boom")
	tests := []struct {
		name         string
		errs         []error // returned by successive tries; nil ends
		max          int
		wantAttempts int
		wantErr      error // reached by errors.Is; nil: no error
		wantWrapped  bool  // a *RetryError
		wantGaveUp   bool
		wantSleeps   int
	}{
		{"success first", []error{nil}, 5, 1, nil, false, false, 0},
		{"throttled then success", []error{throttled, nil}, 5, 2, nil, false, false, 1},
		{"transient twice then success", []error{transient, transient, nil}, 5, 3, nil, false, false, 2},
		{"not found is not retried", []error{notFound, nil}, 5, 1, notFound, false, false, 0},
		{"unknown is not retried", []error{boom, nil}, 5, 1, boom, false, false, 0},
		{"attempts run out", []error{transient, transient, transient, nil}, 3, 3, transient, true, true, 2},
		{"retryable then permanent", []error{throttled, notFound, nil}, 5, 2, notFound, true, false, 1},
		{"max below one means one try", []error{transient, nil}, 0, 1, transient, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sleeps []time.Duration
			p := RetryPolicy{MaxAttempts: tc.max, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second,
				Sleep:  func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil },
				Jitter: func() float64 { return 0.5 }}
			i := 0
			attempts, err := p.Do(context.Background(), func(context.Context) error {
				e := tc.errs[i]
				i++
				return e
			})
			if attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tc.wantAttempts)
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			var re *RetryError
			if wrapped := errors.As(err, &re); wrapped != tc.wantWrapped {
				t.Errorf("err %v: wrapped in *RetryError = %v, want %v", err, wrapped, tc.wantWrapped)
			} else if !wrapped && err != tc.wantErr && tc.wantErr != nil {
				t.Errorf("err = %v, want op's error itself", err)
			} else if wrapped {
				if re.Attempts != tc.wantAttempts || re.GaveUp != tc.wantGaveUp {
					t.Errorf("RetryError{Attempts: %d, GaveUp: %v}, want %d, %v", re.Attempts, re.GaveUp, tc.wantAttempts, tc.wantGaveUp)
				}
				if providers.KindOf(err) != providers.KindOf(tc.wantErr) {
					t.Errorf("KindOf through RetryError = %v", providers.KindOf(err))
				}
			}
			if len(sleeps) != tc.wantSleeps {
				t.Errorf("slept %d times, want %d", len(sleeps), tc.wantSleeps)
			}
		})
	}
}

// The error text says how many attempts were made and whether the policy
// gave up on a retryable error; the provider error's own text (operation,
// object, code, status, [retryable]) follows unchanged.
func TestRetryErrorText(t *testing.T) {
	slow := &providers.Error{Kind: providers.KindThrottled, Op: "PutBlobFromURL", Where: "c/b", Code: "ServerBusy", Status: 503, Msg: "The server is busy."}
	gone := &providers.Error{Kind: providers.KindNotFound, Op: "PutBlobFromURL", Where: "c/b", Code: "CannotVerifyCopySource", Status: 404}
	p := RetryPolicy{MaxAttempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err := p.Do(context.Background(), func(context.Context) error { return slow })
	if want := "gave up after 3 attempts: PutBlobFromURL c/b: throttled (ServerBusy, HTTP 503): The server is busy. [retryable]"; err == nil || err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	if providers.CodeOf(err) != "ServerBusy" || !errors.Is(err, providers.ErrThrottled) {
		t.Errorf("code %q, Is(ErrThrottled) %v", providers.CodeOf(err), errors.Is(err, providers.ErrThrottled))
	}
	n := 0
	_, err = p.Do(context.Background(), func(context.Context) error {
		if n++; n == 1 {
			return slow
		}
		return gone
	})
	if want := "after 2 attempts: PutBlobFromURL c/b: not found (CannotVerifyCopySource, HTTP 404) [not retryable]"; err == nil || err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
}

// Wait is the larger of the jittered backoff and the service's
// Retry-After, the latter capped at 4·MaxDelay.
func TestRetryWaitHonoursRetryAfter(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: func() float64 { return 0.5 }}
	ra := func(d time.Duration) error {
		return fmt.Errorf("wrapped: %w", &providers.Error{Kind: providers.KindThrottled, RetryAfter: d})
	}
	tests := []struct {
		name    string
		attempt int
		err     error
		want    time.Duration
	}{
		{"no Retry-After: backoff", 1, ra(0), 50 * time.Millisecond},
		{"not a provider error: backoff", 2, errors.New("x"), 100 * time.Millisecond},
		{"Retry-After below the backoff", 3, ra(10 * time.Millisecond), 200 * time.Millisecond},
		{"Retry-After above the backoff", 1, ra(3 * time.Second), 3 * time.Second},
		{"Retry-After capped at 4·MaxDelay", 1, ra(time.Hour), 4 * time.Second},
		{"cap with the default MaxDelay", 1, ra(time.Hour), 4 * DefaultRetry.MaxDelay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := p
			if strings.Contains(tc.name, "default MaxDelay") {
				q.MaxDelay = 0
			}
			got := q.Wait(tc.attempt, tc.err)
			if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Wait(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}

	// Do sleeps that long.
	var sleeps []time.Duration
	p.MaxAttempts = 3
	p.Sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
	n := 0
	attempts, err := p.Do(context.Background(), func(context.Context) error {
		if n++; n < 3 {
			return ra(2 * time.Second)
		}
		return nil
	})
	if err != nil || attempts != 3 || len(sleeps) != 2 || sleeps[0] != 2*time.Second || sleeps[1] != 2*time.Second {
		t.Errorf("attempts %d err %v sleeps %v; want 3, nil, [2s 2s]", attempts, err, sleeps)
	}
}

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: func() float64 { return 0.999999 }}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		got := p.Delay(i + 1)
		w *= time.Millisecond
		if got < w*99/100 || got > w {
			t.Errorf("Delay(%d) = %v, want about %v", i+1, got, w)
		}
	}
	p.Jitter = func() float64 { return 0 }
	if d := p.Delay(3); d != 0 {
		t.Errorf("full jitter at 0: Delay = %v, want 0", d)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour}
	calls := 0
	done := make(chan struct{})
	var err error
	go func() {
		_, err = p.Do(ctx, func(context.Context) error { calls++; return &providers.Error{Kind: providers.KindTransient} })
		close(done)
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return after cancel")
	}
	if calls != 1 || providers.KindOf(err) != providers.KindTransient {
		t.Errorf("calls = %d, err = %v; want 1 call and the last transient error", calls, err)
	}
}
