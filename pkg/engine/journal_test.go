package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPending(t *testing.T) {
	j := NewJournal(filepath.Join(t.TempDir(), "j.json"), "upgrade", "c1", "3.6.16", nil)
	j.Note("start", "started", "")
	if j.Pending() != nil {
		t.Fatal("pending without a step")
	}
	restart := Step{Action: Restart, Member: "m1", Version: "3.6.16"}
	j.Observe(Entry{Step: restart.String(), Action: Restart, Member: "m1", Version: "3.6.16", Status: "started"})
	if p := j.Pending(); p == nil || p.Member != "m1" {
		t.Fatalf("pending %+v", p)
	}
	// A note after the restart does not hide it.
	j.Note("resume", "started", "")
	if p := j.Pending(); p == nil || p.Member != "m1" {
		t.Fatalf("pending after a note %+v", p)
	}
	j.Observe(Entry{Step: restart.String(), Action: Restart, Member: "m1", Version: "3.6.16", Status: "done"})
	if p := j.Pending(); p != nil {
		t.Fatalf("pending after done %+v", p)
	}
	// A rollback's restart is pending the same way.
	j.Observe(Entry{Step: "roll m1 back to 3.5.35", Action: Restart, Member: "m1", Version: "3.5.35", Status: "started", Rollback: true})
	if p := j.Pending(); p == nil || !p.Rollback || p.Version != "3.5.35" {
		t.Fatalf("pending rollback %+v", p)
	}
}

func TestAbandon(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.json")
	j := NewJournal(path, "upgrade", "c1", "3.6.16", map[string]string{"m1": "3.5.35"})
	if err := j.Note("start", "started", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Abandon(path, ""); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("abandon without a reason: %v", err)
	}
	got, aside, err := Abandon(path, "m3's disk died; restored from backup instead")
	if err != nil || aside != "" || got.State != StateAbandoned {
		t.Fatalf("abandon: %v %q %+v", err, aside, got)
	}
	again, err := LoadJournal(path)
	if err != nil || again.State != StateAbandoned || !strings.Contains(again.Reason, "disk died") || !Finished(again.State) {
		t.Fatalf("reloaded: %v %+v", err, again)
	}
	if _, _, err := Abandon(path, "twice"); err == nil || !strings.Contains(err.Error(), "already abandoned") {
		t.Fatalf("second abandon: %v", err)
	}

	// A corrupt journal: the error names the file and the way out, and
	// abandon moves it aside.
	os.WriteFile(path, []byte(`{"clusterID": "c1", "entries": [`), 0o600)
	_, err = LoadJournal(path)
	if !errors.Is(err, ErrCorruptJournal) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "upgrade abandon") {
		t.Fatalf("corrupt journal: %v", err)
	}
	_, aside, err = Abandon(path, "corrupt")
	if err != nil || !strings.HasPrefix(aside, path+".corrupt-") {
		t.Fatalf("abandon of a corrupt journal: %v %q", err, aside)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the corrupt journal is still in place: %v", err)
	}
}

func TestLockPerCluster(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(dir, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir, "c1"); err == nil || !strings.Contains(err.Error(), "another etcdpilot change") {
		t.Fatalf("second lock of c1: %v", err)
	}
	l2, err := Lock(dir, "c2")
	if err != nil {
		t.Fatalf("lock of another cluster: %v", err)
	}
	l2.Unlock()
	l.Unlock()
	l, err = Lock(dir, "c1")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l.Unlock()
}

// TestDoneSkipped: a step skipped because its effect was there counts as
// done, so that a resume does not run it again after a later step undid
// that effect on purpose (a retired member re-added: a crash once made
// recover apply retire the rejoined member a second time).
func TestDoneSkipped(t *testing.T) {
	j := NewJournal(filepath.Join(t.TempDir(), "j.json"), "recover", "c1", "m1", nil)
	retire := Step{Action: Retire, Member: "m3"}
	j.Observe(Entry{Step: retire.String(), Action: Retire, Member: "m3", Status: "started"})
	if j.Done(retire) {
		t.Fatal("started counts as done")
	}
	j.Observe(Entry{Step: retire.String(), Action: Retire, Member: "m3", Status: "skipped", Detail: "already done"})
	if !j.Done(retire) {
		t.Fatal("skipped does not count as done")
	}
	if j.Done(Step{Action: Retire, Member: "m2"}) {
		t.Fatal("another member's step counts as done")
	}
}
