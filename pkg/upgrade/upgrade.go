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
	"os"
	"path/filepath"
	"strings"
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
	Take(ctx context.Context, s *cluster.Session) (string, error)
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
		p, err := u.plan(ctx, cl)
		if err != nil {
			return nil, err
		}
		if p.Direction == "none" && len(u.env.Journal.Entries) == 0 {
			return nil, fmt.Errorf("%w: every member runs %s already", ErrNothingToDo, p.Target)
		}
		return func(ctx context.Context) error { return u.run(ctx, p) }, nil
	})
}

// The kinds of change a journal records.
const (
	kindUpgrade   = "upgrade"
	kindDowngrade = "downgrade"
)

// prepareFunc looks at the live cluster (after a resume's recovery) and
// refuses the change, or returns what runs it.
type prepareFunc func(ctx context.Context, u *upgrader, cl *status.Cluster) (func(context.Context) error, error)

// runChange is what an upgrade and a downgrade share: the lock, the
// journal (new or resumed, with the recovery of an interrupted restart),
// the refusal that leaves no journal, the probe, and the report.
func runChange(ctx context.Context, opts Options, kind string, prepare prepareFunc) (*Report, error) {
	opts.defaults()
	start := time.Now()
	cl, unlock, err := lockCluster(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer unlock()

	u := &upgrader{opts: opts}
	j, resumed, err := u.openJournal(cl, kind)
	if err != nil {
		return nil, err
	}
	u.env = u.newEnv(j)
	if resumed {
		opts.Log.Info(fmt.Sprintf("resuming the %s to %s from journal %s (%s)", kind, j.Target, j.Path(), j.State))
		j.State, j.Error = engine.StateRunning, ""
		if err := u.env.Note("resume", "started", ""); err != nil {
			return nil, err
		}
		if err := u.env.Recover(ctx, nil); err != nil {
			j.Finish(engine.StateFailed, err)
			return nil, err
		}
		if cl, err = opts.Session.Status(ctx); err != nil {
			return nil, err
		}
	}
	run, err := prepare(ctx, u, cl)
	if err != nil {
		// A refused change never leaves a running journal: a new one is
		// not written at all, a resumed one stays resumable.
		if resumed {
			j.Finish(engine.StateFailed, err)
		}
		return nil, err
	}
	if !resumed {
		if old, err := engine.LoadJournal(j.Path()); err == nil && engine.Finished(old.State) {
			if err := old.Archive(); err != nil {
				return nil, err
			}
		}
		if err := u.env.Note("start", "started", kind+" to "+j.Target); err != nil {
			return nil, err
		}
	}
	u.report = &Report{Kind: kind, Target: j.Target, From: j.OldVersions, Journal: j.Path(), State: engine.StateRunning}
	var pr *probe.Probe
	if opts.Probe {
		if pr, err = probe.Start(ctx, opts.Session.Config(), opts.ProbeOptions); err != nil {
			return nil, fmt.Errorf("availability probe: %w", err)
		}
	}
	runErr := run(ctx)
	if pr != nil {
		u.report.Probe = pr.Stop(context.Background())
	}
	u.finish(ctx, runErr, start)
	return u.report, runErr
}

// lockCluster reads the cluster and takes its lock: one change per
// cluster at a time from this machine.
func lockCluster(ctx context.Context, opts Options) (*status.Cluster, func(), error) {
	cl, err := opts.Session.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	lock, err := engine.Lock(opts.LockDir, cl.ClusterID)
	if err != nil {
		return nil, nil, err
	}
	return cl, func() { lock.Unlock() }, nil
}

func (u *upgrader) newEnv(j *engine.Journal) *engine.Env {
	o := u.opts
	env := &engine.Env{
		Session: o.Session, Runtime: o.Runtime, Journal: j, Log: o.Log,
		Observers:   append([]engine.Observer{engine.Progress{Log: o.Log}}, o.Observers...),
		GateTimeout: o.GateTimeout, MaxLag: o.MaxLag, Renames: u.renames,
	}
	if o.Snapshots != nil {
		env.TakeSnapshot = func(ctx context.Context) (string, error) { return o.Snapshots.Take(ctx, o.Session) }
		env.SnapshotExists = o.Snapshots.Exists
	}
	return env
}

// openJournal returns the unfinished journal of this cluster to resume, or
// a new one (not written until the change is accepted). An unfinished
// change of the other kind is refused: one change at a time.
func (u *upgrader) openJournal(cl *status.Cluster, kind string) (j *engine.Journal, resumed bool, err error) {
	path := u.opts.JournalPath
	j, err = engine.LoadJournal(path)
	switch {
	case err == nil && !engine.Finished(j.State):
		if j.ClusterID != cl.ClusterID {
			return nil, false, fmt.Errorf("journal %s belongs to cluster %s, not %s", path, j.ClusterID, cl.ClusterID)
		}
		if k := journalKind(j); k != kind {
			return nil, false, fmt.Errorf("a %s to %s is unfinished (journal %s, %s); finish it first: %s", k, j.Target, path, j.State, finishHint(k))
		}
		if u.opts.Target != "" && !sameTarget(u.opts.Catalog, u.opts.Target, j.Target) {
			if u.opts.Resume {
				return nil, false, fmt.Errorf("--resume --to %s: the unfinished %s in journal %s goes to %s; nothing was changed: drop --to to resume it, or give it up (etcdpilot upgrade abandon) before going to %s", u.opts.Target, kind, path, j.Target, u.opts.Target)
			}
			return nil, false, fmt.Errorf("a %s to %s is unfinished (journal %s, %s); %s", kind, j.Target, path, j.State, finishHint(kind))
		}
		return j, true, nil
	case err == nil:
		if u.opts.Resume {
			return nil, false, fmt.Errorf("the last %s in %s is %s: nothing to resume", journalKind(j), path, j.State)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, false, err
	case u.opts.Resume:
		return nil, false, fmt.Errorf("no journal at %s: nothing to resume", path)
	}
	target, err := u.opts.Catalog.Resolve(u.opts.Target)
	if err != nil {
		return nil, false, err
	}
	old := map[string]string{}
	for _, m := range cl.Members {
		old[m.Name] = m.ServerVersion
	}
	return engine.NewJournal(path, kind, cl.ClusterID, target, old), false, nil
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

// journalKind is the change a journal records (journals written before
// downgrades existed are upgrades).
func journalKind(j *engine.Journal) string {
	if j.Kind == "" {
		return kindUpgrade
	}
	return j.Kind
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
func (u *upgrader) plan(ctx context.Context, cl *status.Cluster) (*plan.Plan, error) {
	target := u.env.Journal.Target
	pc := plan.FromStatus(ctx, u.opts.Session.Pool(), cl)
	po := plan.Options{Target: target, Configs: u.opts.Configs, Kubernetes: u.opts.Kubernetes,
		Certificates: u.opts.Session.Certificates(ctx, cl, u.opts.Configs, u.opts.Runtime)}
	po.V2WAL, po.V2Custom = WALState(ctx, u.opts.Runtime, cl)
	if NeedsMembershipCheck(cl, target) {
		var err error
		if po.Membership, err = Membership(ctx, u.opts.Session, cl, filepath.Dir(u.opts.JournalPath), u.opts.Log); err != nil {
			return nil, fmt.Errorf("membership check before 3.6: %w", err)
		}
	}
	p, err := plan.Make(u.opts.Catalog, pc, po)
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
			u.opts.Log.Info(fmt.Sprintf("note: %s will become %s when the member starts on %s", b.Flag, b.Replacement, version.Minor(target)))
			continue
		}
		if b.Code == plan.CodeV2WAL && u.opts.NoWALFix {
			u.opts.Log.Warn("--no-wal-fix: " + b.Message)
			continue
		}
		if b.Code == plan.CodeV2WAL && engine.CanTakeRaftSnapshots(u.opts.Runtime) {
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

// run executes the steps: the snapshot, then every hop member by member.
func (u *upgrader) run(ctx context.Context, p *plan.Plan) error {
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
	if hop.Kind == "minor" && version.Minor(hop.To) == "3.7" && !u.opts.NoWALFix && engine.CanTakeRaftSnapshots(u.opts.Runtime) {
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
// how many of them write custom data (3.6 refuses those).
func WALState(ctx context.Context, rt runtime.Runtime, cl *status.Cluster) (v2, custom map[string]int) {
	v2, custom = map[string]int{}, map[string]int{}
	for _, m := range cl.Members {
		if r, err := engine.ReadWAL(ctx, rt, m.Name); err == nil && r != nil {
			v2[m.Name], custom[m.Name] = r.V2, r.V2Custom
		}
	}
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

func (u *upgrader) finish(ctx context.Context, runErr error, start time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	r, j := u.report, u.env.Journal
	r.Took = time.Since(start)
	r.Snapshot = j.Snapshot
	if cl, err := u.opts.Session.Status(ctx); err == nil {
		r.To = map[string]string{}
		for _, m := range cl.Members {
			r.To[m.Name] = m.ServerVersion
		}
		r.ClusterVersion = cl.ClusterVersion
	}
	state := engine.StateDone
	switch {
	case runErr != nil && len(r.RolledBack) > 0:
		state = engine.StateRolledBack
	case runErr != nil:
		state = engine.StateFailed
	}
	j.Finish(state, runErr)
	r.State, r.Entries = state, j.Entries
	if runErr != nil {
		r.Error = runErr.Error()
	}
}
