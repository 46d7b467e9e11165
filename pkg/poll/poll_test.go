package poll

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	n := 0
	err := Until(context.Background(), time.Millisecond, time.Second, func(context.Context) (bool, error) {
		n++
		return n == 3, nil
	})
	if err != nil || n != 3 {
		t.Fatalf("err %v after %d checks", err, n)
	}
	boom := errors.New("boom")
	err = Until(context.Background(), time.Millisecond, 20*time.Millisecond, func(context.Context) (bool, error) { return false, boom })
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, boom) {
		t.Fatalf("timeout: %v", err)
	}
	n = 0
	err = Until(context.Background(), time.Millisecond, time.Minute, func(context.Context) (bool, error) {
		n++
		return false, Stop(boom)
	})
	if err != boom || n != 1 {
		t.Fatalf("stop: %v after %d", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Until(ctx, time.Millisecond, time.Minute, func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}
