// Package poll waits for a condition, checking it at an interval until it
// holds, the timeout passes or the context ends. Every wait in etcdpilot
// (a member coming up, a gate, the cluster version moving) goes through it.
package poll

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeout is wrapped by the error Until returns when time ran out.
var ErrTimeout = errors.New("timed out")

// Until calls check every interval until it reports done, and returns nil.
// An error from check is not fatal: it is remembered and reported if the
// timeout passes first. A check wrapped in Stop ends the wait at once with
// that error. The context's end ends the wait with the context's error.
func Until(ctx context.Context, interval, timeout time.Duration, check func(ctx context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		done, err := check(ctx)
		if done && err == nil {
			return nil
		}
		var stop *stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if err != nil {
			last = err
		}
		if ctx.Err() != nil {
			return ended(ctx, last)
		}
		if !time.Now().Before(deadline) {
			if last == nil {
				return fmt.Errorf("%w after %s", ErrTimeout, timeout)
			}
			return fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, last)
		}
		t := time.NewTimer(min(interval, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return ended(ctx, last)
		case <-t.C:
		}
	}
}

// ended is the context's error, with the last check's error when there
// was one.
func ended(ctx context.Context, last error) error {
	if last == nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
}

// Stop wraps an error that ends a wait at once (waiting cannot help).
func Stop(err error) error { return &stopError{err} }

type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// Sleep waits for d or until the context ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
