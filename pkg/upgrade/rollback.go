package upgrade

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// onFailure decides what a failed step leaves behind. A member that was
// restarted and then failed on its own (did not start, did not come up on
// the new version, did not catch up) goes back to its old binary while the
// cluster is still mixed. Anything else (another member died, an alarm, a
// hand-off that did not happen) stops the upgrade where it is: restarting
// more members on a degraded cluster could cost quorum.
func (u *upgrader) onFailure(ctx context.Context, s engine.Step, err error) error {
	var ce *engine.CheckError
	if ctx.Err() != nil || errors.As(err, &ce) {
		return fmt.Errorf("%s: %w; the upgrade stopped and left the cluster as it is", s, err)
	}
	var g *engine.GateError
	isGate := errors.As(err, &g)
	own := (s.Action == engine.Restart && (!isGate || g.Own)) || (s.Action == engine.Gates && isGate && g.Own)
	if !own {
		return fmt.Errorf("%s: %w; the upgrade stopped and left the cluster as it is (etcdpilot upgrade status shows the journal)", s, err)
	}
	old := u.hopFrom[s.Member]
	if rbErr := u.rollbackMember(ctx, s.Member, old); rbErr != nil {
		return fmt.Errorf("%s: %w; rolling %s back to %s failed too: %v", s, err, s.Member, old, rbErr)
	}
	u.rep().RolledBack = append(u.rep().RolledBack, s.Member)
	return fmt.Errorf("%s: %w; %s was rolled back to %s and the upgrade stopped", s, err, s.Member, old)
}

// rollbackMember runs the steps that put one member back on its old
// version: a restart (handing leadership to a member on the old version
// first) and its gates. Safe only while the cluster version has not moved
// past the old version's minor, which the callers check.
func (u *upgrader) rollbackMember(ctx context.Context, name, old string) error {
	if old == "" {
		return fmt.Errorf("no old version recorded for %s", name)
	}
	for _, a := range []engine.Action{engine.Restart, engine.Gates} {
		if err := u.env.Do(ctx, engine.Step{Action: a, Member: name, Version: old, Rollback: true}); err != nil {
			return err
		}
	}
	return nil
}

// rollbackMembers puts the moved members back on their old versions:
// down members first (starting them can only help), then followers, the
// leader last.
func (u *upgrader) rollbackMembers(ctx context.Context, moved []status.Member, old map[string]string) error {
	rank := func(m status.Member) int {
		switch {
		case !m.Reachable:
			return 0
		case m.IsLeader:
			return 2
		}
		return 1
	}
	sort.SliceStable(moved, func(a, b int) bool { return rank(moved[a]) < rank(moved[b]) })
	for _, m := range moved {
		if err := u.rollbackMember(ctx, m.Name, old[m.Name]); err != nil {
			return fmt.Errorf("%s back to %s: %w", m.Name, old[m.Name], err)
		}
		u.rep().RolledBack = append(u.rep().RolledBack, m.Name)
	}
	return nil
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
