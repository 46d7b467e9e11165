package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func TestSnapshotCommands(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35)
	state := testutil.Root(t)
	t.Cleanup(func() { run(t, state, "sandbox", "down", "--all") })
	if r := run(t, state, "sandbox", "up", "--name", "s"); r.code != 0 {
		t.Fatalf("sandbox up: %s", r.stderr)
	}
	dir := t.TempDir()
	r := run(t, state, "snapshot", "save", dir+"/", "--sandbox", "s", "--check-member-hash")
	if r.code != 0 || !strings.Contains(r.stdout, "saved ") {
		t.Fatalf("save: %d %s %s", r.code, r.stdout, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	file := files[0]
	if r := run(t, state, "snapshot", "verify", file, "--drill"); r.code != 0 || !strings.Contains(r.stdout, "restore drill on etcd "+testutil.V35) {
		t.Fatalf("verify --drill: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "snapshot", "ls", dir); r.code != 0 || strings.Contains(r.stdout, "never") {
		t.Fatalf("ls should show the verification: %s", r.stdout)
	}
	if r := run(t, state, "snapshot", "restore", file, "--sandbox", "s"); r.code != 0 || strings.Count(r.stdout, "matches the snapshot") != 3 {
		t.Fatalf("restore: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Saving onto an existing file is refused.
	if r := run(t, state, "snapshot", "save", file, "--sandbox", "s"); r.code != 2 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("save over a file: %d %s", r.code, r.stderr)
	}
	// Real-host restore of all members at once, then refusal without --force.
	tmpl := filepath.Join(t.TempDir(), "etcd-{name}")
	args := []string{"snapshot", "restore", file, "--initial-cluster", "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380", "--data-dir-template", tmpl}
	if r := run(t, state, args...); r.code != 0 || !strings.Contains(r.stdout, "--initial-cluster-token etcdpilot-restore-") {
		t.Fatalf("restore dirs: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, args...); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("second restore: %d %s", r.code, r.stderr)
	}
	// A mismatching sidecar exits 1; a corrupt file exits 2.
	sc, _ := os.ReadFile(file + ".json")
	os.WriteFile(file+".json", []byte(strings.Replace(string(sc), `"keyCount": `, `"keyCount": 1`, 1)), 0o600)
	if r := run(t, state, "snapshot", "verify", file); r.code != 1 || !strings.Contains(r.stdout, "MISMATCH") {
		t.Fatalf("mismatch: %d %s", r.code, r.stdout)
	}
	data, _ := os.ReadFile(file)
	os.WriteFile(file, data[:len(data)-100], 0o600)
	if r := run(t, state, "snapshot", "verify", file); r.code != 2 || !strings.Contains(r.stderr, "truncated") {
		t.Fatalf("truncated: %d %s", r.code, r.stderr)
	}
	if r := run(t, state, "snapshot", "verify", filepath.Join(dir, "missing.db")); r.code != 2 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("missing: %d %s", r.code, r.stderr)
	}
	if r := run(t, state, "snapshot", "prune", dir); r.code != 2 || !strings.Contains(r.stderr, "keep") {
		t.Fatalf("prune without policy: %d %s", r.code, r.stderr)
	}
}

// TestKilledSaveLeavesNoMystery: etcdpilot killed (SIGKILL) while a
// snapshot streams leaves only its temporary file: snapshot ls shows it
// as abandoned, prune removes it, and no snapshot is claimed.
func TestKilledSaveLeavesNoMystery(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "kill", []string{testutil.V36}, "--members", "1")
	sb, err := sandbox.Open(state, "kill", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	ctx := testutil.Context(t, 3*time.Minute)
	testutil.Must(t, bench.Load(ctx, st.Conn(), bench.LoadOptions{Keys: 200, ValueSize: 1 << 20, Prefix: "/big/"}, nil))
	dir := t.TempDir()
	cmd := exec.Command(etcdpilotBin, "snapshot", "save", dir+"/", "--sandbox", "kill")
	cmd.Env = append(os.Environ(), "ETCDPILOT_STATE_DIR="+state)
	testutil.Must(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for {
		tmps, _ := filepath.Glob(filepath.Join(dir, ".snapshot-*.tmp-*"))
		if len(tmps) == 1 {
			if fi, err := os.Stat(tmps[0]); err == nil && fi.Size() > 1<<20 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the save never wrote its temporary file")
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	r := run(t, state, "snapshot", "ls", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "abandoned") {
		t.Fatalf("ls after a killed save: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if dbs, _ := filepath.Glob(filepath.Join(dir, "*.db")); len(dbs) != 0 {
		t.Fatalf("a killed save left a snapshot under its final name: %v", dbs)
	}
	r = run(t, state, "snapshot", "prune", dir, "--keep-last", "3")
	if r.code != 0 || !strings.Contains(r.stdout, "did not finish") {
		t.Fatalf("prune: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left after prune: %v", left)
	}
}
