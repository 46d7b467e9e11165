package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestUpgradeRehearse: a 3.5.35 sandbox rehearses 3.5.35 → 3.7.3 on a
// shadow made of copies of its members' data. Without the raft snapshots
// before 3.7 the shadow shows the hazard (the first 3.7 member cannot
// replay what 3.5 wrote, and is rolled back); with them it passes. A
// rehearsal through --endpoints seeds the shadow from a snapshot. The
// sandbox is never touched: same members, same processes, no journal. A
// disk without room refuses before anything starts.
func TestUpgradeRehearse(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36, testutil.V37)
	state := cliSandbox(t, "src", []string{testutil.V35})
	sb, err := sandbox.Open(state, "src", nil)
	testutil.Must(t, err)
	before, err := os.ReadFile(filepath.Join(sb.Dir, "state.json"))
	testutil.Must(t, err)

	r := run(t, state, "upgrade", "rehearse", "--sandbox", "src", "--to", testutil.V37, "--no-wal-fix")
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "unmarshal should never fail") ||
		!strings.Contains(r.stdout, "copies of the members' data directories") || !strings.Contains(r.stdout, "Rolled back") {
		t.Fatalf("rehearsal without the WAL fix: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "upgrade", "rehearse", "--sandbox", "src", "--to", testutil.V37)
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, "m1      3.5.35  3.7.3") {
		t.Fatalf("rehearsal: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st, _ := sb.State()
	r = run(t, state, "upgrade", "rehearse", "--endpoints", strings.Join(st.Endpoints(), ","), "--to", testutil.V36)
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, "made from a snapshot") {
		t.Fatalf("rehearsal from a snapshot: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	after, err := os.ReadFile(filepath.Join(sb.Dir, "state.json"))
	testutil.Must(t, err)
	if string(after) != string(before) {
		t.Errorf("the sandbox's state changed:\n%s\n%s", before, after)
	}
	if _, err := os.Stat(filepath.Join(sb.Dir, "upgrade-journal.json")); err == nil {
		t.Error("a rehearsal left a journal in the source")
	}
	if r := run(t, state, "status", "--sandbox", "src"); r.code != 0 || strings.Count(r.stdout, testutil.V35) != 3 {
		t.Errorf("source after the rehearsals: %d\n%s", r.code, r.stdout)
	}
	if left, _ := os.ReadDir(filepath.Join(state, "rehearsals")); len(left) != 0 {
		t.Errorf("shadows left behind: %v", left)
	}

	// A full disk: a 1 MiB tmpfs as the shadow's directory.
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	tiny := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", tiny).Run()
	r = run(t, state, "upgrade", "rehearse", "--sandbox", "src", "--to", testutil.V36, "--shadow-dir", tiny)
	if r.code != 2 || !strings.Contains(r.stderr, "a rehearsal needs about") || !strings.Contains(r.stderr, "nothing was started") {
		t.Errorf("rehearsal on a full disk: %d\n%s", r.code, r.stderr)
	}
	if left, _ := os.ReadDir(tiny); len(left) != 0 {
		t.Errorf("the refused rehearsal wrote %v", left)
	}
}
