package pipeline

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// RetryPolicy is the single retry layer of the tool: providers and SDKs do
// not retry, so a request is tried at most MaxAttempts times in all.
// Only errors whose kind is retryable (throttled, transient) are repeated,
// after an exponentially growing delay with full jitter.
type RetryPolicy struct {
	MaxAttempts int           // tries in all, including the first; <1 means 1
	BaseDelay   time.Duration // delay before the second try (before jitter)
	MaxDelay    time.Duration // cap of any one delay
	// Sleep waits d or until ctx is done; tests inject a fake. nil = real.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0,1); nil = math/rand.
	Jitter func() float64
}

// DefaultRetry is the policy used when Options.Retry is zero: 8 tries over
// roughly half a minute to a minute of backoff.
var DefaultRetry = RetryPolicy{MaxAttempts: 8, BaseDelay: 250 * time.Millisecond, MaxDelay: 30 * time.Second}

// Do runs op until it succeeds, fails with a non-retryable error, ctx ends,
// or the attempts run out. It returns how many times op ran and op's last
// error.
func (p RetryPolicy) Do(ctx context.Context, op func(context.Context) error) (attempts int, err error) {
	max := p.MaxAttempts
	if max < 1 {
		max = 1
	}
	for attempts = 1; ; attempts++ {
		err = op(ctx)
		if err == nil || attempts >= max || !providers.IsRetryable(err) || ctx.Err() != nil {
			return attempts, err
		}
		if serr := p.sleep(ctx, p.Delay(attempts)); serr != nil {
			return attempts, err
		}
	}
}

// Delay is the wait after the given failed attempt (1-based): a random
// duration in [0, min(MaxDelay, BaseDelay·2^(attempt-1))].
func (p RetryPolicy) Delay(attempt int) time.Duration {
	base := p.BaseDelay
	if base <= 0 {
		base = DefaultRetry.BaseDelay
	}
	maxD := p.MaxDelay
	if maxD <= 0 {
		maxD = DefaultRetry.MaxDelay
	}
	d := base
	for i := 1; i < attempt && d < maxD; i++ {
		d *= 2
	}
	if d > maxD {
		d = maxD
	}
	j := rand.Float64
	if p.Jitter != nil {
		j = p.Jitter
	}
	return time.Duration(j() * float64(d+1))
}

func (p RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
