package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Journal states.
const (
	StateRunning    = "running"
	StateDone       = "done"
	StateFailed     = "failed"
	StateRolledBack = "rolled-back"
	// StateBlocked: the plan had blockers and nothing was changed.
	StateBlocked = "blocked"
)

// finished says whether a journal's upgrade is over (nothing to resume).
func finished(state string) bool {
	return state == StateDone || state == StateRolledBack || state == StateBlocked
}

// Entry is one line of the journal.
type Entry struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	Status string    `json:"status"` // started, done, skipped, failed
	Detail string    `json:"detail,omitempty"`
	// Member and Version are set for steps that restart a member, so that
	// a resumed upgrade can finish a restart a crash interrupted.
	Member  string `json:"member,omitempty"`
	Version string `json:"version,omitempty"`
}

// Journal is the durable record of an upgrade: written with fsync after
// every step, so that a crashed etcdpilot can be resumed.
type Journal struct {
	ClusterID   string            `json:"clusterID"`
	Target      string            `json:"target"`
	OldVersions map[string]string `json:"oldVersions"`
	Snapshot    string            `json:"snapshot,omitempty"`
	State       string            `json:"state"`
	Error       string            `json:"error,omitempty"`
	StartedAt   time.Time         `json:"startedAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Entries     []Entry           `json:"entries"`

	path   string
	onStep func(Entry)
}

// LoadJournal reads a journal; os.ErrNotExist when there is none.
func LoadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j.path = path
	return &j, nil
}

func newJournal(path, clusterID, target string, old map[string]string) *Journal {
	now := time.Now().UTC()
	return &Journal{path: path, ClusterID: clusterID, Target: target, OldVersions: old, State: StateRunning, StartedAt: now, Entries: []Entry{}}
}

// Path is where the journal lives.
func (j *Journal) Path() string { return j.path }

func (j *Journal) save() error {
	j.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFile(j.path, append(b, '\n'), 0o600)
}

func (j *Journal) log(step, status, detail string) error {
	return j.add(Entry{Step: step, Status: status, Detail: detail})
}

func (j *Journal) add(e Entry) error {
	e.At = time.Now().UTC()
	j.Entries = append(j.Entries, e)
	err := j.save()
	if j.onStep != nil {
		j.onStep(e)
	}
	return err
}

// pendingRestart returns the restart that was started but never finished
// (the process running etcdpilot died in between), if any.
func (j *Journal) pendingRestart() *Entry {
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if e.Member == "" {
			continue
		}
		if e.Status == "started" {
			return &e
		}
		return nil
	}
	return nil
}

func (j *Journal) finish(state string, err error) error {
	j.State = state
	if err != nil {
		j.Error = err.Error()
	}
	return j.save()
}

// archive moves a finished journal aside so that a new upgrade starts clean.
func (j *Journal) archive() error {
	to := fmt.Sprintf("%s.%s", j.path, j.UpdatedAt.Format("20060102T150405Z"))
	if err := os.Rename(j.path, to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
