package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Step is one small piece of an upgrade. Done looks at the real cluster and
// says whether the step's effect is already there; Run makes it so.
type Step interface {
	Name() string
	Done(ctx context.Context, u *upgrader) (bool, error)
	Run(ctx context.Context, u *upgrader) error
}

// hopSteps lists the steps of one hop, in the order etcd's guides ask for:
// followers first, then a hand-off, then the leader; for a minor hop the
// cluster version must move at the end.
func (u *upgrader) hopSteps(ctx context.Context, hop plan.Step) ([]Step, error) {
	cl, err := u.status(ctx)
	if err != nil {
		return nil, err
	}
	u.hopFrom = map[string]string{}
	var followers []string
	leader := ""
	for _, m := range cl.Members {
		// The version to roll back to: what the member ran when the hop
		// began (after a resume, a member may already be on the target).
		u.hopFrom[m.Name] = m.ServerVersion
		if version.Compare(m.ServerVersion, hop.To) == 0 {
			u.hopFrom[m.Name] = hop.From
			if hop.From == "" {
				u.hopFrom[m.Name] = u.journal.OldVersions[m.Name]
			}
		}
		if m.IsLeader {
			leader = m.Name
		} else {
			followers = append(followers, m.Name)
		}
	}
	sort.Strings(followers)
	v := hop.To
	var steps []Step
	for _, f := range followers {
		steps = append(steps, &restartStep{member: f, version: v}, &gateStep{member: f, version: v})
	}
	if leader != "" {
		steps = append(steps, &handOffStep{member: leader, version: v}, &restartStep{member: leader, version: v}, &gateStep{member: leader, version: v})
	}
	if hop.Kind == "minor" {
		steps = append(steps, &clusterVersionStep{minor: version.Minor(v)})
	}
	return steps, nil
}

func (u *upgrader) status(ctx context.Context) (*status.Cluster, error) {
	c := u.opts.Conn
	return status.Collect(ctx, c, status.Options{SkipHash: true})
}

func findMember(cl *status.Cluster, name string) *status.Member {
	for i := range cl.Members {
		if cl.Members[i].Name == name {
			return &cl.Members[i]
		}
	}
	return nil
}

// snapshotStep takes a snapshot before anything changes, and verifies it.
type snapshotStep struct{}

func (s *snapshotStep) Name() string { return "snapshot" }

func (s *snapshotStep) Done(ctx context.Context, u *upgrader) (bool, error) {
	if u.journal.Snapshot == "" {
		return false, nil
	}
	_, err := os.Stat(u.journal.Snapshot)
	return err == nil, nil
}

func (s *snapshotStep) Run(ctx context.Context, u *upgrader) error {
	dir := u.opts.SnapshotDir
	if dir == "" {
		dir = filepath.Dir(u.journal.path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, file, err := snapshot.Save(ctx, u.opts.Conn, dir+string(os.PathSeparator), snapshot.SaveOptions{Version: u.opts.Version})
	if err != nil {
		return fmt.Errorf("pre-upgrade snapshot: %w", err)
	}
	r, err := snapshot.Verify(ctx, file, snapshot.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("pre-upgrade snapshot %s: %w", file, err)
	}
	if !r.OK() {
		return fmt.Errorf("pre-upgrade snapshot %s does not verify: %v", file, r.Problems)
	}
	u.journal.Snapshot = file
	fmt.Fprintf(u.out, "snapshot %s: revision %d, %d keys, verified\n", file, r.Info.Revision, r.Info.KeyCount)
	return nil
}

// restartStep stops a member gracefully and starts it on the new version
// with the same data directory and flags (renamed where the target minor
// requires it).
type restartStep struct {
	member, version string
}

func (s *restartStep) Name() string { return fmt.Sprintf("restart %s on %s", s.member, s.version) }

func (s *restartStep) Done(ctx context.Context, u *upgrader) (bool, error) {
	cl, err := u.status(ctx)
	if err != nil {
		return false, err
	}
	m := findMember(cl, s.member)
	if m == nil {
		return false, fmt.Errorf("member %s is not in the cluster", s.member)
	}
	return m.Reachable && version.Compare(m.ServerVersion, s.version) == 0, nil
}

func (s *restartStep) Run(ctx context.Context, u *upgrader) error {
	// Stop a member only while every other member is up: with one already
	// down, a three-member cluster would lose quorum.
	cl, err := u.status(ctx)
	if err != nil {
		return err
	}
	for _, o := range cl.Members {
		if o.Name != s.member && !o.Reachable {
			return &GateError{Member: s.member, Reason: fmt.Sprintf("member %s is down (%s); restarting %s now could cost quorum", o.Name, o.Error, s.member)}
		}
	}
	// Never take down a leader: hand off first (normally a handOffStep has
	// done it; after a crash or an election it may be needed again).
	// handOff returns at once when the member is not the leader.
	if err := u.handOff(ctx, s.member, s.version); err != nil {
		return err
	}
	if err := u.opts.Runtime.Stop(ctx, s.member); err != nil {
		return fmt.Errorf("stop %s: %w", s.member, err)
	}
	return u.opts.Runtime.Start(ctx, s.member, runtime.StartOptions{Version: s.version, RenameFlags: u.renames(s.version)})
}

// renames maps flags the version's minor removed to their replacements.
func (u *upgrader) renames(v string) map[string]string {
	if !u.opts.RenameFlags {
		return nil
	}
	out := map[string]string{}
	for _, f := range u.opts.Catalog.FlagsRemovedUpTo("3.0", version.Minor(v)) {
		if f.Replacement != "" {
			out[f.Flag] = f.Replacement
		}
	}
	return out
}

// gateStep holds the upgrade until the restarted member is healthy, runs
// the new version, has caught up with the leader, and every member's
// key-value hash agrees.
type gateStep struct {
	member, version string
}

func (s *gateStep) Name() string { return fmt.Sprintf("gates for %s", s.member) }

func (s *gateStep) Done(ctx context.Context, u *upgrader) (bool, error) { return false, nil }

func (s *gateStep) Run(ctx context.Context, u *upgrader) error {
	return u.waitGates(ctx, s.member, s.version, u.opts.GateTimeout)
}

// handOffStep moves leadership off a member before it restarts, to the
// most caught-up member already on the new version.
type handOffStep struct {
	member, version string
}

func (s *handOffStep) Name() string { return fmt.Sprintf("move leadership off %s", s.member) }

func (s *handOffStep) Done(ctx context.Context, u *upgrader) (bool, error) {
	cl, err := u.status(ctx)
	if err != nil {
		return false, err
	}
	m := findMember(cl, s.member)
	if m != nil && m.Reachable && version.Compare(m.ServerVersion, s.version) == 0 {
		return true, nil // already upgraded: it will not restart
	}
	return m != nil && !m.IsLeader && cl.Leader != "", nil
}

func (s *handOffStep) Run(ctx context.Context, u *upgrader) error {
	return u.handOff(ctx, s.member, s.version)
}

// clusterVersionStep waits for the cluster version to move to the new
// minor, which etcd does by itself once every member runs it.
type clusterVersionStep struct{ minor string }

func (s *clusterVersionStep) Name() string { return "cluster version " + s.minor }

func (s *clusterVersionStep) Done(ctx context.Context, u *upgrader) (bool, error) {
	cl, err := u.status(ctx)
	if err != nil {
		return false, err
	}
	return onMinor(cl, s.minor), nil
}

func (s *clusterVersionStep) Run(ctx context.Context, u *upgrader) error {
	return WaitClusterVersion(ctx, u.opts.Conn, s.minor, u.opts.GateTimeout)
}

func onMinor(cl *status.Cluster, minor string) bool {
	return cl.ClusterVersion != "" && version.Minor(cl.ClusterVersion) == minor
}

// WaitClusterVersion waits until the cluster version is on minor. etcd's
// leader moves it by itself once every member runs the minor, on its
// version monitor's tick (up to 4s) or a new term's first commit.
func WaitClusterVersion(ctx context.Context, cfg conn.Config, minor string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		cl, err := status.Collect(ctx, cfg, status.Options{SkipHash: true})
		if err == nil && onMinor(cl, minor) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the cluster version did not move to %s within %s (last error: %v)", minor, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
