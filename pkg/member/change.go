package member

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Result of promote and remove.
type Result struct {
	Member Member `json:"member"`
	// Unchanged is true when there was nothing to do (already a voter,
	// already removed).
	Unchanged bool   `json:"unchanged"`
	Message   string `json:"message"`
	Attempts  int    `json:"attempts"`
}

// Promote makes a learner a voter, retrying while etcd says the learner has
// not caught up, until wait is over.
func Promote(ctx context.Context, o Options, nameOrID string, wait time.Duration) (*Result, error) {
	o.defaults()
	if wait == 0 {
		wait = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, max(wait, o.Timeout))
	defer cancel()
	deadline := time.Now().Add(wait)
	l, err := Get(ctx, o.Session)
	if err != nil {
		return nil, err
	}
	m, err := l.Find(nameOrID)
	if err != nil {
		return nil, err
	}
	if !m.IsLearner {
		return &Result{Member: *m, Unchanged: true, Message: fmt.Sprintf("%s is already a voting member", label(m))}, nil
	}
	res := &Result{Member: *m}
	var lastErr error
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		_, err := call(ctx, &o, "MemberPromote", func(c context.Context, cli *clientv3.Client) (*clientv3.MemberPromoteResponse, error) {
			return cli.MemberPromote(c, m.id)
		})
		switch {
		case err == nil:
		case isDesc(err, rpctypesLearnerNotReady), transient(err):
			lastErr = err
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("learner %s did not catch up with the leader within %s (%s); it stays a learner — check its log and network, then run promote again", label(m), wait, rpcDesc(err)+progress(ctx, o, m))
			}
			if attempt%5 == 0 {
				o.log("learner {member} is not ready yet ({error}); waiting", "member", label(m), "error", rpcDesc(err))
			}
			if backoff(ctx, min(attempt, 2)) != nil {
				return nil, fmt.Errorf("learner %s: %v", label(m), rpcDesc(lastErr))
			}
			continue
		case isDesc(err, rpctypesNotLearner):
		case definitive(err):
			return nil, fmt.Errorf("etcd refused to promote %s: %v", label(m), rpcDesc(err))
		default:
			o.log("promoting {member}: {error}; listing the members to learn whether it happened", "member", label(m), "error", err)
		}
		l, lerr := getRetry(ctx, &o)
		if lerr != nil {
			return nil, fmt.Errorf("promoting %s: %v, and %v", label(m), err, lerr)
		}
		now, ferr := l.Find(m.ID)
		if ferr != nil {
			return nil, fmt.Errorf("member %s disappeared while being promoted", label(m))
		}
		if !now.IsLearner {
			res.Member = *now
			res.Message = fmt.Sprintf("%s is a voting member now", label(now))
			return res, nil
		}
		if backoff(ctx, attempt) != nil {
			return nil, fmt.Errorf("promoting %s: %v (it is still a learner)", label(m), err)
		}
	}
}

// progress describes how far a learner trails, for error messages.
func progress(ctx context.Context, o Options, m *Member) string {
	cl, err := o.Session.Status(ctx)
	if err != nil {
		return ""
	}
	var leader, learner *status.Member
	for i := range cl.Members {
		if cl.Members[i].IsLeader {
			leader = &cl.Members[i]
		}
		if cl.Members[i].ID == m.ID {
			learner = &cl.Members[i]
		}
	}
	switch {
	case learner == nil || !learner.Reachable:
		return "; the learner does not answer"
	case leader != nil:
		return fmt.Sprintf("; learner applied index %d, leader %d", learner.AppliedIndex, leader.AppliedIndex)
	}
	return ""
}

func label(m *Member) string {
	if m.Name == "" {
		return m.ID + " (unstarted)"
	}
	return m.Name + " (" + m.ID + ")"
}

// Remove removes a member. Absent is success. A removal that would leave
// fewer healthy voters than the new quorum is refused unless Force; a
// leader hands leadership to another healthy voter first.
func Remove(ctx context.Context, o Options, nameOrID string) (*Result, error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	l, err := Get(ctx, o.Session)
	if err != nil {
		return nil, err
	}
	m, err := l.Find(nameOrID)
	if err != nil {
		if isNotFound(err) {
			return &Result{Unchanged: true, Message: fmt.Sprintf("%s is not a member: already removed", nameOrID)}, nil
		}
		return nil, err
	}
	if len(l.Members) == 1 {
		return nil, fmt.Errorf("%s is the last member: removing it would destroy the cluster (stop it and delete its data instead, if that is what you want)", label(m))
	}
	cl, err := o.Session.Status(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRemove(cl, m, o); err != nil {
		return nil, err
	}
	if err := moveLeaderAway(ctx, o, cl, m); err != nil {
		return nil, err
	}
	res := &Result{Member: *m}
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		_, err := call(ctx, &o, "MemberRemove", func(c context.Context, cli *clientv3.Client) (*clientv3.MemberRemoveResponse, error) {
			return cli.MemberRemove(c, m.id)
		})
		switch {
		case err == nil, isDesc(err, rpctypesMemberNotFound):
		case definitive(err):
			return nil, fmt.Errorf("etcd refused to remove %s: %v", label(m), rpcDesc(err))
		case transient(err):
			o.log("etcd refused the change for now ({error}); retrying", "error", rpcDesc(err))
			if backoff(ctx, attempt) != nil {
				return nil, fmt.Errorf("etcd kept refusing to remove %s: %v", label(m), rpcDesc(err))
			}
			continue
		default:
			o.log("removing {member}: {error}; listing the members to learn whether it was removed", "member", label(m), "error", err)
		}
		l, lerr := getRetry(ctx, &o)
		if lerr != nil {
			return nil, fmt.Errorf("removing %s: %v, and %v; run etcdpilot member list, then the same command again (it does nothing when the member is gone)", label(m), err, lerr)
		}
		if _, ferr := l.Find(m.ID); isNotFound(ferr) {
			res.Message = fmt.Sprintf("removed %s", label(m))
			return res, nil
		}
		if err == nil {
			return nil, fmt.Errorf("etcd acknowledged removing %s but the member list still shows it", label(m))
		}
		if backoff(ctx, attempt) != nil {
			return nil, fmt.Errorf("removing %s: %v (it is still a member)", label(m), err)
		}
	}
}

func isNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), ErrNotFound.Error())
}

// checkRemove refuses a removal that leaves fewer healthy voters than the
// new quorum, unless forced.
func checkRemove(cl *status.Cluster, m *Member, o Options) error {
	err := cluster.CheckRemove(cl, m.ID)
	if err == nil {
		return nil
	}
	if !o.Force {
		return fmt.Errorf("refusing: %v; bring the others back first (--force overrides)", err)
	}
	o.Session.Log.Warn("forced: " + err.Error())
	return nil
}

// moveLeaderAway hands leadership from m to another voter the way an
// upgrade does (quorum caught up, move, verify, settle), so that removing
// a leader costs one leader change and no election.
func moveLeaderAway(ctx context.Context, o Options, cl *status.Cluster, m *Member) error {
	if l := cluster.Leader(cl); l == nil || l.ID != m.ID {
		return nil
	}
	o.log("{member} is the leader: moving leadership away first", "member", label(m))
	_, err := o.Session.HandOff(ctx, m.ID, cluster.HandOff{})
	return err
}

// CheckReplaceable refuses to replace a member that is healthy: replace is
// for dead members (Force overrides).
func CheckReplaceable(ctx context.Context, o Options, nameOrID string) error {
	o.defaults()
	l, err := Get(ctx, o.Session)
	if err != nil {
		return err
	}
	m, err := l.Find(nameOrID)
	if err != nil {
		return err
	}
	cl, err := o.Session.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range cl.Members {
		if s.ID == m.ID && s.Reachable && !o.Force {
			return fmt.Errorf("%s answers and looks healthy; replace is for a dead member (remove and add it yourself, or --force)", label(m))
		}
	}
	return nil
}
