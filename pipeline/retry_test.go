package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

func TestRetryPolicyDo(t *testing.T) {
	throttled := &providers.Error{Kind: providers.KindThrottled, Code: "SlowDown"}
	transient := &providers.Error{Kind: providers.KindTransient}
	notFound := &providers.Error{Kind: providers.KindNotFound}
	tests := []struct {
		name         string
		errs         []error // returned by successive tries; nil ends
		max          int
		wantAttempts int
		wantErr      error
		wantSleeps   int
	}{
		{"success first", []error{nil}, 5, 1, nil, 0},
		{"throttled then success", []error{throttled, nil}, 5, 2, nil, 1},
		{"transient twice then success", []error{transient, transient, nil}, 5, 3, nil, 2},
		{"not found is not retried", []error{notFound, nil}, 5, 1, notFound, 0},
		{"unknown is not retried", []error{errors.New("boom"), nil}, 5, 1, nil, 0},
		{"attempts run out", []error{transient, transient, transient, nil}, 3, 3, transient, 2},
		{"max below one means one try", []error{transient, nil}, 0, 1, transient, 0},
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
			if tc.wantErr != nil && err != tc.wantErr {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && tc.name != "unknown is not retried" && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if len(sleeps) != tc.wantSleeps {
				t.Errorf("slept %d times, want %d", len(sleeps), tc.wantSleeps)
			}
		})
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
