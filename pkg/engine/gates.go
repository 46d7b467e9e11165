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

// Gate says what a change waits for after a step. Every gate wants
// every member reachable, the cluster healthy and HashKV agreeing; the
// spec adds what the step needs.
type Gate struct {
	// Member is the member the step touched ("" for the whole cluster):
	// it must answer without errors, within MaxLag of the leader, and a
	// gate it fails is its own (the member goes back, where it can).
	Member string
	// Version is the server version Member must report ("" for any).
	Version string
	// Alarm is an alarm type tolerated (NOSPACE while space recover runs).
	Alarm string
	// SameRevision wants every member on one revision (after a recovery).
	SameRevision bool
}

// WaitGates waits until the gate passes, up to GateTimeout.
func (e *Env) WaitGates(ctx context.Context, g Gate) error {
	e.defaults()
	var last *GateError
	err := poll.Until(ctx, 100*time.Millisecond, e.GateTimeout, func(ctx context.Context) (bool, error) {
		ge, fatal := e.checkGates(ctx, g)
		if ge == nil {
			return true, nil
		}
		last = ge
		if fatal {
			return false, poll.Stop(ge)
		}
		return false, ge
	})
	if errors.Is(err, poll.ErrTimeout) && last != nil {
		last.Reason += fmt.Sprintf(" (waited %s)", e.GateTimeout)
		if last.Own {
			last.Reason += e.logTail(ctx, g.Member)
		}
		return last
	}
	return err // nil, a fatal gate, or the context's end
}

// checkGates checks once; fatal means waiting cannot help (hashes differ,
// the member's process is gone).
func (e *Env) checkGates(ctx context.Context, g Gate) (ge *GateError, fatal bool) {
	name := g.Member
	fail := func(own bool, format string, a ...any) (*GateError, bool) {
		return &GateError{Member: name, Own: own && name != "", Reason: fmt.Sprintf(format, a...)}, false
	}
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return fail(false, "cluster status: %v", err)
	}
	var m *status.Member
	if name != "" {
		m = cluster.Find(cl, name)
		switch {
		case m == nil:
			return fail(true, "member %s is no longer in the member list", name)
		case !m.Reachable:
			if e.exited(ctx, name) {
				// Waiting cannot help: nothing restarts it.
				return &GateError{Member: name, Own: true, Reason: "member exited after it started (etcd crashed)" + e.logTail(ctx, name)}, true
			}
			return fail(true, "member is not reachable: %s", m.Error)
		case g.Version != "" && version.Compare(m.ServerVersion, g.Version) != 0:
			return fail(true, "member reports server version %s, want %s", m.ServerVersion, g.Version)
		case len(tolerate(m.Errors, g.Alarm)) > 0:
			return fail(true, "member reports errors: %s", strings.Join(tolerate(m.Errors, g.Alarm), ", "))
		}
	}
	for _, o := range cl.Members {
		if o.Name != name && !o.Reachable {
			return fail(false, "member %s is not reachable: %s", o.Name, o.Error)
		}
	}
	if other := cl.Alarms.Except(g.Alarm); len(other) > 0 {
		return fail(false, "alarms: %s", other)
	}
	if reasons := tolerate(cl.Reasons, g.Alarm); cl.Health != status.Healthy && (cl.Health != status.Degraded || len(reasons) > 0) {
		return fail(false, "cluster is %s: %s", cl.Health, strings.Join(reasons, "; "))
	}
	if leader := cluster.Leader(cl); m != nil && leader != nil && leader.AppliedIndex > m.AppliedIndex+e.MaxLag {
		return fail(true, "applied index %d trails the leader's %d by more than %d", m.AppliedIndex, leader.AppliedIndex, e.MaxLag)
	}
	if g.SameRevision {
		revs := map[int64]bool{}
		for _, o := range cl.Members {
			revs[o.Revision] = true
		}
		if len(revs) != 1 {
			return fail(false, "members on %d different revisions", len(revs))
		}
	}
	if len(cl.Members) == 1 {
		return nil, false
	}
	// The member the step touched is hashed again; the others' hashes
	// are reused while the cluster is still at the revision they were
	// taken at (an idle cluster: one HashKV per gate, not one per member).
	// A gate of the whole cluster (after a restore) hashes every member.
	cache := &e.hashes
	if name == "" {
		cache = nil
	}
	h := status.CompareHashesCached(ctx, e.Session.Pool(), cl.Members, cache, name)
	switch h.Result {
	case status.HashAgree:
		return nil, false
	case status.HashMismatch:
		ge, _ := fail(false, "key-value hashes differ at revision %d: %s; stop and investigate before anything else changes", h.Revision, h.Detail)
		return ge, true
	default:
		return fail(false, "key-value hashes not comparable yet: %s", h.Detail)
	}
}

// tolerate drops what a member reports about the tolerated alarm (etcd
// puts "alarm:NOSPACE" among a member's status errors).
func tolerate(errs []string, alarm string) []string {
	var out []string
	for _, e := range errs {
		if alarm == "" || !strings.Contains(e, "alarm:"+alarm) {
			out = append(out, e)
		}
	}
	return out
}

// awaitServing waits until the member just started answers or its
// process exits, up to the gate timeout. etcd listens before it has
// loaded its database and rejoined the cluster, which takes seconds on a
// large database: a restart lasts until its member serves. A member that
// exited is judged by the gate that follows (it names the crash); one
// that still does not answer fails the restart as its own, with its log,
// instead of being waited for a second time by the gate.
func (e *Env) awaitServing(ctx context.Context, name string) error {
	e.defaults()
	err := poll.Until(ctx, 50*time.Millisecond, e.GateTimeout, func(ctx context.Context) (bool, error) {
		return e.answers(ctx, name) || e.exited(ctx, name), nil
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, poll.ErrTimeout):
		return &GateError{Member: name, Own: true, Reason: fmt.Sprintf("member did not answer within %s of its start", e.GateTimeout) + e.logTail(ctx, name)}
	}
	return nil
}

// answers tells whether the member answers status now.
func (e *Env) answers(ctx context.Context, name string) bool {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false
	}
	m := cluster.Find(cl, name)
	return m != nil && m.Reachable
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
