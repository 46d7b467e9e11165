package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// action is a step's implementation: done looks at the real cluster and
// says whether the step's effect is already there; run makes it so.
type action struct {
	done func(ctx context.Context, e *Env, s Step) (bool, error)
	run  func(ctx context.Context, e *Env, s Step) error
}

var actions = map[Action]action{
	Snapshot:       {snapshotDone, snapshotRun},
	Restart:        {onVersion, restartRun},
	Gates:          {never, gatesRun},
	HandOff:        {handOffDone, handOffRun},
	ClusterVersion: {clusterVersionDone, clusterVersionRun},
	// Downgrades (downgrade.go).
	DowngradeEnable: {downgradeEnabled, downgradeEnableRun},
	StorageVersion:  {storageDone, storageRun},
	DowngradeOver:   {downgradeOver, downgradeOverRun},
	DowngradeCancel: {downgradeOver, downgradeCancelRun},
	// Before 3.7 (raftsnap.go).
	RaftSnapshot: {walClean, raftSnapshotRun},
	// After a lost quorum (disaster.go).
	Retire:          {retireDone, retireRun},
	KeepCopy:        {journalDone, keepCopyRun},
	ForceNewCluster: {journalDone, forceNewClusterRun},
	Rejoin:          {rejoinDone, rejoinRun},
	RestoreSnapshot: {restoreDone, restoreRun},
	Verify:          {never, verifyRun},
	// Day-2 (defrag.go).
	Compact: {journalDone, compactRun},
	Defrag:  {journalDone, defragRun},
	Disarm:  {disarmDone, disarmRun},
}

func never(context.Context, *Env, Step) (bool, error) { return false, nil }

func snapshotDone(ctx context.Context, e *Env, s Step) (bool, error) {
	return e.Journal.Snapshot != "" && e.SnapshotExists != nil && e.SnapshotExists(ctx, e.Journal.Snapshot), nil
}

func snapshotRun(ctx context.Context, e *Env, s Step) error {
	if e.TakeSnapshot == nil {
		return errors.New("no snapshot store")
	}
	name, err := e.TakeSnapshot(ctx)
	if err != nil {
		return err
	}
	e.Journal.Snapshot = name
	return nil
}

// onVersion: the member answers and runs the step's version, and so does
// its runtime when it can tell (a binary that reports the wrong version
// must still be replaced).
func onVersion(ctx context.Context, e *Env, s Step) (bool, error) {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	m := cluster.Find(cl, s.Member)
	if m == nil {
		return false, fmt.Errorf("member %s is not in the cluster", s.Member)
	}
	if !m.Reachable || version.Compare(m.ServerVersion, s.Version) != 0 {
		return false, nil
	}
	if ins, ok := e.Runtime.(runtime.Inspector); ok {
		if v, err := ins.Version(ctx, s.Member); err == nil && version.Compare(v, s.Version) != 0 {
			return false, nil
		}
	}
	return true, nil
}

// restartRun stops the member and starts it on the step's version with the
// same data directory and flags (renamed where the version requires it).
// A member that answers is taken down only while every other voter is up,
// and never while it leads: it hands off first (normally a HandOff step
// has done it; after a crash or an election it may be needed again). A
// member that is down already is just started: that can only help.
func restartRun(ctx context.Context, e *Env, s Step) error {
	if err := e.readyToStop(ctx, s.Member, s.Version); err != nil {
		return err
	}
	if r, ok := e.Runtime.(runtime.FlagRenamer); ok && e.Renames != nil {
		if renames := e.Renames(s.Version); len(renames) > 0 {
			if err := r.RenameFlags(ctx, s.Member, renames); err != nil {
				return fmt.Errorf("rename flags of %s: %w", s.Member, err)
			}
		}
	}
	if err := e.Runtime.Stop(ctx, s.Member); err != nil {
		return fmt.Errorf("stop %s: %w", s.Member, err)
	}
	if err := e.Runtime.Start(ctx, s.Member, runtime.StartOptions{Version: s.Version}); err != nil {
		return err
	}
	return e.awaitServing(ctx, s.Member)
}

// readyToStop checks that member may go down (every other voter is up)
// and moves leadership off it first, to a member on v where there is one;
// a member that is down already needs neither.
func (e *Env) readyToStop(ctx context.Context, member, v string) error {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return err
	}
	if m := cluster.Find(cl, member); m != nil && m.Reachable {
		if err := cluster.CheckStop(cl, member); err != nil {
			return &GateError{Member: member, Reason: err.Error()}
		}
		return e.handOff(ctx, member, v)
	}
	return nil
}

// handOff moves leadership off member to a member already on v (any
// other voter when none is); a single voter logs that writes will stall.
func (e *Env) handOff(ctx context.Context, member, v string) error {
	_, err := e.Session.HandOff(ctx, member, cluster.HandOff{
		Prefer: func(m *status.Member) bool { return version.Compare(m.ServerVersion, v) == 0 },
	})
	if errors.Is(err, cluster.ErrOnlyVoter) {
		e.Log.Warn("  {member} is the only voting member: writes stall while it restarts", "member", member)
		return nil
	}
	return err
}

func gatesRun(ctx context.Context, e *Env, s Step) error {
	return e.WaitGates(ctx, Gate{Member: s.Member, Version: s.Version})
}

// handOffDone: the member already runs the version (it will not restart),
// or it is not the leader and there is one.
func handOffDone(ctx context.Context, e *Env, s Step) (bool, error) {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	m := cluster.Find(cl, s.Member)
	if m != nil && m.Reachable && version.Compare(m.ServerVersion, s.Version) == 0 {
		return true, nil
	}
	return m != nil && !m.IsLeader && cl.Leader != "", nil
}

func handOffRun(ctx context.Context, e *Env, s Step) error {
	return e.handOff(ctx, s.Member, s.Version)
}

func clusterVersionDone(ctx context.Context, e *Env, s Step) (bool, error) {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	return cluster.OnMinor(cl, version.Minor(s.Version)), nil
}

func clusterVersionRun(ctx context.Context, e *Env, s Step) error {
	return e.Session.WaitClusterVersion(ctx, version.Minor(s.Version), e.GateTimeout)
}
