package bench

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
)

// harness lets a benchmark drive the test harness of the real components
// (internal/testutil/kube: containerd, a kubelet, a kube-apiserver)
// outside go test: Fatal ends the run with an error, cleanups run in
// reverse order when it ends.
type harness struct {
	log      *slog.Logger
	cleanups []func()
	failed   bool
}

var _ testutil.T = (*harness)(nil)

type harnessFatal struct{ msg string }

func (h *harness) Helper()          {}
func (h *harness) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }
func (h *harness) Failed() bool     { return h.failed }
func (h *harness) Fatal(args ...any) {
	h.failed = true
	panic(harnessFatal{fmt.Sprint(args...)})
}
func (h *harness) Fatalf(format string, args ...any) {
	h.failed = true
	panic(harnessFatal{fmt.Sprintf(format, args...)})
}
func (h *harness) Skip(args ...any) { h.Fatal(args...) }
func (h *harness) Errorf(format string, args ...any) {
	h.failed = true
	h.log.Error(fmt.Sprintf(format, args...))
}
func (h *harness) Log(args ...any)                 { h.log.Debug(fmt.Sprint(args...)) }
func (h *harness) Logf(format string, args ...any) { h.log.Debug(fmt.Sprintf(format, args...)) }

// withHarness runs fn with a harness and cleans up after it, whatever
// happens.
func withHarness(log *slog.Logger, fn func(t testutil.T) error) (err error) {
	h := &harness{log: logging.OrDiscard(log)}
	defer func() {
		p := recover()
		for i := len(h.cleanups) - 1; i >= 0; i-- {
			h.cleanups[i]()
		}
		if p == nil {
			return
		}
		f, ok := p.(harnessFatal)
		if !ok {
			panic(p)
		}
		err = errors.New(f.msg)
	}()
	return fn(h)
}
