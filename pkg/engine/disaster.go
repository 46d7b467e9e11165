package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/member"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// ForceNewClusterFlag restarts a member as a one-member cluster on its
// data (etcd's disaster recovery).
const ForceNewClusterFlag = "--force-new-cluster"

// The steps of a recovery change the membership for good: whether one is
// done is what the journal recorded, and, where the cluster can tell,
// what it shows. A retired member that was re-added since must not be
// retired again; a survivor must never get --force-new-cluster twice.

func retireDone(ctx context.Context, e *Env, s Step) (bool, error) {
	if e.Journal.Done(s) {
		return true, nil
	}
	p, ok := e.Runtime.(runtime.Provisioner)
	return ok && !p.Provisioned(ctx, s.Member), nil
}

func retireRun(ctx context.Context, e *Env, s Step) error {
	p, ok := e.Runtime.(runtime.Provisioner)
	if !ok {
		return errors.New("this runtime cannot retire members (stop them and move their data aside)")
	}
	return p.Retire(ctx, s.Member)
}

func journalDone(ctx context.Context, e *Env, s Step) (bool, error) { return e.Journal.Done(s), nil }

// keepCopyRun stops the member and copies its data directory beside it
// (<dir>.etcdpilot-before-force-new-cluster-<time>), never deleted by
// etcdpilot: the way back if --force-new-cluster breaks it.
func keepCopyRun(ctx context.Context, e *Env, s Step) error {
	dir, ok, err := runtime.LocalDataDir(ctx, e.Runtime, s.Member)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("this runtime cannot reach the member's data directory on this machine to copy it")
	}
	if err := e.Runtime.Stop(ctx, s.Member); err != nil {
		return err
	}
	to := fmt.Sprintf("%s.etcdpilot-before-force-new-cluster-%s", dir, time.Now().UTC().Format("20060102T150405Z"))
	if err := fsutil.CopyTree(dir, to); err != nil {
		return fmt.Errorf("copy %s's data directory to %s: %w", s.Member, to, err)
	}
	e.Log.Info("kept a copy of {member}'s data directory at {dir}", "member", s.Member, "dir", to)
	return nil
}

// forceNewClusterRun restarts the member once with --force-new-cluster,
// waits until it is a one-member cluster, then restarts it without.
func forceNewClusterRun(ctx context.Context, e *Env, s Step) error {
	o, ok := e.Runtime.(runtime.FlagOverrider)
	if !ok {
		return errors.New("this runtime cannot start a member with --force-new-cluster")
	}
	if err := e.Runtime.Stop(ctx, s.Member); err != nil {
		return err
	}
	if err := o.StartWithFlags(ctx, s.Member, runtime.StartOptions{}, []string{ForceNewClusterFlag}); err != nil {
		return err
	}
	err := poll.Until(ctx, 200*time.Millisecond, e.GateTimeout, func(ctx context.Context) (bool, error) {
		cl, err := e.Session.Status(ctx)
		if err != nil {
			return false, nil
		}
		return len(cl.Members) == 1 && cl.Members[0].Name == s.Member && cl.Health == status.Healthy, nil
	})
	if err != nil {
		return fmt.Errorf("%s did not come up as a one-member cluster: %w%s", s.Member, err, leftBehind(ctx, e, s))
	}
	if err := e.Runtime.Stop(ctx, s.Member); err != nil {
		return err
	}
	if err := e.Runtime.Start(ctx, s.Member, runtime.StartOptions{}); err != nil {
		return err
	}
	_, err = e.Session.WaitHealthy(ctx, e.GateTimeout)
	return err
}

// leftBehind names the members a --force-new-cluster left in the member
// list (known bugs of older releases) and what to do.
func leftBehind(ctx context.Context, e *Env, s Step) string {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return ""
	}
	var others []string
	for _, m := range cl.Members {
		if m.Name != s.Member {
			others = append(others, m.Name)
		}
	}
	if len(others) == 0 {
		return ""
	}
	return fmt.Sprintf("; the member list still holds %s: etcd releases before 3.5.22/3.6.1 (other members) and 3.5.25/3.6.6 (learners) can leave them behind (etcd-io/etcd#20055, #20896): remove them (etcdpilot member remove NAME --force), then etcdpilot recover apply --resume", strings.Join(others, ", "))
}

// rejoinDone: the member is a started, reachable voter again.
func rejoinDone(ctx context.Context, e *Env, s Step) (bool, error) {
	if e.Journal.Done(s) {
		return true, nil
	}
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	m := cluster.Find(cl, s.Member)
	return m != nil && m.Reachable && !m.IsLearner, nil
}

// rejoinRun adds the member back as a learner with a fresh data
// directory, starts it and promotes it once it has caught up.
func rejoinRun(ctx context.Context, e *Env, s Step) error {
	p, ok := e.Runtime.(runtime.Provisioner)
	if !ok {
		return errors.New("this runtime cannot provision members")
	}
	o := member.Options{Session: e.Session}
	if _, err := member.AddProvisioned(ctx, p, s.Version, member.AddOptions{Options: o, Name: s.Member}); err != nil {
		return err
	}
	_, err := member.Promote(ctx, o, s.Member, 2*e.GateTimeout)
	return err
}

// restoreDone: the journal says so, or a new cluster (restores make a new
// cluster ID) answers healthy.
func restoreDone(ctx context.Context, e *Env, s Step) (bool, error) {
	if e.Journal.Done(s) {
		return true, nil
	}
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, nil
	}
	return cl.ClusterID != e.Journal.ClusterID && cl.Health == status.Healthy && cl.ReachableVoters == cl.Voters, nil
}

func restoreRun(ctx context.Context, e *Env, s Step) error {
	if e.RestoreCluster == nil {
		return errors.New("this runtime cannot restore every member")
	}
	return e.RestoreCluster(ctx, e.Journal.Snapshot)
}

// verifyRun waits until every member is healthy and reachable, their
// hashes agree and they are on the same revision.
func verifyRun(ctx context.Context, e *Env, s Step) error {
	if err := e.WaitGates(ctx, Gate{SameRevision: true}); err != nil {
		return fmt.Errorf("the recovered cluster did not settle: %w", err)
	}
	return nil
}
