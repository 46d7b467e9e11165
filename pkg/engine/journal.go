package engine

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
	// StateBlocked: the plan was refused and nothing was changed (journals
	// written before refused plans stopped leaving one).
	StateBlocked = "blocked"
	// StateAbandoned: an operator gave the change up (upgrade abandon).
	StateAbandoned = "abandoned"
)

// Finished says whether a journal's change is over (nothing to resume).
func Finished(state string) bool {
	return state == StateDone || state == StateRolledBack || state == StateBlocked || state == StateAbandoned
}

// Status is where a step (or a note) is.
type Status string

// The statuses of an entry.
const (
	Started Status = "started"
	Done    Status = "done"
	Skipped Status = "skipped"
	Failed  Status = "failed"
)

// Entry is one line of the journal: a step started, done, skipped or
// failed, or a note ("start", "resume").
type Entry struct {
	At time.Time `json:"at"`
	// Step is the step's name (Step.String) or a note.
	Step   string `json:"step"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Action Action `json:"action,omitempty"`
	// Member and Version are the step's: a resumed change finishes a
	// restart a crash interrupted (Pending).
	Member   string `json:"member,omitempty"`
	Version  string `json:"version,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`
}

// Journal is the durable record of a change: written with fsync after
// every step, so that a crashed etcdpilot can be resumed.
type Journal struct {
	// Kind is the change: "upgrade" (rollbacks are part of it).
	Kind        string            `json:"kind,omitempty"`
	ClusterID   string            `json:"clusterID"`
	Target      string            `json:"target"`
	OldVersions map[string]string `json:"oldVersions"`
	Snapshot    string            `json:"snapshot,omitempty"`
	State       string            `json:"state"`
	Error       string            `json:"error,omitempty"`
	// Reason is why the change was abandoned.
	Reason    string    `json:"reason,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Planned are the steps of the current hop, as planned.
	Planned []Step  `json:"planned,omitempty"`
	Entries []Entry `json:"entries"`

	path string
}

// ErrCorruptJournal marks a journal file that cannot be parsed.
var ErrCorruptJournal = errors.New("corrupt journal")

// LoadJournal reads a journal; os.ErrNotExist when there is none.
func LoadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %s cannot be read (%v): if no change is running, set it aside with etcdpilot upgrade abandon --journal %s --reason '...'", ErrCorruptJournal, path, err, path)
	}
	j.path = path
	if j.Kind == "" {
		j.Kind = "upgrade" // journals written before other changes existed
	}
	return &j, nil
}

// NewJournal starts a journal at path (not written until the first entry).
func NewJournal(path, kind, clusterID, target string, old map[string]string) *Journal {
	return &Journal{path: path, Kind: kind, ClusterID: clusterID, Target: target, OldVersions: old,
		State: StateRunning, StartedAt: time.Now().UTC(), Entries: []Entry{}}
}

// Path is where the journal lives.
func (j *Journal) Path() string { return j.path }

// Save writes the journal durably.
func (j *Journal) Save() error {
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

// Observe appends an entry and saves (the journal is the first observer).
func (j *Journal) Observe(e Entry) error {
	j.Entries = append(j.Entries, e)
	return j.Save()
}

// Note appends a note entry.
func (j *Journal) Note(step string, status Status, detail string) error {
	return j.Observe(Entry{At: time.Now().UTC(), Step: step, Status: status, Detail: detail})
}

// Pending returns the step that touches a member and was started but never
// finished (the process running etcdpilot died in between), if any.
func (j *Journal) Pending() *Entry {
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if e.Member == "" || (e.Action != "" && !(Step{Action: e.Action}).TouchesMember()) {
			continue
		}
		if e.Status == Started {
			return &e
		}
		return nil
	}
	return nil
}

// Done reports whether the journal records the step done, or skipped
// because its effect was there: a step whose effect a later step undoes on
// purpose (a retired member re-added) must not run again on a resume.
// Entries are matched by action, member, version and direction, never by
// their display name.
func (j *Journal) Done(s Step) bool {
	for _, e := range j.Entries {
		if e.Status != Done && e.Status != Skipped {
			continue
		}
		if e.Step == s.String() && e.Action == "" {
			return true // an entry journaled before entries carried their step
		}
		if e.Action == s.Action && e.Member == s.Member && e.Version == s.Version && e.Rollback == s.Rollback {
			return true
		}
	}
	return false
}

// Finish records the end state.
func (j *Journal) Finish(state string, err error) error {
	j.State = state
	j.Error = ""
	if err != nil {
		j.Error = err.Error()
	}
	return j.Save()
}

// Archive moves a finished journal aside so that a new change starts clean.
func (j *Journal) Archive() error {
	return archive(j.path, j.UpdatedAt)
}

func archive(path string, at time.Time) error {
	to := fmt.Sprintf("%s.%s", path, at.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Abandon gives up the change in the journal at path, recording why: its
// state becomes abandoned, so that a new change may start. A journal that
// cannot be read is moved aside instead (path.corrupt-TIME) and that name
// is returned.
func Abandon(path, reason string) (*Journal, string, error) {
	if reason == "" {
		return nil, "", errors.New("say why the change is abandoned: --reason '...' (it is recorded in the journal)")
	}
	j, err := LoadJournal(path)
	if errors.Is(err, ErrCorruptJournal) {
		to := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(path, to); err != nil {
			return nil, "", err
		}
		return nil, to, nil
	}
	if err != nil {
		return nil, "", err
	}
	if Finished(j.State) {
		return j, "", fmt.Errorf("the change in %s is already %s: nothing to abandon", path, j.State)
	}
	j.Reason = reason
	if err := j.Note("abandon", Done, reason); err != nil {
		return nil, "", err
	}
	return j, "", j.Finish(StateAbandoned, nil)
}
