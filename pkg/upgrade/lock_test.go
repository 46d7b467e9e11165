package upgrade

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// A second upgrade of the same cluster is refused before it touches
// anything (the first holds the journal's lock).
func TestApplyRefusesWhileLocked(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.json")
	lock, err := fsutil.TryLock(journal + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	_, err = Apply(context.Background(), Options{JournalPath: journal, Target: "3.6.16"})
	if err == nil || !strings.Contains(err.Error(), "another etcdpilot upgrade is running") {
		t.Fatalf("second apply: %v", err)
	}
	_, err = Rollback(context.Background(), Options{JournalPath: journal})
	if err == nil || !strings.Contains(err.Error(), "is running") {
		t.Fatalf("rollback during apply: %v", err)
	}
}
