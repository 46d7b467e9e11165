package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// GateError is a gate that did not pass in time. Own says whose fault it
// is: the member that was just restarted, or another one; that decides
// between a rollback and a clean stop.
type GateError struct {
	Member string
	// Own is true when the restarted member itself fails the gate.
	Own    bool
	Reason string
}

func (e *GateError) Error() string {
	return fmt.Sprintf("gate for %s: %s", e.Member, e.Reason)
}

// WaitGates waits until the member runs the version and is healthy, every
// member is reachable and free of alarms, the member's applied index is
// within MaxLag of the leader's, and HashKV agrees across members.
func (e *Env) WaitGates(ctx context.Context, name, v string) error {
	e.defaults()
	var last *GateError
	err := poll.Until(ctx, 100*time.Millisecond, e.GateTimeout, func(ctx context.Context) (bool, error) {
		g, fatal := e.checkGates(ctx, name, v)
		if g == nil {
			return true, nil
		}
		last = g
		if fatal {
			return false, poll.Stop(g)
		}
		return false, g
	})
	if errors.Is(err, poll.ErrTimeout) && last != nil {
		last.Reason += fmt.Sprintf(" (waited %s)", e.GateTimeout)
		if last.Own {
			last.Reason += e.logTail(ctx, name)
		}
		return last
	}
	return err // nil, a fatal gate, or the context's end
}

// checkGates checks once; fatal means waiting cannot help (hashes differ).
func (e *Env) checkGates(ctx context.Context, name, v string) (g *GateError, fatal bool) {
	fail := func(own bool, format string, a ...any) (*GateError, bool) {
		return &GateError{Member: name, Own: own, Reason: fmt.Sprintf(format, a...)}, false
	}
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return fail(false, "cluster status: %v", err)
	}
	m := cluster.Find(cl, name)
	switch {
	case m == nil:
		return fail(true, "member %s is no longer in the member list", name)
	case !m.Reachable:
		if e.exited(ctx, name) {
			// Waiting cannot help: nothing restarts it.
			return &GateError{Member: name, Own: true, Reason: "member exited after it started (etcd crashed)" + e.logTail(ctx, name)}, true
		}
		return fail(true, "member is not reachable: %s", m.Error)
	case version.Compare(m.ServerVersion, v) != 0:
		return fail(true, "member reports server version %s, want %s", m.ServerVersion, v)
	case len(m.Errors) > 0:
		return fail(true, "member reports errors: %s", strings.Join(m.Errors, ", "))
	}
	for _, o := range cl.Members {
		if o.Name != name && !o.Reachable {
			return fail(false, "member %s is not reachable: %s", o.Name, o.Error)
		}
	}
	if cl.Health != status.Healthy {
		return fail(false, "cluster is %s: %s", cl.Health, strings.Join(cl.Reasons, "; "))
	}
	if len(cl.Alarms) > 0 {
		return fail(false, "alarms: %s", strings.Join(cl.Alarms, ", "))
	}
	if leader := cluster.Leader(cl); leader != nil && leader.AppliedIndex > m.AppliedIndex+e.MaxLag {
		return fail(true, "applied index %d trails the leader's %d by more than %d", m.AppliedIndex, leader.AppliedIndex, e.MaxLag)
	}
	h := status.CompareHashes(ctx, e.Session.Pool(), cl.Members)
	switch h.Result {
	case status.HashAgree:
		return nil, false
	case status.HashMismatch:
		g, _ := fail(false, "key-value hashes differ at revision %d: %s; stop and investigate before anything else changes", h.Revision, h.Detail)
		return g, true
	default:
		return fail(false, "key-value hashes not comparable yet: %s", h.Detail)
	}
}

// exited tells whether the runtime knows the member's process is gone.
func (e *Env) exited(ctx context.Context, name string) bool {
	pr, ok := e.Runtime.(runtime.ProcessReporter)
	if !ok {
		return false
	}
	running, err := pr.Running(ctx, name)
	return err == nil && !running
}

// logTail is the member's last log lines, where the runtime can read them.
func (e *Env) logTail(ctx context.Context, name string) string {
	lr, ok := e.Runtime.(runtime.LogReader)
	if !ok {
		return ""
	}
	tail, err := lr.LogTail(ctx, name, 10)
	if err != nil || strings.TrimSpace(tail) == "" {
		return ""
	}
	return fmt.Sprintf("; last log lines of %s:\n%s", name, tail)
}
