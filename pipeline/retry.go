package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/migrate-tool/migrate/providers"
)

// RetryPolicy is the single retry layer of the tool: providers and SDKs do
// not retry, so a request is tried at most MaxAttempts times in all.
// Only errors whose kind is retryable (throttled, transient) are repeated,
// after a wait of the larger of two delays: an exponentially growing
// backoff with full jitter (Delay), and the wait the service asked for in
// Retry-After or x-ms-retry-after-ms (providers.Error.RetryAfter), capped
// at 4·MaxDelay so a service cannot park a worker for long (see Wait).
type RetryPolicy struct {
	MaxAttempts int           // tries in all, including the first; <1 means 1
	BaseDelay   time.Duration // delay before the second try (before jitter)
	MaxDelay    time.Duration // cap of any one backoff; 4·MaxDelay caps a Retry-After
	// Sleep waits d or until ctx is done; tests inject a fake. nil = real.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0,1); nil = math/rand.
	Jitter func() float64
}

// DefaultRetry is the policy used when Options.Retry is zero: 8 tries over
// roughly half a minute to a minute of backoff.
var DefaultRetry = RetryPolicy{MaxAttempts: 8, BaseDelay: 250 * time.Millisecond, MaxDelay: 30 * time.Second}

// RetryError is what Do returns when op ran more than once and still
// failed: how many times it ran, whether the attempts ran out on an error
// that was still retryable (GaveUp), and op's last error, which errors.Is
// and errors.As reach through it (providers.KindOf, CodeOf and the SDKs'
// error types keep working). Its text is that error's prefixed with
// "gave up after N attempts: " or, when the last error was not retryable
// or the context ended, "after N attempts: ".
type RetryError struct {
	Attempts int
	GaveUp   bool
	Err      error
}

func (e *RetryError) Error() string {
	if e.GaveUp {
		return fmt.Sprintf("gave up after %d attempts: %v", e.Attempts, e.Err)
	}
	return fmt.Sprintf("after %d attempts: %v", e.Attempts, e.Err)
}

func (e *RetryError) Unwrap() error { return e.Err }

// Do runs op until it succeeds, fails with a non-retryable error, ctx ends,
// or the attempts run out. It returns how many times op ran and op's last
// error, wrapped in a *RetryError when op ran more than once.
func (p RetryPolicy) Do(ctx context.Context, op func(context.Context) error) (attempts int, err error) {
	max := p.MaxAttempts
	if max < 1 {
		max = 1
	}
	for attempts = 1; ; attempts++ {
		err = op(ctx)
		if err == nil || attempts >= max || !providers.IsRetryable(err) || ctx.Err() != nil {
			break
		}
		if serr := p.sleep(ctx, p.Wait(attempts, err)); serr != nil {
			break
		}
	}
	if err != nil && attempts > 1 {
		err = &RetryError{Attempts: attempts, GaveUp: attempts >= max && providers.IsRetryable(err), Err: err}
	}
	return attempts, err
}

// Wait is the pause after the given failed attempt (1-based) that ended in
// err: the larger of Delay(attempt) and the wait the service asked for
// (providers.Error.RetryAfter), the latter capped at 4·MaxDelay.
func (p RetryPolicy) Wait(attempt int, err error) time.Duration {
	d := p.Delay(attempt)
	var pe *providers.Error
	if errors.As(err, &pe) && pe.RetryAfter > d {
		d = min(pe.RetryAfter, 4*p.maxDelay())
	}
	return d
}

// Delay is the wait after the given failed attempt (1-based): a random
// duration in [0, min(MaxDelay, BaseDelay·2^(attempt-1))].
func (p RetryPolicy) Delay(attempt int) time.Duration {
	base := p.BaseDelay
	if base <= 0 {
		base = DefaultRetry.BaseDelay
	}
	maxD := p.maxDelay()
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

func (p RetryPolicy) maxDelay() time.Duration {
	if p.MaxDelay <= 0 {
		return DefaultRetry.MaxDelay
	}
	return p.MaxDelay
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
