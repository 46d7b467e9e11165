// Package upgrade runs rolling upgrades of etcd clusters: a list of small
// steps (snapshot, restart a member on the new version, gates, leader
// hand-off, cluster version), each of which checks the real cluster before
// it acts, so that running the upgrade again skips what is done. Every step
// is journaled durably; a member that fails its gates is rolled back to its
// old binary while the cluster is still mixed.
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
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
	Conn    conn.Config
	Runtime runtime.Runtime
	Catalog *catalog.Catalog
	// JournalPath is the journal file; the upgrade holds JournalPath+".lock".
	JournalPath string
	// Resume requires an unfinished journal and continues it.
	Resume bool
	// SnapshotDir receives the pre-upgrade snapshot.
	SnapshotDir  string
	SkipSnapshot bool
	// RenameFlags lets the runtime rename flags the target no longer
	// accepts (the sandbox owns its members' command lines).
	RenameFlags bool
	Configs     []*memberconfig.Config
	Kubernetes  string
	// Probe runs an availability probe during the upgrade.
	Probe        bool
	ProbeOptions probe.Options
	// GateTimeout bounds each gate (default 60s); MaxLag is how far a
	// member's applied index may trail the leader's (default 100).
	GateTimeout time.Duration
	MaxLag      uint64
	Out         io.Writer
	Version     string // etcdpilot's, for the snapshot sidecar
	// OnStep, when set, is called after each journal entry (progress
	// displays; tests inject faults at exact points with it).
	OnStep func(e Entry)
}

// Report is what an upgrade did.
type Report struct {
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
	Entries        []Entry           `json:"steps"`
}

// ErrBlocked means the plan has blockers; nothing was changed.
var ErrBlocked = errors.New("the upgrade plan has blockers")

type upgrader struct {
	opts    Options
	journal *Journal
	out     io.Writer
	// hopFrom is each member's version when the current hop began.
	hopFrom map[string]string
	report  *Report
}

func (o *Options) defaults() {
	if o.GateTimeout == 0 {
		o.GateTimeout = 60 * time.Second
	}
	if o.MaxLag == 0 {
		o.MaxLag = 100
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// Apply runs (or resumes) the upgrade.
func Apply(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	start := time.Now()
	lock, err := fsutil.TryLock(opts.JournalPath + ".lock")
	if errors.Is(err, fsutil.ErrLocked) {
		return nil, fmt.Errorf("another etcdpilot upgrade is running on this cluster (it holds %s.lock); wait for it or stop it", opts.JournalPath)
	}
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	u := &upgrader{opts: opts, out: opts.Out}
	cl, err := status.Collect(ctx, opts.Conn, status.Options{SkipHash: true})
	if err != nil {
		return nil, err
	}
	if err := u.openJournal(cl); err != nil {
		return nil, err
	}
	if cl, err = u.recoverPending(ctx, cl); err != nil {
		u.journal.finish(StateFailed, err)
		return nil, err
	}
	p, err := u.plan(ctx, cl)
	if err != nil {
		return nil, err
	}
	u.report = &Report{Target: u.journal.Target, From: u.journal.OldVersions, Journal: u.journal.path, State: StateRunning}
	var pr *probe.Probe
	if opts.Probe {
		if pr, err = probe.Start(ctx, opts.Conn, opts.ProbeOptions); err != nil {
			return nil, fmt.Errorf("availability probe: %w", err)
		}
	}
	runErr := u.run(ctx, p)
	if pr != nil {
		u.report.Probe = pr.Stop(context.Background())
	}
	u.finish(ctx, runErr, start)
	return u.report, runErr
}

// openJournal resumes an unfinished journal for this cluster or starts one.
func (u *upgrader) openJournal(cl *status.Cluster) error {
	old := map[string]string{}
	for _, m := range cl.Members {
		old[m.Name] = m.ServerVersion
	}
	j, err := LoadJournal(u.opts.JournalPath)
	switch {
	case err == nil && !finished(j.State):
		if j.ClusterID != cl.ClusterID {
			return fmt.Errorf("journal %s belongs to cluster %s, not %s", u.opts.JournalPath, j.ClusterID, cl.ClusterID)
		}
		if u.opts.Target != "" && !u.opts.Resume {
			want, _ := u.opts.Catalog.Resolve(u.opts.Target)
			if want != j.Target {
				return fmt.Errorf("an upgrade to %s is unfinished (journal %s); resume it with --resume, or roll it back with etcdpilot upgrade rollback", j.Target, u.opts.JournalPath)
			}
		}
		fmt.Fprintf(u.out, "resuming the upgrade to %s from journal %s (%s)\n", j.Target, u.opts.JournalPath, j.State)
		j.State, j.Error = StateRunning, ""
		u.journal = j
		j.onStep = u.opts.OnStep
		return j.log("resume", "started", "")
	case err == nil:
		if u.opts.Resume {
			return fmt.Errorf("the last upgrade in %s is %s: nothing to resume", u.opts.JournalPath, j.State)
		}
		if err := j.archive(); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	case u.opts.Resume:
		return fmt.Errorf("no upgrade journal at %s: nothing to resume", u.opts.JournalPath)
	}
	target, err := u.opts.Catalog.Resolve(u.opts.Target)
	if err != nil {
		return err
	}
	u.journal = newJournal(u.opts.JournalPath, cl.ClusterID, target, old)
	u.journal.onStep = u.opts.OnStep
	return u.journal.log("start", "started", fmt.Sprintf("upgrade to %s", target))
}

// recoverPending finishes a member restart that a crash of etcdpilot cut
// off between stopping the member and starting it: the member is down and
// the journal says which version it was being started on. A member that
// is up is left alone; the steps find out themselves what is done.
func (u *upgrader) recoverPending(ctx context.Context, cl *status.Cluster) (*status.Cluster, error) {
	e := u.journal.pendingRestart()
	if e == nil {
		return cl, nil
	}
	m := findMember(cl, e.Member)
	if m == nil || m.Reachable {
		return cl, nil
	}
	// The interrupted restart may have started the member already: give it
	// a moment to answer before restarting it.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		if cl2, err := u.status(ctx); err == nil {
			if m := findMember(cl2, e.Member); m != nil && m.Reachable {
				return cl2, nil
			}
		}
	}
	fmt.Fprintf(u.out, "member %s is down after an interrupted restart: starting it on %s\n", e.Member, e.Version)
	rec := Entry{Step: "recover " + e.Member, Status: "started", Detail: "start on " + e.Version, Member: e.Member, Version: e.Version}
	if err := u.journal.add(rec); err != nil {
		return nil, err
	}
	// Whatever the process is doing (stopping, starting), stop it first.
	if err := u.opts.Runtime.Stop(ctx, e.Member); err != nil {
		return nil, fmt.Errorf("stopping %s after the interrupted restart: %w", e.Member, err)
	}
	if err := u.opts.Runtime.Start(ctx, e.Member, runtime.StartOptions{Version: e.Version, RenameFlags: u.renames(e.Version)}); err != nil {
		return nil, fmt.Errorf("starting %s after the interrupted restart: %w", e.Member, err)
	}
	if err := u.waitHealthy(ctx); err != nil {
		return nil, err
	}
	rec.Status, rec.Detail = "done", ""
	u.journal.add(rec)
	return status.Collect(ctx, u.opts.Conn, status.Options{SkipHash: true})
}

// waitHealthy waits up to the gate timeout for every member to be reachable.
func (u *upgrader) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(u.opts.GateTimeout)
	for {
		cl, err := u.status(ctx)
		if err == nil && cl.Health == status.Healthy && cl.ReachableVoters == cl.Voters {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s", strings.Join(cl.Reasons, "; "))
			}
			return fmt.Errorf("the cluster did not become healthy within %s: %v", u.opts.GateTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// plan runs the planner on the live cluster and refuses on blockers, except
// removed flags the runtime renames itself.
func (u *upgrader) plan(ctx context.Context, cl *status.Cluster) (*plan.Plan, error) {
	pc := plan.FromStatus(ctx, u.opts.Conn, cl)
	p, err := plan.Make(u.opts.Catalog, pc, plan.Options{Target: u.journal.Target, Configs: u.opts.Configs, Kubernetes: u.opts.Kubernetes})
	if err != nil {
		return nil, err
	}
	var blockers []string
	for _, b := range p.Blockers {
		if b.Code == "flag-removed" && b.Replacement != "" && u.opts.RenameFlags {
			fmt.Fprintf(u.out, "note: %s will become %s when the member starts on %s\n", b.Flag, b.Replacement, version.Minor(u.journal.Target))
			continue
		}
		blockers = append(blockers, fmt.Sprintf("[%s] %s", b.Code, b.Message))
	}
	if len(blockers) > 0 {
		state := StateFailed // a resumed upgrade stays resumable
		if len(u.journal.Entries) == 1 {
			state = StateBlocked // nothing has happened yet
		}
		u.journal.finish(state, ErrBlocked)
		return nil, fmt.Errorf("%w; nothing was changed:\n  %s", ErrBlocked, strings.Join(blockers, "\n  "))
	}
	if p.Direction == "downgrade" {
		return nil, fmt.Errorf("%s is older than the cluster; see etcdpilot upgrade plan --to %s for the way back", u.journal.Target, u.journal.Target)
	}
	return p, nil
}

// run executes the steps: the snapshot, then every hop member by member.
func (u *upgrader) run(ctx context.Context, p *plan.Plan) error {
	if !u.opts.SkipSnapshot {
		if err := u.do(ctx, &snapshotStep{}); err != nil {
			return err
		}
	}
	for _, hop := range p.Path {
		steps, err := u.hopSteps(ctx, hop)
		if err != nil {
			return err
		}
		for _, s := range steps {
			if err := u.do(ctx, s); err != nil {
				return u.onFailure(ctx, s, err)
			}
		}
	}
	// However the path went (a resumed upgrade may find every member on
	// the target already), the cluster version must end on the target's
	// minor.
	return u.do(ctx, &clusterVersionStep{minor: version.Minor(u.journal.Target)})
}

// do runs one step unless the cluster shows it is already done.
func (u *upgrader) do(ctx context.Context, s Step) error {
	done, err := s.Done(ctx, u)
	if err != nil {
		return &checkError{err}
	}
	if done {
		return u.journal.log(s.Name(), "skipped", "already done")
	}
	e := Entry{Step: s.Name(), Status: "started"}
	if r, ok := s.(*restartStep); ok {
		e.Member, e.Version = r.member, r.version
	}
	if err := u.journal.add(e); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "%s ...\n", s.Name())
	started := time.Now()
	if err := s.Run(ctx, u); err != nil {
		e.Status, e.Detail = "failed", err.Error()
		u.journal.add(e)
		return err
	}
	e.Status, e.Detail = "done", time.Since(started).Round(time.Millisecond).String()
	return u.journal.add(e)
}

// checkError is a failure to look at the cluster, not of a step.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }

func (u *upgrader) finish(ctx context.Context, runErr error, start time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	r := u.report
	r.Took = time.Since(start)
	r.Snapshot = u.journal.Snapshot
	if cl, err := status.Collect(ctx, u.opts.Conn, status.Options{SkipHash: true}); err == nil {
		r.To = map[string]string{}
		for _, m := range cl.Members {
			r.To[m.Name] = m.ServerVersion
		}
		r.ClusterVersion = cl.ClusterVersion
	}
	state := StateDone
	switch {
	case runErr != nil && len(r.RolledBack) > 0:
		state = StateRolledBack
	case runErr != nil:
		state = StateFailed
	}
	u.journal.finish(state, runErr)
	r.State, r.Entries = state, u.journal.Entries
	if runErr != nil {
		r.Error = runErr.Error()
	}
}
