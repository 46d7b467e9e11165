// Package upgrade plans and runs rolling upgrades of etcd clusters on the
// engine: a verified snapshot, then per hop the followers and finally the
// leader (after one hand-off) restarted on the new version, each held at
// gates before the next; a member that fails its own gates goes back to its
// old version while the cluster is still mixed. Rollback is made of the
// same steps, journaled the same way.
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Options describe one upgrade.
type Options struct {
	Target  string
	Session *cluster.Session
	Runtime runtime.Runtime
	Catalog *catalog.Catalog
	// JournalPath is the journal file.
	JournalPath string
	// LockDir holds the per-cluster locks (default engine.LockDir()).
	LockDir string
	// Resume requires an unfinished journal and continues it.
	Resume bool
	// Snapshots takes the pre-upgrade snapshot (nil or SkipSnapshot: none).
	Snapshots    Snapshotter
	SkipSnapshot bool
	Configs      []*memberconfig.Config
	Kubernetes   string
	// NoWALFix leaves the members' WALs as they are before a hop into 3.7
	// (the plan's v2-wal-entries blocker becomes a warning): rehearsals
	// use it to show the hazard.
	NoWALFix bool
	// Probe runs an availability probe during the upgrade.
	Probe        bool
	ProbeOptions probe.Options
	// GateTimeout bounds each gate (default 60s); MaxLag is how far a
	// member's applied index may trail the leader's (default 100).
	GateTimeout time.Duration
	MaxLag      uint64
	Log         *slog.Logger
	// Observers see every journal entry (progress displays; tests inject
	// faults at exact points with them).
	Observers []engine.Observer
}

// Snapshotter takes a verified snapshot and tells whether one still exists.
type Snapshotter interface {
	Take(ctx context.Context, s *cluster.Session, hashes *status.HashCache) (string, error)
	Exists(ctx context.Context, name string) bool
}

// Report is what an upgrade (or a rollback) did.
type Report struct {
	// Kind is upgrade or downgrade.
	Kind           string            `json:"kind"`
	Target         string            `json:"target"`
	From           map[string]string `json:"from"`
	To             map[string]string `json:"to"`
	ClusterVersion string            `json:"clusterVersion"`
	Snapshot       string            `json:"snapshot,omitempty"`
	Journal        string            `json:"journal"`
	State          string            `json:"state"`
	Error          string            `json:"error,omitempty"`
	RolledBack     []string          `json:"rolledBack,omitempty"`
	Took           time.Duration     `json:"took"`
	Probe          *probe.Result     `json:"probe,omitempty"`
	Entries        []engine.Entry    `json:"steps"`
}

// ErrBlocked means the plan has blockers; nothing was changed.
var ErrBlocked = errors.New("the upgrade plan has blockers")

// ErrNothingToDo means the cluster is where the change would take it:
// nothing was done, no snapshot taken, no journal written.
var ErrNothingToDo = errors.New("nothing to do")

type upgrader struct {
	opts Options
	env  *engine.Env
	// hopFrom is each member's version when the current hop began.
	hopFrom map[string]string
	report  *Report
}

func (o *Options) defaults() {
	o.Log = logging.OrDiscard(o.Log)
}

// Apply runs (or resumes) the upgrade.
func Apply(ctx context.Context, opts Options) (*Report, error) {
	return runChange(ctx, opts, kindUpgrade, func(ctx context.Context, u *upgrader, cl *status.Cluster) (func(context.Context) error, error) {
		p, err := u.plan(ctx)
		if err != nil {
			return nil, err
		}
		if p.Direction == "none" && len(u.env.Journal.Entries) == 0 {
			return nil, fmt.Errorf("%w: every member runs %s already", ErrNothingToDo, p.Target)
		}
		return func(ctx context.Context) error { return u.upgrade(ctx, p) }, nil
	})
}

// The kinds of change a journal records.
const (
	kindUpgrade   = "upgrade"
	kindDowngrade = "downgrade"
)

func (u *upgrader) newEnv() *engine.Env {
	o := u.opts
	env := &engine.Env{
		Session: o.Session, Runtime: o.Runtime, Log: o.Log,
		Observers:   append([]engine.Observer{engine.Progress{Log: o.Log}}, o.Observers...),
		GateTimeout: o.GateTimeout, MaxLag: o.MaxLag, Renames: u.renames,
	}
	if o.Snapshots != nil {
		env.TakeSnapshot = func(ctx context.Context) (string, error) { return o.Snapshots.Take(ctx, o.Session, env.Hashes()) }
		env.SnapshotExists = o.Snapshots.Exists
	}
	return env
}

// sameTarget: the target asked for is the journal's (a minor names the
// journal's release of that minor, whatever the catalog's newest is now).
func sameTarget(cat *catalog.Catalog, asked, journal string) bool {
	if version.IsMinor(strings.TrimPrefix(asked, "v")) {
		return version.Minor(journal) == strings.TrimPrefix(asked, "v")
	}
	want, err := cat.Resolve(asked)
	return err == nil && want == journal
}

// finishHint says how to finish an unfinished change of a kind.
func finishHint(kind string) string {
	if kind == kindDowngrade {
		return "resume it with etcdpilot downgrade apply --resume, undo it with etcdpilot downgrade cancel, or give it up with etcdpilot upgrade abandon --reason '...'"
	}
	return "resume it with --resume, roll it back with etcdpilot upgrade rollback, or give it up with etcdpilot upgrade abandon --reason '...'"
}

// plan runs the planner on the live cluster and refuses on blockers,
// except removed flags a runtime that owns its members' flags renames.
func (u *upgrader) plan(ctx context.Context) (*plan.Plan, error) {
	target := u.env.Journal.Target
	p, err := LivePlan(ctx, Gathering{Session: u.opts.Session, Runtime: u.opts.Runtime, Catalog: u.opts.Catalog,
		Options:    plan.Options{Target: target, Configs: u.opts.Configs, Kubernetes: u.opts.Kubernetes},
		ScratchDir: filepath.Dir(u.opts.JournalPath), Log: u.opts.Log, Hashes: u.env.Hashes()})
	if err != nil {
		return nil, err
	}
	if p.Direction == "downgrade" {
		return nil, fmt.Errorf("%s is older than the cluster; nothing was changed and no journal was written: going back is etcdpilot downgrade apply --to %s (see etcdpilot downgrade plan --to %s)", target, target, target)
	}
	_, renames := u.opts.Runtime.(runtime.FlagRenamer)
	var blockers []string
	for _, b := range p.Blockers {
		if b.Code == "flag-removed" && b.Replacement != "" && renames {
			u.opts.Log.Info("note: {flag} will become {replacement} when the member starts on {minor}", "flag", b.Flag, "replacement", b.Replacement, "minor", version.Minor(target))
			continue
		}
		if b.Code == plan.CodeV2WAL && u.opts.NoWALFix {
			u.opts.Log.Warn("--no-wal-fix: " + b.Message)
			continue
		}
		if b.Code == plan.CodeV2WAL && engine.CanTakeRaftSnapshots(u.opts.Runtime, memberNames(p)...) {
			u.opts.Log.Info("note: every member takes a raft snapshot on 3.6 (a restart with --snapshot-count=1) before it starts on 3.7")
			continue
		}
		blockers = append(blockers, fmt.Sprintf("[%s] %s", b.Code, b.Message))
	}
	if len(blockers) > 0 {
		return nil, fmt.Errorf("%w; nothing was changed:\n  %s", ErrBlocked, strings.Join(blockers, "\n  "))
	}
	return p, nil
}

// upgrade executes the steps: the snapshot, then every hop member by member.
func (u *upgrader) upgrade(ctx context.Context, p *plan.Plan) error {
	if !u.opts.SkipSnapshot && u.opts.Snapshots != nil {
		if err := u.env.Do(ctx, engine.Step{Action: engine.Snapshot}); err != nil {
			return fmt.Errorf("pre-upgrade snapshot: %w; nothing else was changed", err)
		}
	}
	for _, hop := range p.Path {
		steps, err := u.hopSteps(ctx, hop)
		if err != nil {
			return err
		}
		if err := u.env.Plan(steps); err != nil {
			return err
		}
		for _, s := range steps {
			if err := u.env.Do(ctx, s); err != nil {
				return u.onFailure(ctx, s, err)
			}
		}
	}
	// However the path went (a resumed upgrade may find every member on
	// the target already), the cluster version must end on the target's
	// minor.
	return u.env.Do(ctx, engine.Step{Action: engine.ClusterVersion, Version: u.env.Journal.Target})
}

// hopSteps lists the steps of one hop, in the order etcd's guides ask for:
// followers first, then a hand-off, then the leader; for a minor hop the
// cluster version must move at the end. A member that fails goes back to
// what it ran when the hop began.
func (u *upgrader) hopSteps(ctx context.Context, hop plan.Step) ([]engine.Step, error) {
	from := map[string]string{}
	for name, old := range u.env.Journal.OldVersions {
		from[name] = old
		if hop.From != "" {
			from[name] = hop.From
		}
	}
	steps, err := u.rollingSteps(ctx, hop.To, from)
	if err != nil {
		return nil, err
	}
	if hop.Kind == "minor" && version.Minor(hop.To) == "3.7" && !u.opts.NoWALFix && engine.CanTakeRaftSnapshots(u.opts.Runtime, slices.Collect(maps.Keys(from))...) {
		steps = withRaftSnapshots(steps, hop.From)
	}
	if hop.Kind == "minor" {
		steps = append(steps, engine.Step{Action: engine.ClusterVersion, Version: hop.To})
	}
	return steps, nil
}

// withRaftSnapshots puts a raft snapshot on version from before each
// member's restart on 3.7 (the step finds out itself whether the member's
// WAL needs it).
func withRaftSnapshots(steps []engine.Step, from string) []engine.Step {
	var out []engine.Step
	for _, s := range steps {
		if s.Action == engine.Restart {
			out = append(out, engine.Step{Action: engine.RaftSnapshot, Member: s.Member, Version: from})
		}
		out = append(out, s)
	}
	return out
}

// WALState reads, where the runtime can read the members' data
// directories, how many v2 entries each member's WAL replay holds and
// how many of them write custom data (3.6 refuses those), for the members
// named.
func WALState(ctx context.Context, rt runtime.Runtime, names []string) (v2, custom map[string]int) {
	v2, custom = map[string]int{}, map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, goruntime.GOMAXPROCS(0)) // a WAL read is CPU-bound (CRC, decoding)
	for _, name := range names {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if r, err := engine.ReadWAL(ctx, rt, name); err == nil && r != nil {
				mu.Lock()
				v2[name], custom[name] = r.V2, r.V2Custom
				mu.Unlock()
			}
		}(name)
	}
	wg.Wait()
	return v2, custom
}

// renames maps flags the version's minor removed to their replacements.
func (u *upgrader) renames(v string) map[string]string {
	out := map[string]string{}
	for _, f := range u.opts.Catalog.FlagsRemovedUpTo("3.0", version.Minor(v)) {
		if f.Replacement != "" {
			out[f.Flag] = f.Replacement
		}
	}
	return out
}

func memberNames(p *plan.Plan) []string {
	var out []string
	for _, m := range p.Current.Members {
		out = append(out, m.Name)
	}
	return out
}
