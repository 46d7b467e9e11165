package recovery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// ApplyOptions describe a recovery run.
type ApplyOptions struct {
	Options
	// Resume requires an unfinished recovery journal and continues it.
	Resume      bool
	JournalPath string
	LockDir     string
	GateTimeout time.Duration
	// RestoreCluster restores every member from a snapshot file (the
	// runtime's whole-cluster restore); nil: recoveries from a snapshot
	// are refused.
	RestoreCluster func(ctx context.Context, file string) error
	Log            *slog.Logger
	Observers      []engine.Observer
}

// Report is what a recovery did.
type Report struct {
	Plan    *Plan           `json:"plan,omitempty"`
	Journal string          `json:"journal"`
	State   string          `json:"state"`
	Error   string          `json:"error,omitempty"`
	Took    time.Duration   `json:"took"`
	After   *status.Cluster `json:"after,omitempty"`
	Entries []engine.Entry  `json:"steps"`
}

const kind = "recover"

// Apply plans (or resumes) and runs a recovery on the engine. A resumed
// one runs the steps its journal planned — never a new choice of
// survivor.
func Apply(ctx context.Context, o ApplyOptions) (*Report, error) {
	log := logging.OrDiscard(o.Log)
	rep := &Report{Journal: o.JournalPath}
	env := &engine.Env{Session: o.Session, Runtime: o.Runtime, Log: log, GateTimeout: o.GateTimeout,
		RestoreCluster: o.RestoreCluster, Observers: append([]engine.Observer{engine.Progress{Log: log}}, o.Observers...)}
	c := engine.Change{Kind: kind, JournalPath: o.JournalPath, LockDir: o.LockDir, Resume: o.Resume, Env: env,
		CarryOn:   "the recovery stopped here: etcdpilot recover apply --resume carries on",
		StartNote: func(j *engine.Journal) string { return "recovery " + j.Target }}
	// A lost cluster may not answer: its ID comes from whichever member
	// does, or from the runtime; nobody at all locks the journal. A
	// recovery under way is locked by its journal's cluster (a restore
	// from a snapshot gives the cluster a new ID).
	c.ClusterID = func(ctx context.Context) (string, error) {
		if j, err := engine.LoadJournal(o.JournalPath); err == nil && j.Kind == kind && !engine.Finished(j.State) {
			return j.ClusterID, nil
		}
		if cl, err := o.Session.Status(ctx); err == nil && cl.ClusterID != "" {
			return cl.ClusterID, nil
		}
		if cl := fromRuntime(ctx, o.Runtime); cl != nil {
			return cl.ClusterID, nil
		}
		return "", nil
	}
	c.New = func(ctx context.Context, _ string) (*engine.Journal, error) {
		p, err := MakePlan(ctx, o.Options)
		if err != nil {
			return nil, err
		}
		rep.Plan = p
		return o.newJournal(p)
	}
	out, runErr := engine.Run(ctx, c)
	if out == nil {
		return nil, runErr
	}
	rep.State, rep.Entries, rep.Took = out.State, out.Journal.Entries, out.Took
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rep.After, _ = o.Session.StatusWithHashes(actx)
	return rep, runErr
}

// newJournal turns an accepted plan into steps, refusing what cannot be
// done: a cluster that is not lost (without Force), a plan with a
// refusal, a runtime that lacks what the way needs.
func (o ApplyOptions) newJournal(p *Plan) (*engine.Journal, error) {
	switch {
	case p.Method == NotNeeded:
		return nil, fmt.Errorf("%s; a recovery is not needed and would cost data: replace the dead members (etcdpilot member replace NAME), or --force", p.Reason)
	case p.Refusal != "":
		return nil, fmt.Errorf("%s; nothing was stopped", p.Refusal)
	}
	old := map[string]string{}
	for _, m := range p.Members {
		old[m.Name] = m.Version
	}
	var steps []engine.Step
	target := ""
	switch p.Method {
	case FromSurvivor:
		_, prov := o.Runtime.(runtime.Provisioner)
		_, flags := o.Runtime.(runtime.FlagOverrider)
		if !prov || !flags {
			return nil, fmt.Errorf("this runtime cannot start a member with --force-new-cluster and provision new ones: follow the plan's steps by hand (etcdpilot recover plan), or recover a sandbox; nothing was stopped")
		}
		target = "from survivor " + p.Survivor
		for _, m := range p.Members {
			if m.Name != p.Survivor {
				steps = append(steps, engine.Step{Action: engine.Retire, Member: m.Name})
			}
		}
		if _, dirs := o.Runtime.(runtime.DataDirs); len(p.Hazards) > 0 && dirs {
			steps = append(steps, engine.Step{Action: engine.KeepCopy, Member: p.Survivor, Version: old[p.Survivor]})
		}
		steps = append(steps, engine.Step{Action: engine.ForceNewCluster, Member: p.Survivor})
		for _, m := range p.Members {
			if m.Name != p.Survivor {
				steps = append(steps, engine.Step{Action: engine.Rejoin, Member: m.Name, Version: old[p.Survivor]})
			}
		}
	case FromSnapshot:
		if o.RestoreCluster == nil {
			return nil, fmt.Errorf("this runtime cannot restore every member: restore by hand (etcdpilot snapshot restore %s --initial-cluster ...); nothing was stopped", p.Snapshot.Path)
		}
		target = "from snapshot " + p.Snapshot.Path
		steps = append(steps, engine.Step{Action: engine.RestoreSnapshot})
	}
	steps = append(steps, engine.Step{Action: engine.Verify})
	j := engine.NewJournal(o.JournalPath, kind, p.ClusterID, target, old)
	j.Planned = steps
	if p.Snapshot != nil && p.Method == FromSnapshot {
		j.Snapshot = p.Snapshot.Path
	}
	return j, nil
}
