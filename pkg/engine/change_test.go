package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAction is a step that counts its runs and fails on request; its
// effect is "there" once the journal says it is done.
const fakeAction Action = "fake"

type fakeRuns struct {
	runs   map[string]int
	failAt string
}

func (f *fakeRuns) register(t *testing.T) {
	actions[fakeAction] = action{journalDone, func(ctx context.Context, e *Env, s Step) error {
		f.runs[s.Member]++
		if s.Member == f.failAt {
			return fmt.Errorf("crash at %s", s.Member)
		}
		return nil
	}}
	t.Cleanup(func() { delete(actions, fakeAction) })
}

func fakeChange(dir, kind, cluster string, resume bool) Change {
	path := filepath.Join(dir, "journal.json")
	return Change{
		Kind: kind, JournalPath: path, LockDir: filepath.Join(dir, "locks"), Resume: resume, Env: &Env{},
		ClusterID: func(context.Context) (string, error) { return cluster, nil },
		New: func(context.Context, string) (*Journal, error) {
			j := NewJournal(path, kind, cluster, "t", nil)
			for _, m := range []string{"a", "b", "c"} {
				j.Planned = append(j.Planned, Step{Action: fakeAction, Member: m})
			}
			return j, nil
		},
	}
}

// TestRunFailurePoints drives Run through the failure points every change
// shares: a failure after each step resumes at that step and never runs a
// finished one again; the lock, another cluster's journal, another kind's
// unfinished change and a refused plan leave the journal as it was.
func TestRunFailurePoints(t *testing.T) {
	for _, at := range []string{"a", "b", "c"} {
		t.Run("fail at "+at, func(t *testing.T) {
			dir := t.TempDir()
			f := &fakeRuns{runs: map[string]int{}, failAt: at}
			f.register(t)
			out, err := Run(context.Background(), fakeChange(dir, "defrag", "c1", false))
			if err == nil || !strings.Contains(err.Error(), "crash at "+at) || out.State != StateFailed {
				t.Fatalf("first run: %v, %+v", err, out)
			}
			f.failAt = ""
			out, err = Run(context.Background(), fakeChange(dir, "defrag", "c1", true))
			if err != nil || out.State != StateDone || !out.Resumed {
				t.Fatalf("resume: %v %+v", err, out)
			}
			for _, m := range []string{"a", "b", "c"} {
				want := 1
				if m == at {
					want = 2 // failed once, run again
				}
				if f.runs[m] != want {
					t.Errorf("%s ran %d times, want %d", m, f.runs[m], want)
				}
			}
			// Nothing left to resume.
			if _, err := Run(context.Background(), fakeChange(dir, "defrag", "c1", true)); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
				t.Errorf("resume of a finished change: %v", err)
			}
		})
	}

	dir := t.TempDir()
	f := &fakeRuns{runs: map[string]int{}, failAt: "b"}
	f.register(t)
	if _, err := Run(context.Background(), fakeChange(dir, "defrag", "c1", false)); err == nil {
		t.Fatal("no failure")
	}
	journal := filepath.Join(dir, "journal.json")
	before, _ := os.ReadFile(journal)
	unchanged := func(what string) {
		t.Helper()
		if after, _ := os.ReadFile(journal); string(after) != string(before) {
			t.Errorf("%s changed the journal", what)
		}
	}

	lock, err := Lock(filepath.Join(dir, "locks"), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), fakeChange(dir, "defrag", "c1", true)); err == nil || !strings.Contains(err.Error(), "another etcdpilot change") {
		t.Errorf("lock taken: %v", err)
	}
	lock.Unlock()
	unchanged("a run refused by the lock")

	if _, err := Run(context.Background(), fakeChange(dir, "defrag", "c2", true)); err == nil || !strings.Contains(err.Error(), "belongs to cluster c1, not c2") {
		t.Errorf("another cluster: %v", err)
	}
	unchanged("a run on another cluster")

	if _, err := Run(context.Background(), fakeChange(dir, "recover", "c1", false)); err == nil || !strings.Contains(err.Error(), "is unfinished") {
		t.Errorf("another kind: %v", err)
	}
	unchanged("a change of another kind")

	// A refused plan writes nothing, and neither does a refused resume's
	// preparation to a new journal.
	other := t.TempDir()
	c := fakeChange(other, "defrag", "c1", false)
	c.New = func(context.Context, string) (*Journal, error) { return nil, errors.New("blocked") }
	if out, err := Run(context.Background(), c); err == nil || out != nil {
		t.Errorf("refused plan: %v %+v", err, out)
	}
	if _, err := os.Stat(filepath.Join(other, "journal.json")); !os.IsNotExist(err) {
		t.Errorf("a refused plan wrote a journal: %v", err)
	}
	c = fakeChange(other, "defrag", "c1", false)
	c.Prepare = func(context.Context, bool) (func(context.Context) error, error) { return nil, errors.New("refused") }
	if _, err := Run(context.Background(), c); err == nil {
		t.Error("refused preparation ran")
	}
	if _, err := os.Stat(filepath.Join(other, "journal.json")); !os.IsNotExist(err) {
		t.Errorf("a refused preparation wrote a journal: %v", err)
	}

	// A finished journal is archived when the next change starts.
	f.failAt = ""
	if _, err := Run(context.Background(), fakeChange(dir, "defrag", "c1", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), fakeChange(dir, "defrag", "c1", false)); err != nil {
		t.Fatal(err)
	}
	if old, _ := filepath.Glob(journal + ".*"); len(old) != 1 {
		t.Errorf("archived journals: %v", old)
	}
}

// TestRunJournalWriteFails: a journal that cannot be written stops the
// change before its first step, with the journal named.
func TestRunJournalWriteFails(t *testing.T) {
	dir := t.TempDir()
	f := &fakeRuns{runs: map[string]int{}}
	f.register(t)
	c := fakeChange(dir, "defrag", "c1", false)
	c.JournalPath = filepath.Join(dir, "not-a-dir", "journal.json")
	if err := os.WriteFile(filepath.Join(dir, "not-a-dir"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	inner := c.New
	c.New = func(ctx context.Context, id string) (*Journal, error) {
		j, err := inner(ctx, id)
		if j != nil {
			j.path = c.JournalPath
		}
		return j, err
	}
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "journal") {
		t.Fatalf("unwritable journal: %v", err)
	}
	if len(f.runs) != 0 {
		t.Errorf("steps ran without a journal: %v", f.runs)
	}
}

// TestDoneByStep: a step is found done by its action, member, version
// and direction, not by its display name.
func TestDoneByStep(t *testing.T) {
	j := NewJournal(filepath.Join(t.TempDir(), "j.json"), "upgrade", "c1", "3.6.17", nil)
	s := Step{Action: Restart, Member: "m1", Version: "3.6.17"}
	j.Observe(Entry{Step: "whatever it was called", Action: Restart, Member: "m1", Version: "3.6.17", Status: Done})
	if !j.Done(s) {
		t.Error("the restart is not found done")
	}
	for _, other := range []Step{
		{Action: Restart, Member: "m2", Version: "3.6.17"},
		{Action: Restart, Member: "m1", Version: "3.5.36"},
		{Action: Restart, Member: "m1", Version: "3.6.17", Rollback: true},
		{Action: Gates, Member: "m1", Version: "3.6.17"},
	} {
		if j.Done(other) {
			t.Errorf("%+v found done", other)
		}
	}
	// Entries of journals written before entries carried their step.
	j.Observe(Entry{Step: Step{Action: Compact}.String(), Status: Done})
	if !j.Done(Step{Action: Compact}) {
		t.Error("an old entry is not found by its name")
	}
}
