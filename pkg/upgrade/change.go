package upgrade

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// prepareFunc looks at the live cluster (after a resume's recovery) and
// refuses the change, or returns what runs it.
type prepareFunc func(ctx context.Context, u *upgrader, cl *status.Cluster) (func(context.Context) error, error)

// change is the engine change every change of this package starts from.
func (u *upgrader) change(kind string) engine.Change {
	o := u.opts
	return engine.Change{Kind: kind, JournalPath: o.JournalPath, LockDir: o.LockDir, Resume: o.Resume, Env: u.env, Hint: finishHint}
}

// runChange runs an upgrade or a downgrade on the engine: a new journal
// to the target (not written until the change is accepted), or the
// unfinished one to the same target; the probe; the report.
func runChange(ctx context.Context, opts Options, kind string, prepare prepareFunc) (*Report, error) {
	opts.defaults()
	u := &upgrader{opts: opts}
	u.env = u.newEnv()
	c := u.change(kind)
	c.CheckResume = func(j *engine.Journal) error {
		if opts.Target == "" || sameTarget(opts.Catalog, opts.Target, j.Target) {
			return nil
		}
		if opts.Resume {
			return fmt.Errorf("--resume --to %s: the unfinished %s in journal %s goes to %s; nothing was changed: drop --to to resume it, or give it up (etcdpilot upgrade abandon) before going to %s", opts.Target, kind, j.Path(), j.Target, opts.Target)
		}
		return fmt.Errorf("a %s to %s is unfinished (journal %s, %s); %s", kind, j.Target, j.Path(), j.State, finishHint(kind))
	}
	c.New = func(ctx context.Context, _ string) (*engine.Journal, error) {
		target, err := opts.Catalog.Resolve(opts.Target)
		if err != nil {
			return nil, err
		}
		cl, err := opts.Session.Status(ctx)
		if err != nil {
			return nil, err
		}
		old := map[string]string{}
		for _, m := range cl.Members {
			old[m.Name] = m.ServerVersion
		}
		return engine.NewJournal(opts.JournalPath, kind, cl.ClusterID, target, old), nil
	}
	c.StartNote = func(j *engine.Journal) string { return kind + " to " + j.Target }
	c.Prepare = func(ctx context.Context, resumed bool) (func(context.Context) error, error) {
		cl, err := opts.Session.Status(ctx)
		if err != nil {
			return nil, err
		}
		run, err := prepare(ctx, u, cl)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			var pr *probe.Probe
			if opts.Probe {
				if pr, err = probe.Start(ctx, opts.Session.Config(), opts.ProbeOptions); err != nil {
					return fmt.Errorf("availability probe: %w", err)
				}
			}
			err := run(ctx)
			if pr != nil {
				u.rep().Probe = pr.Stop(context.Background())
			}
			return err
		}, nil
	}
	// A member that failed on its own went back: the change is rolled
	// back where it stopped.
	c.End = func(runErr error) string {
		switch {
		case runErr == nil:
			return engine.StateDone
		case len(u.rep().RolledBack) > 0:
			return engine.StateRolledBack
		}
		return engine.StateFailed
	}
	return u.run(ctx, c)
}

// run runs the change on the engine and completes the report.
func (u *upgrader) run(ctx context.Context, c engine.Change) (*Report, error) {
	out, err := engine.Run(ctx, c)
	if out == nil {
		return nil, err
	}
	r, j := u.rep(), out.Journal
	r.Kind, r.Target, r.From, r.Journal = j.Kind, j.Target, j.OldVersions, j.Path()
	r.Took, r.Snapshot, r.State, r.Entries = out.Took, j.Snapshot, out.State, j.Entries
	if err != nil {
		r.Error = err.Error()
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if cl, serr := u.opts.Session.Status(actx); serr == nil {
		r.To = map[string]string{}
		for _, m := range cl.Members {
			r.To[m.Name] = m.ServerVersion
		}
		r.ClusterVersion = cl.ClusterVersion
	}
	return r, err
}

// rep is the report being filled.
func (u *upgrader) rep() *Report {
	if u.report == nil {
		u.report = &Report{State: engine.StateRunning}
	}
	return u.report
}

// Rollback returns every member of a mixed cluster to the version the
// journal recorded before the upgrade. A member that an interrupted run
// left down comes back first (on its old version), then the members that
// moved, down ones first, followers next and the leader last; a member
// that answers is restarted only while every other voter is up.
func Rollback(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	u := &upgrader{opts: opts}
	u.env = u.newEnv()
	c := u.change(kindUpgrade)
	prev, nothing := "", false
	var old map[string]string
	c.Adopt = func(ctx context.Context, _ string, j *engine.Journal) (*engine.Journal, error) {
		if j == nil {
			return nil, fmt.Errorf("no upgrade journal at %s: nothing to roll back to (the journal records each member's old version)", opts.JournalPath)
		}
		if j.Kind == kindDowngrade {
			return nil, fmt.Errorf("journal %s records a downgrade to %s: undo it with etcdpilot downgrade cancel", opts.JournalPath, j.Target)
		}
		cl, err := opts.Session.Status(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range cl.Members {
			o, ok := j.OldVersions[m.Name]
			if !ok {
				return nil, fmt.Errorf("member %s is not in the journal's record; roll it back by hand", m.Name)
			}
			if err := checkClusterVersion(cl, o); err != nil {
				return nil, err
			}
		}
		prev, old, u.hopFrom = j.State, j.OldVersions, j.OldVersions
		return j, nil
	}
	c.Continue = "rollback"
	c.RecoverVersion = func(e engine.Entry) string { return old[e.Member] }
	c.Prepare = func(ctx context.Context, _ bool) (func(context.Context) error, error) {
		moved, err := movedMembers(ctx, u, old)
		if err != nil {
			return nil, err
		}
		if len(moved) == 0 {
			opts.Log.Info("every member already runs its pre-upgrade version: nothing to roll back")
			nothing = true
		}
		return func(ctx context.Context) error { return u.rollbackMembers(ctx, moved, old) }, nil
	}
	c.End = func(runErr error) string {
		switch {
		case runErr != nil:
			return engine.StateFailed
		case nothing && engine.Finished(prev):
			return prev
		}
		return engine.StateRolledBack
	}
	return u.run(ctx, c)
}

// movedMembers are the members not on their old version (or down).
func movedMembers(ctx context.Context, u *upgrader, old map[string]string) ([]status.Member, error) {
	cl, err := u.opts.Session.Status(ctx)
	if err != nil {
		return nil, err
	}
	return moved(cl, old), nil
}

// ErrNothingToCancel: no downgrade is enabled and no member was moved down.
var ErrNothingToCancel = errors.New("nothing to cancel")

// CancelDowngrade undoes a downgrade while the cluster is still mixed:
// cancel it in etcd (decided from the members' status), then restart the
// members already moved down on the version the journal recorded (without
// a journal: the newest version in the cluster), down ones first, the
// leader last after a hand-off, with the gates; the cluster version moves
// back up at the end.
func CancelDowngrade(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	u := &upgrader{opts: opts}
	u.env = u.newEnv()
	c := u.change(kindDowngrade)
	var (
		old       map[string]string
		movedDown []status.Member
		high      string
	)
	c.Adopt = func(ctx context.Context, _ string, j *engine.Journal) (*engine.Journal, error) {
		cl, err := opts.Session.Status(ctx)
		if err != nil {
			return nil, err
		}
		_, high = versionRange(cl)
		if j == nil || j.Kind != kindDowngrade || j.State == engine.StateRolledBack {
			// A downgrade enabled by hand: go back to the newest version.
			all := map[string]string{}
			for _, m := range cl.Members {
				all[m.Name] = high
			}
			target := cl.Downgrade
			if target == "" {
				target = high
			}
			j = engine.NewJournal(opts.JournalPath, kindDowngrade, cl.ClusterID, target, all)
		}
		movedDown = moved(cl, j.OldVersions)
		if cl.Downgrade == "" && len(movedDown) == 0 {
			return nil, ErrNothingToCancel
		}
		if cl.Downgrade == "" && downgradeFinished(cl, movedDown) {
			return nil, fmt.Errorf("%w: the downgrade to %s is over (every member runs %s and the cluster version moved); going back up is an upgrade, etcdpilot upgrade apply", ErrNothingToCancel, j.Target, version.Minor(j.Target))
		}
		old, u.hopFrom = j.OldVersions, j.OldVersions
		return j, nil
	}
	c.Continue = "cancel"
	c.RecoverVersion = func(e engine.Entry) string { return old[e.Member] }
	c.Prepare = func(ctx context.Context, _ bool) (func(context.Context) error, error) {
		return func(ctx context.Context) error {
			if err := u.env.Do(ctx, engine.Step{Action: engine.DowngradeCancel, Version: u.env.Journal.Target, Rollback: true}); err != nil {
				return err
			}
			if err := u.rollbackMembers(ctx, movedDown, old); err != nil {
				return err
			}
			return u.env.Do(ctx, engine.Step{Action: engine.ClusterVersion, Version: high, Rollback: true})
		}, nil
	}
	c.End = func(runErr error) string {
		if runErr != nil {
			return engine.StateFailed
		}
		return engine.StateRolledBack
	}
	return u.run(ctx, c)
}

// moved are the members that do not run their old version, or are down.
func moved(cl *status.Cluster, old map[string]string) []status.Member {
	var out []status.Member
	for _, m := range cl.Members {
		if !m.Reachable || version.Compare(m.ServerVersion, old[m.Name]) != 0 {
			out = append(out, m)
		}
	}
	return out
}
