package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestUpgradeRehearse: a 3.5.36 sandbox rehearses 3.5.36 → 3.7.3 on a
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
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, "m1      "+testutil.V35+"  3.7.3") {
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
	if r := run(t, state, "status", "--sandbox", "src", "-w", "json"); r.code != 0 || strings.Count(r.stdout, `"serverVersion": "`+testutil.V35+`"`) != 3 {
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

// TestRehearseKilled (issue 27): kill -9 of upgrade rehearse while the
// shadow runs leaves no shadow member and no inside half running (their
// parent-death signal); the next rehearsal removes the directory left.
func TestRehearseKilled(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36)
	state := cliSandbox(t, "k", []string{testutil.V35})
	cmd := exec.Command(etcdpilotBin, "upgrade", "rehearse", "--sandbox", "k", "--to", testutil.V36)
	cmd.Env = cliEnv(state)
	testutil.Must(t, cmd.Start())
	var pids []int
	testutil.Eventually(t, 2*time.Minute, func() error {
		roots, _ := filepath.Glob(filepath.Join(state, "rehearsals", "rehearsal-*"))
		if len(roots) != 1 {
			return fmt.Errorf("no rehearsal yet")
		}
		sh, err := sandbox.Open(roots[0], "shadow", nil)
		if err != nil {
			return err
		}
		st, err := sh.State()
		if err != nil {
			return err
		}
		pids = pids[:0]
		for _, m := range st.Members {
			if m.Process.PID > 0 {
				pids = append(pids, m.Process.PID)
			}
		}
		if len(pids) < 3 {
			return fmt.Errorf("%d shadow members running", len(pids))
		}
		return nil
	})
	children, _ := exec.Command("pgrep", "-P", fmt.Sprint(cmd.Process.Pid)).Output()
	cmd.Process.Kill()
	cmd.Wait()
	for _, c := range strings.Fields(string(children)) {
		var pid int
		fmt.Sscan(c, &pid)
		pids = append(pids, pid)
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); err == nil {
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(b), ") Z ") {
					return fmt.Errorf("process %d of the shadow still runs", pid)
				}
			}
		}
		return nil
	})
	// The next rehearsal sweeps the directory the killed one left (once
	// it is 10 s old: a younger one may be starting).
	time.Sleep(10 * time.Second)
	if r := run(t, state, "upgrade", "rehearse", "--sandbox", "k", "--to", testutil.V36); r.code != 0 || !strings.Contains(r.stderr, "left by a rehearsal that was killed") {
		t.Fatalf("the next rehearsal: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if left, _ := os.ReadDir(filepath.Join(state, "rehearsals")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
