package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Change is one kind of change for Run: how it names its cluster, plans
// a new change, checks a journal it continues, and what a failure leaves.
// Every change (upgrade, rollback, downgrade, cancel, defrag, space
// recover, recover) runs through Run, so that each takes the lock first,
// opens its journal with the same checks, resumes by the same recovery
// path and ends with every journal write checked.
type Change struct {
	// Kind is what the journal records ("upgrade", "defrag", ...).
	Kind        string
	JournalPath string
	LockDir     string
	// Resume requires an unfinished journal of this kind and continues it.
	Resume bool
	// Env is what the steps run against; Run sets its Journal.
	Env *Env
	// ClusterID names the cluster to lock (default: the session's status).
	// "" locks the journal instead: a cluster nobody can name.
	ClusterID func(ctx context.Context) (string, error)
	// Hint says how to finish an unfinished change of a kind, for the
	// refusal of another change while it is unfinished.
	Hint func(kind string) string
	// CheckResume refuses to continue an unfinished journal of this kind
	// (beyond the cluster check), e.g. one going to another target.
	CheckResume func(j *Journal) error
	// New plans a new change and returns its journal, not written yet: an
	// error refuses the change and nothing is written.
	New func(ctx context.Context, clusterID string) (*Journal, error)
	// Adopt, when set, replaces the opening of the journal: it gets the
	// journal at the path (nil if there is none) and returns the journal
	// to carry on with, continued whatever its state (a rollback continues
	// a failed upgrade). Continue names the note journaled then.
	Adopt    func(ctx context.Context, clusterID string, j *Journal) (*Journal, error)
	Continue string
	// RecoverVersion picks the version a member that a crash left down
	// comes back on (default: the version it was being started on).
	RecoverVersion func(Entry) string
	// Prepare looks at the cluster after the recovery and returns what
	// runs the change (nil: the journal's planned steps, in order). An
	// error refuses the change: a new journal is not written, a continued
	// one is marked failed and stays resumable.
	Prepare func(ctx context.Context, resumed bool) (func(context.Context) error, error)
	// StartNote is the detail of a new change's start note.
	StartNote func(j *Journal) string
	// CarryOn ends the error of a failed planned step (how to go on).
	CarryOn string
	// End is the state the change ends in (default: done, or failed).
	End func(runErr error) string
}

// Outcome is what Run leaves: the journal and how it ended.
type Outcome struct {
	Journal *Journal
	Resumed bool
	State   string
	Took    time.Duration
}

// Run takes the cluster's lock, opens the journal (a new change, or the
// unfinished one to resume, with the kind and cluster checks), brings
// back a member a crash left down, runs the change and finishes the
// journal. A refused change leaves no journal behind.
func Run(ctx context.Context, c Change) (*Outcome, error) {
	start := time.Now()
	e := c.Env
	e.defaults()
	id, err := c.clusterID(ctx)
	if err != nil {
		return nil, err
	}
	lockID := id
	if lockID == "" {
		lockID = "journal-" + strings.NewReplacer("/", "_", ".", "_").Replace(c.JournalPath)
	}
	lock, err := Lock(c.LockDir, lockID)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	onDisk, err := LoadJournal(c.JournalPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	j, resumed, err := c.open(ctx, id, onDisk)
	if err != nil {
		return nil, err
	}
	e.Journal = j
	out := &Outcome{Journal: j, Resumed: resumed}
	if resumed {
		note := c.Continue
		if note == "" {
			note = "resume"
			e.Log.Info("resuming the {change} ({target}) from journal {journal} ({state})", "change", j.Kind, "target", j.Target, "journal", j.Path(), "state", j.State)
		}
		j.State, j.Error = StateRunning, ""
		if onDisk != nil && onDisk != j && Finished(onDisk.State) {
			if err := onDisk.Archive(); err != nil {
				return nil, err
			}
		}
		if err := e.Note(note, Started, ""); err != nil {
			return nil, err
		}
		if e.Runtime != nil {
			if err := e.Recover(ctx, c.RecoverVersion); err != nil {
				return out, c.finish(out, StateFailed, err, start)
			}
		}
	}
	run, err := c.prepare(ctx, resumed)
	if err != nil {
		if resumed {
			return out, c.finish(out, StateFailed, err, start)
		}
		return nil, err
	}
	if !resumed {
		if onDisk != nil && Finished(onDisk.State) {
			if err := onDisk.Archive(); err != nil {
				return nil, err
			}
		}
		detail := c.Kind
		if c.StartNote != nil {
			detail = c.StartNote(j)
		}
		if err := e.Note("start", Started, detail); err != nil {
			return nil, err
		}
	}
	if run == nil {
		run = c.runPlanned
	}
	runErr := run(ctx)
	state := StateDone
	if runErr != nil {
		state = StateFailed
	}
	if c.End != nil {
		state = c.End(runErr)
	}
	return out, c.finish(out, state, runErr, start)
}

// finish ends the journal in state; an error writing it is not lost.
func (c Change) finish(out *Outcome, state string, runErr error, start time.Time) error {
	out.State, out.Took = state, time.Since(start)
	if err := out.Journal.Finish(state, runErr); err != nil {
		return errors.Join(runErr, fmt.Errorf("journal %s: %w", out.Journal.Path(), err))
	}
	return runErr
}

func (c Change) clusterID(ctx context.Context) (string, error) {
	if c.ClusterID != nil {
		return c.ClusterID(ctx)
	}
	cl, err := c.Env.Session.Status(ctx)
	if err != nil {
		return "", err
	}
	return cl.ClusterID, nil
}

// open returns the journal to continue (resumed) or a new one.
func (c Change) open(ctx context.Context, id string, j *Journal) (*Journal, bool, error) {
	if c.Adopt != nil {
		adopted, err := c.Adopt(ctx, id, j)
		if err == nil && adopted.ClusterID != id && id != "" {
			err = fmt.Errorf("journal %s belongs to cluster %s, not %s", c.JournalPath, adopted.ClusterID, id)
		}
		return adopted, err == nil, err
	}
	switch {
	case j != nil && !Finished(j.State):
		if j.Kind != c.Kind {
			return nil, false, fmt.Errorf("a %s to %s is unfinished (journal %s, %s); finish it first: %s", j.Kind, j.Target, c.JournalPath, j.State, c.hint(j.Kind))
		}
		if id != "" && j.ClusterID != "" && j.ClusterID != id {
			return nil, false, fmt.Errorf("journal %s belongs to cluster %s, not %s", c.JournalPath, j.ClusterID, id)
		}
		if c.CheckResume != nil {
			if err := c.CheckResume(j); err != nil {
				return nil, false, err
			}
		}
		return j, true, nil
	case c.Resume && j != nil:
		return nil, false, fmt.Errorf("the last %s in %s is %s: nothing to resume", j.Kind, c.JournalPath, j.State)
	case c.Resume:
		return nil, false, fmt.Errorf("no journal at %s: nothing to resume (no unfinished %s)", c.JournalPath, c.Kind)
	}
	nj, err := c.New(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return nj, false, nil
}

func (c Change) hint(kind string) string {
	if c.Hint != nil {
		return c.Hint(kind)
	}
	return "resume it with --resume, or give it up with etcdpilot upgrade abandon --reason '...'"
}

func (c Change) prepare(ctx context.Context, resumed bool) (func(context.Context) error, error) {
	if c.Prepare == nil {
		return nil, nil
	}
	return c.Prepare(ctx, resumed)
}

// runPlanned runs the journal's planned steps in order; each skips itself
// when its effect is there. The first failure stops the run.
func (c Change) runPlanned(ctx context.Context) error {
	e := c.Env
	if err := e.Plan(e.Journal.Planned); err != nil {
		return err
	}
	for _, s := range e.Journal.Planned {
		if err := e.Do(ctx, s); err != nil {
			if c.CarryOn == "" {
				return fmt.Errorf("%s: %w", s, err)
			}
			return fmt.Errorf("%s: %w; %s", s, err, c.CarryOn)
		}
	}
	return nil
}
