package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// onFailure decides what a failed step leaves behind. A member that was
// restarted and then failed on its own (did not start, did not come up on
// the new version, did not catch up) goes back to its old binary while the
// cluster is still mixed. Anything else (another member died, an alarm, a
// hand-off that did not happen) stops the upgrade where it is: restarting
// more members on a degraded cluster could cost quorum.
func (u *upgrader) onFailure(ctx context.Context, s Step, err error) error {
	var ce *checkError
	if ctx.Err() != nil || errors.As(err, &ce) {
		return fmt.Errorf("%s: %w; the upgrade stopped and left the cluster as it is", s.Name(), err)
	}
	var name string
	var g *GateError
	isGate := errors.As(err, &g)
	switch s := s.(type) {
	case *restartStep:
		if !isGate || g.Own {
			name = s.member
		}
	case *gateStep:
		if isGate && g.Own {
			name = s.member
		}
	}
	if name == "" {
		return fmt.Errorf("%s: %w; the upgrade stopped and left the cluster as it is (etcdpilot upgrade status shows the journal)", s.Name(), err)
	}
	old := u.hopFrom[name]
	if rbErr := u.rollbackMember(ctx, name, old); rbErr != nil {
		return fmt.Errorf("%s: %w; rolling %s back to %s failed too: %v", s.Name(), err, name, old, rbErr)
	}
	u.report.RolledBack = append(u.report.RolledBack, name)
	return fmt.Errorf("%s: %w; %s was rolled back to %s and the upgrade stopped", s.Name(), err, name, old)
}

// rollbackMember restarts one member on its old version and waits for its
// gates. Safe only while the cluster version has not moved past the old
// version's minor, which the callers check.
func (u *upgrader) rollbackMember(ctx context.Context, name, old string) error {
	if old == "" {
		return fmt.Errorf("no old version recorded for %s", name)
	}
	if err := u.journal.log("rollback "+name+" to "+old, "started", ""); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "rolling %s back to %s ...\n", name, old)
	_ = u.handOff(ctx, name, old) // best effort: the member may be unreachable
	if err := u.opts.Runtime.Stop(ctx, name); err != nil {
		fmt.Fprintf(u.out, "  stop %s: %v (starting it anyway)\n", name, err)
	}
	if err := u.opts.Runtime.Start(ctx, name, runtime.StartOptions{Version: old}); err != nil {
		u.journal.log("rollback "+name+" to "+old, "failed", err.Error())
		return err
	}
	if err := u.waitGates(ctx, name, old, u.opts.GateTimeout); err != nil {
		u.journal.log("rollback "+name+" to "+old, "failed", err.Error())
		return err
	}
	return u.journal.log("rollback "+name+" to "+old, "done", "")
}

// checkClusterVersion refuses a rollback to old once the cluster version
// has moved to a newer minor: members of the old minor can no longer join.
func checkClusterVersion(cl *status.Cluster, old string) error {
	if cl.ClusterVersion == "" || version.Compare(version.Minor(cl.ClusterVersion)+".0", version.Minor(old)+".0") <= 0 {
		return nil
	}
	way := "restore the pre-upgrade snapshot (etcdpilot snapshot restore) to go back"
	if version.Compare(cl.ClusterVersion, "3.6.0") >= 0 {
		way = "use etcd's downgrade API one minor at a time (etcdctl downgrade validate/enable " + version.Minor(old) + "; see etcdpilot upgrade plan --to " + old + "), or restore the pre-upgrade snapshot"
	}
	return fmt.Errorf("the cluster version is already %s: members on %s can no longer rejoin, so an in-place rollback is impossible; %s", cl.ClusterVersion, old, way)
}

// Rollback returns every member of a mixed cluster to the version the
// journal recorded before the upgrade: the members that moved, followers
// first, leadership handed to a member on the old version before the
// leader restarts.
func Rollback(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	lock, err := fsutil.TryLock(opts.JournalPath + ".lock")
	if errors.Is(err, fsutil.ErrLocked) {
		return nil, fmt.Errorf("an etcdpilot upgrade is running on this cluster (it holds %s.lock); stop it first", opts.JournalPath)
	}
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	j, err := LoadJournal(opts.JournalPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no upgrade journal at %s: nothing to roll back to (the journal records each member's old version)", opts.JournalPath)
	}
	if err != nil {
		return nil, err
	}
	j.onStep = opts.OnStep
	u := &upgrader{opts: opts, out: opts.Out, journal: j, hopFrom: j.OldVersions}
	u.report = &Report{Target: j.Target, From: j.OldVersions, Journal: j.path, State: StateRunning}
	cl, err := u.status(ctx)
	if err != nil {
		return nil, err
	}
	if cl.ClusterID != j.ClusterID {
		return nil, fmt.Errorf("journal %s belongs to cluster %s, not %s", opts.JournalPath, j.ClusterID, cl.ClusterID)
	}
	var moved []status.Member
	for _, m := range cl.Members {
		old, ok := j.OldVersions[m.Name]
		if !ok {
			return nil, fmt.Errorf("member %s is not in the journal's record; roll it back by hand", m.Name)
		}
		if err := checkClusterVersion(cl, old); err != nil {
			return nil, err
		}
		if !m.Reachable || version.Compare(m.ServerVersion, old) != 0 {
			moved = append(moved, m)
		}
	}
	if len(moved) == 0 {
		fmt.Fprintln(u.out, "every member already runs its pre-upgrade version: nothing to roll back")
		u.report.To = j.OldVersions
		u.report.State = j.State
		return u.report, nil
	}
	// Followers first, the leader last.
	sort.SliceStable(moved, func(a, b int) bool { return !moved[a].IsLeader && moved[b].IsLeader })
	j.State = StateRunning
	start := time.Now()
	var runErr error
	for _, m := range moved {
		if runErr = u.rollbackMember(ctx, m.Name, j.OldVersions[m.Name]); runErr != nil {
			runErr = fmt.Errorf("rollback of %s: %w", m.Name, runErr)
			break
		}
		u.report.RolledBack = append(u.report.RolledBack, m.Name)
	}
	u.finish(ctx, runErr, start)
	if runErr == nil {
		u.report.State = StateRolledBack
		j.finish(StateRolledBack, nil)
	}
	return u.report, runErr
}
