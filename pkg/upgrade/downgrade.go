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

// Downgrade runs (or resumes) a downgrade with etcd's downgrade API
// (3.6+), one minor at a time: a verified snapshot, validate and enable
// (decided from the members' downgrade status, since the reply can be
// lost), the storage version migrated on every member, then followers and
// finally the leader (after one hand-off) restarted on the target binary
// at the upgrade's gates, and at the end the cluster version down and the
// downgrade over. A patch downgrade within a minor is the rolling restart
// alone. Journaled like an upgrade, resumed by the same recovery.
func Downgrade(ctx context.Context, opts Options) (*Report, error) {
	return runChange(ctx, opts, kindDowngrade, func(ctx context.Context, u *upgrader, cl *status.Cluster) (func(context.Context) error, error) {
		j := u.env.Journal
		if err := CheckDowngrade(cl, j.Target, len(j.Entries) > 0); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return u.downgrade(ctx) }, nil
	})
}

// CheckDowngrade refuses a downgrade etcd cannot do in place, naming the
// way back; started says a journaled downgrade is being resumed (the
// cluster is mixed then, on purpose).
func CheckDowngrade(cl *status.Cluster, target string, started bool) error {
	low, high := versionRange(cl)
	tMinor, highMinor := version.Minor(target), version.Minor(high)
	restore := fmt.Sprintf("restore a snapshot taken while the cluster ran %s (etcdpilot snapshot restore); writes made since are lost", tMinor)
	if high == "" {
		return errors.New("no member answers")
	}
	if started {
		return nil // resumed: the steps find what is done
	}
	if version.Compare(target, high) == 0 && version.Compare(low, high) == 0 && cl.Downgrade == "" {
		return fmt.Errorf("%w: every member runs %s already", ErrNothingToDo, target)
	}
	switch {
	case version.Compare(target, high) >= 0:
		return fmt.Errorf("%s is not older than the cluster's newest member (%s): use etcdpilot upgrade apply", target, high)
	case version.Compare(tMinor+".0", "3.5.0") < 0:
		return fmt.Errorf("etcd's downgrade API goes down to 3.5 at the lowest, not %s; the way back: %s", tMinor, restore)
	case tMinor != highMinor && version.Compare(highMinor+".0", "3.6.0") < 0:
		return fmt.Errorf("etcd %s has no downgrade API (it arrived in 3.6); the way back to %s: %s", highMinor, tMinor, restore)
	case tMinor != highMinor && version.MinorIndex(high)-version.MinorIndex(target) > 1:
		return fmt.Errorf("%s to %s is more than one minor: etcd downgrades one minor at a time (etcdpilot downgrade apply --to %s, then --to %s), or %s", high, target, version.NextMinor(tMinor), tMinor, restore)
	}
	if cl.Health != status.Healthy || cl.ReachableVoters != cl.Voters {
		return fmt.Errorf("the cluster is %s (%d of %d voting members reachable): a downgrade starts only on a healthy cluster", cl.Health, cl.ReachableVoters, cl.Voters)
	}
	if version.Minor(low) != highMinor && cl.Downgrade == "" {
		return fmt.Errorf("the cluster is mixed (%s to %s) and no downgrade is enabled: an upgrade is under way; etcdpilot upgrade rollback puts its members back while the cluster version allows it", low, high)
	}
	return nil
}

// versionRange is the lowest and the newest server version of the
// reachable members.
func versionRange(cl *status.Cluster) (low, high string) {
	for _, m := range cl.Members {
		if !m.Reachable || m.ServerVersion == "" {
			continue
		}
		if low == "" || version.Compare(m.ServerVersion, low) < 0 {
			low = m.ServerVersion
		}
		if high == "" || version.Compare(m.ServerVersion, high) > 0 {
			high = m.ServerVersion
		}
	}
	return low, high
}

// downgrade runs the steps, planned again from the live cluster on every
// run (a resumed downgrade skips what the cluster shows done).
func (u *upgrader) downgrade(ctx context.Context) error {
	target := u.env.Journal.Target
	cross := false
	for _, old := range u.env.Journal.OldVersions {
		cross = cross || version.Minor(old) != version.Minor(target)
	}
	if !u.opts.SkipSnapshot && u.opts.Snapshots != nil {
		if err := u.env.Do(ctx, engine.Step{Action: engine.Snapshot}); err != nil {
			return fmt.Errorf("pre-downgrade snapshot: %w; nothing else was changed", err)
		}
	}
	var steps []engine.Step
	if cross {
		steps = append(steps, engine.Step{Action: engine.DowngradeEnable, Version: target}, engine.Step{Action: engine.StorageVersion, Version: target})
	}
	rolling, err := u.rollingSteps(ctx, target, u.env.Journal.OldVersions)
	if err != nil {
		return err
	}
	steps = append(steps, rolling...)
	if cross {
		steps = append(steps, engine.Step{Action: engine.ClusterVersion, Version: target}, engine.Step{Action: engine.DowngradeOver, Version: target})
	}
	if err := u.env.Plan(steps); err != nil {
		return err
	}
	for _, s := range steps {
		if err := u.env.Do(ctx, s); err != nil {
			return u.onFailure(ctx, s, err)
		}
	}
	return nil
}

// rollingSteps restarts every member on v, followers first, then the
// leader after one hand-off, each held at its gates; from is each
// member's version to go back to when it fails on its own.
func (u *upgrader) rollingSteps(ctx context.Context, v string, from map[string]string) ([]engine.Step, error) {
	cl, err := u.opts.Session.Status(ctx)
	if err != nil {
		return nil, err
	}
	u.hopFrom = map[string]string{}
	var followers []string
	leader := ""
	for _, m := range cl.Members {
		u.hopFrom[m.Name] = m.ServerVersion
		if version.Compare(m.ServerVersion, v) == 0 || !m.Reachable {
			u.hopFrom[m.Name] = from[m.Name]
		}
		if m.IsLeader {
			leader = m.Name
		} else {
			followers = append(followers, m.Name)
		}
	}
	sort.Strings(followers)
	var steps []engine.Step
	for _, f := range followers {
		steps = append(steps, engine.Step{Action: engine.Restart, Member: f, Version: v}, engine.Step{Action: engine.Gates, Member: f, Version: v})
	}
	if leader != "" {
		steps = append(steps,
			engine.Step{Action: engine.HandOff, Member: leader, Version: v},
			engine.Step{Action: engine.Restart, Member: leader, Version: v},
			engine.Step{Action: engine.Gates, Member: leader, Version: v})
	}
	return steps, nil
}

// downgradeFinished says whether the downgrade is over: every member was
// moved and the cluster version is on the members' minor.
func downgradeFinished(cl *status.Cluster, moved []status.Member) bool {
	low, high := versionRange(cl)
	return len(moved) == len(cl.Members) && version.Minor(low) == version.Minor(high) && cl.ClusterVersion != "" && version.Minor(cl.ClusterVersion) == version.Minor(low)
}
