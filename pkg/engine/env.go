package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Env is what steps run against.
type Env struct {
	Session *cluster.Session
	Runtime runtime.Runtime
	Journal *Journal
	// Observers see every entry after the journal has saved it.
	Observers []Observer
	Log       *slog.Logger
	// GateTimeout bounds each gate (default 60 s); MaxLag is how far a
	// member's applied index may trail the leader's (default 100).
	GateTimeout time.Duration
	MaxLag      uint64
	// Renames returns the flags a member must have renamed before it
	// starts on version v (only used when the runtime is a FlagRenamer).
	Renames func(v string) map[string]string
	// TakeSnapshot takes and verifies the snapshot of the Snapshot step
	// and returns its name; SnapshotExists tells whether it is still there.
	TakeSnapshot   func(ctx context.Context) (string, error)
	SnapshotExists func(ctx context.Context, name string) bool
	// RestoreCluster restores every member's data from a snapshot file and
	// starts the members (recoveries from a snapshot).
	RestoreCluster func(ctx context.Context, file string) error
	// Defrag tunes Compact and Defrag steps.
	Defrag DefragOptions

	// hashes keeps the members' hashes from one gate to the next.
	hashes status.HashCache
}

// Hashes is the change's hash cache, for the plan it starts from to fill
// (the first gate then hashes only the member its step touched).
func (e *Env) Hashes() *status.HashCache { return &e.hashes }

func (e *Env) defaults() {
	if e.GateTimeout == 0 {
		e.GateTimeout = 60 * time.Second
	}
	if e.MaxLag == 0 {
		e.MaxLag = 100
	}
	if e.Defrag.Timeout == 0 {
		e.Defrag.Timeout = 10 * time.Minute
	}
	e.Log = logging.OrDiscard(e.Log)
}

// record saves an entry in the journal, then shows it to the observers.
func (e *Env) record(en Entry) error {
	en.At = time.Now().UTC()
	if err := e.Journal.Observe(en); err != nil {
		return fmt.Errorf("journal %s: %w", e.Journal.Path(), err)
	}
	for _, o := range e.Observers {
		if err := o.Observe(en); err != nil {
			return err
		}
	}
	return nil
}

// Note journals a note (not a step) and shows it to the observers.
func (e *Env) Note(step string, status Status, detail string) error {
	return e.record(Entry{Step: step, Status: status, Detail: detail})
}

// CheckError is a failure to look at the cluster, not of a step.
type CheckError struct{ Err error }

func (c *CheckError) Error() string { return c.Err.Error() }
func (c *CheckError) Unwrap() error { return c.Err }

// Do runs one step unless the cluster shows it is done already.
func (e *Env) Do(ctx context.Context, s Step) error {
	e.defaults()
	a, ok := actions[s.Action]
	if !ok {
		return fmt.Errorf("unknown step action %q", s.Action)
	}
	en := Entry{Step: s.String(), Action: s.Action, Rollback: s.Rollback, Member: s.Member, Version: s.Version}
	done, err := a.done(ctx, e, s)
	if err != nil {
		return &CheckError{err}
	}
	if done {
		en.Status, en.Detail = Skipped, "already done"
		return e.record(en)
	}
	en.Status = Started
	if err := e.record(en); err != nil {
		return err
	}
	start := time.Now()
	if err := a.run(ctx, e, s); err != nil {
		en.Status, en.Detail = Failed, err.Error()
		if jerr := e.record(en); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	en.Status, en.Detail = Done, time.Since(start).Round(time.Millisecond).String()
	return e.record(en)
}

// Plan records the steps about to run (shown by upgrade status).
func (e *Env) Plan(steps []Step) error {
	e.Journal.Planned = steps
	return e.Journal.Save()
}
