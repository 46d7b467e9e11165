package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// OpenChange reads the journal at path for a change of kind: an
// unfinished change of that kind is returned to resume; an unfinished
// change of another kind is refused (one change at a time), and so is
// resume when nothing is unfinished. A nil journal means a new change may
// start. (Upgrades and downgrades open theirs with target checks of their
// own.)
func OpenChange(path, kind string, resume bool) (*Journal, error) {
	j, err := LoadJournal(path)
	switch {
	case err == nil && !Finished(j.State) && j.Kind != kind:
		return nil, fmt.Errorf("an unfinished %s (%s) is in journal %s (%s): finish it or give it up (etcdpilot upgrade abandon) first; nothing was changed", j.Kind, j.Target, path, j.State)
	case err == nil && !Finished(j.State):
		return j, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	case resume:
		return nil, fmt.Errorf("no unfinished %s in %s: nothing to resume", kind, path)
	}
	return nil, nil
}

// Begin starts the new change of j: the finished journal at its path is
// archived, j is saved with its planned steps and the start noted.
func (e *Env) Begin(detail string) error {
	if old, err := LoadJournal(e.Journal.Path()); err == nil && Finished(old.State) {
		if err := old.Archive(); err != nil {
			return err
		}
	}
	if err := e.Plan(e.Journal.Planned); err != nil {
		return err
	}
	return e.Note("start", "started", detail)
}

// Resume marks the journal's change running again and notes the resume.
func (e *Env) Resume() error {
	e.Journal.State, e.Journal.Error = StateRunning, ""
	return e.Note("resume", "started", "")
}

// RunPlanned runs the journal's planned steps in order; each skips itself
// when its effect is there. The first failure stops the run, wrapped with
// how to carry on. The journal is finished done or failed, and that state
// returned.
func (e *Env) RunPlanned(ctx context.Context, carryOn string) (string, error) {
	var runErr error
	for _, s := range e.Journal.Planned {
		if runErr = e.Do(ctx, s); runErr != nil {
			runErr = fmt.Errorf("%s: %w; %s", s, runErr, carryOn)
			break
		}
	}
	state := StateDone
	if runErr != nil {
		state = StateFailed
	}
	e.Journal.Finish(state, runErr)
	return state, runErr
}
