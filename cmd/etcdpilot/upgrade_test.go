package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// TestUpgradeApplySurvivesCrashes kills etcdpilot with SIGKILL again and
// again during an upgrade — right after a step finished, and in the middle
// of a member's restart — and carries on each time with the same command or
// --resume, until the upgrade is done. Every member is restarted on the new
// version once, and the data written before is all there.
func TestUpgradeApplySurvivesCrashes(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36)
	state := cliSandbox(t, "crash", []string{testutil.V35})
	sb, err := sandbox.Open(state, "crash", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	ctx := testutil.Context(t, 10*time.Minute)
	testutil.Must(t, bench.Load(ctx, st.Conn(), bench.LoadOptions{Keys: 500, ValueSize: 100, Prefix: "/keep/"}, nil))

	// Bad input first: nothing may change.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "3.6.99"}, "3.6.16"},
		{[]string{"--to", "3.6.16", "--runtime", "ssh"}, "unknown --runtime"},
		{[]string{"--resume"}, "nothing to resume"},
	} {
		r := run(t, state, append([]string{"upgrade", "apply", "--sandbox", "crash"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("apply %v: exit %d, %s", tc.args, r.code, r.stderr)
		}
	}

	journal := filepath.Join(sb.Dir, "upgrade-journal.json")
	crashes := crashUntilDone(t, state, journal,
		[]string{"upgrade", "apply", "--sandbox", "crash", "--to", testutil.V36, "--probe=false"},
		[]string{"upgrade", "apply", "--sandbox", "crash", "--resume", "--probe=false"})
	if crashes < 4 {
		t.Errorf("only %d crashes", crashes)
	}
	j, err := engine.LoadJournal(journal)
	testutil.Must(t, err)
	// A member is never restarted again once its restart (or the recovery
	// of an interrupted one) is done.
	upgraded := map[string]bool{}
	for _, e := range j.Entries {
		if e.Member == "" || e.Action != engine.Restart {
			continue
		}
		if e.Status == "started" && upgraded[e.Member] {
			t.Errorf("%s restarted again after it was done: %s", e.Member, e.Step)
		}
		if e.Status == "done" {
			upgraded[e.Member] = true
		}
	}
	if j.State != engine.StateDone {
		t.Errorf("journal %s", j.State)
	}
	cl, err := status.CollectConfig(ctx, st.Conn(), status.Options{})
	testutil.Must(t, err)
	for _, m := range cl.Members {
		if m.ServerVersion != testutil.V36 {
			t.Errorf("%s runs %s", m.Name, m.ServerVersion)
		}
	}
	if cl.ClusterVersion != "3.6.0" || cl.Hash.Result != status.HashAgree {
		t.Errorf("cluster version %s, hash %+v", cl.ClusterVersion, cl.Hash)
	}
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "/keep/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	testutil.Must(t, err)
	if resp.Count != 500 {
		t.Errorf("%d of 500 keys after the upgrade", resp.Count)
	}
	r := run(t, state, "upgrade", "status", "--sandbox", "crash")
	if r.code != 0 || !strings.Contains(r.stdout, "resume") || !strings.Contains(r.stdout, ": done") {
		t.Errorf("upgrade status: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("%d crashes, %d journal entries", crashes, len(j.Entries))
	if t.Failed() {
		for _, e := range j.Entries {
			t.Logf("  %s %s %s %s", e.Step, e.Status, e.Member, e.Detail)
		}
	}
}

// TestUpgradeApplyCommandRuntime upgrades through --endpoints and the
// command runtime, as on real hosts: the hooks here drive the sandbox's
// processes through etcdpilot itself, templated with {name} and {version}.
func TestUpgradeApplyCommandRuntime(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36)
	state := cliSandbox(t, "hosts", []string{testutil.V35})
	sb, err := sandbox.Open(state, "hosts", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	self := etcdpilotBin + " --state-dir " + state
	args := []string{"upgrade", "apply", "--endpoints", strings.Join(st.Endpoints(), ","), "--to", testutil.V36,
		"--runtime", "command", "--journal", filepath.Join(state, "journal.json"),
		"--install-cmd", self + " etcd install {version}",
		"--stop-cmd", self + " sandbox proc stop {name} --name hosts",
		"--start-cmd", self + " sandbox proc start {name} --name hosts --version {version}",
		"-w", "json"}
	// A dead member blocks the plan: exit 1, nothing changes.
	if r := run(t, state, "sandbox", "proc", "kill", "m3", "--name", "hosts"); r.code != 0 {
		t.Fatalf("kill: %s", r.stderr)
	}
	r := run(t, state, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "blockers") || strings.Contains(r.stderr, "running stop on") {
		t.Errorf("apply with a dead member: %d\n%s", r.code, r.stderr)
	}
	if r := run(t, state, "sandbox", "proc", "start", "m3", "--name", "hosts"); r.code != 0 {
		t.Fatalf("start: %s", r.stderr)
	}
	r = run(t, state, args...)
	if r.code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, `"clusterVersion": "3.6.0"`) || !strings.Contains(r.stderr, "running stop on local: ") {
		t.Errorf("report:\n%s\n%s", r.stdout, r.stderr)
	}
	// A missing hook is refused before anything runs.
	r = run(t, state, "upgrade", "apply", "--endpoints", strings.Join(st.Endpoints(), ","), "--to", testutil.V36, "--runtime", "command", "--stop-cmd", "true")
	if r.code != 2 || !strings.Contains(r.stderr, "--start-cmd") {
		t.Errorf("missing hook: %d %s", r.code, r.stderr)
	}
	r = run(t, state, "upgrade", "apply", "--endpoints", strings.Join(st.Endpoints(), ","), "--to", testutil.V36)
	if r.code != 2 || !strings.Contains(r.stderr, "--runtime command") {
		t.Errorf("no runtime: %d %s", r.code, r.stderr)
	}
}

// TestDemo runs the README's main job (with fewer keys).
func TestDemo(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36)
	state := testutil.Root(t)
	t.Cleanup(func() { run(t, state, "sandbox", "down", "--all") })
	r := run(t, state, "demo", "--keys", "300")
	if r.code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Upgrade to " + testutil.V36 + ": done", "Cluster version: 3.6.0", "longest write stall", "linearizable              yes", "HEALTHY"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestRollbackAfterInterruptedApply: etcdpilot is killed (with its hooks)
// after the first member was upgraded and while the second is down between
// its stop and its start. upgrade rollback brings the down member back
// first, on its old version, and only then restarts the upgraded one: it
// never takes a member down while another voter is down.
func TestRollbackAfterInterruptedApply(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36)
	state := cliSandbox(t, "rb", []string{testutil.V35})
	sb, err := sandbox.Open(state, "rb", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	self := etcdpilotBin + " --state-dir " + state
	journal := filepath.Join(state, "rb-journal.json")
	start := self + " sandbox proc start {name} --name rb --version={version}"
	base := []string{"--endpoints", strings.Join(st.Endpoints(), ","), "--runtime", "command", "--journal", journal,
		"--install-cmd", self + " etcd install {version}", "--stop-cmd", self + " sandbox proc stop {name} --name rb"}

	apply := exec.Command(etcdpilotBin, append([]string{"upgrade", "apply", "--to", testutil.V36, "--skip-snapshot",
		"--start-cmd", "sleep 3; " + start}, base...)...)
	apply.Env = append(os.Environ(), "ETCDPILOT_STATE_DIR="+state, "ETCDPILOT_LOCK_DIR="+filepath.Join(state, "locks"))
	apply.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, apply.Start())
	exited := make(chan error, 1)
	go func() { exited <- apply.Wait() }()
	victim := ""
	for victim == "" {
		select {
		case err := <-exited:
			t.Fatalf("apply ended before it could be interrupted: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		j, err := engine.LoadJournal(journal)
		if err != nil {
			continue
		}
		done := 0
		for _, e := range j.Entries {
			if e.Action == engine.Restart && e.Status == "done" {
				done++
			}
		}
		last := j.Entries[len(j.Entries)-1]
		if done != 1 || last.Action != engine.Restart || last.Status != "started" {
			continue
		}
		// Wait for the hook to have stopped it, then kill etcdpilot and
		// its hooks (the start hook is still sleeping).
		if s, _ := sb.State(); s != nil {
			if m, err := s.Member(last.Member); err == nil && !m.Running() {
				victim = last.Member
			}
		}
	}
	syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
	<-exited
	s, _ := sb.State()
	if m, _ := s.Member(victim); m.Running() {
		t.Fatalf("%s runs again after the kill", victim)
	}

	r := run(t, state, append([]string{"upgrade", "rollback", "--start-cmd", start}, base...)...)
	if r.code != 0 {
		t.Fatalf("rollback: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cl, err := status.CollectConfig(context.Background(), st.Conn(), status.Options{})
	testutil.Must(t, err)
	for _, m := range cl.Members {
		if m.ServerVersion != testutil.V35 {
			t.Errorf("%s runs %s after the rollback", m.Name, m.ServerVersion)
		}
	}
	if cl.Health != status.Healthy || cl.ClusterVersion != "3.5.0" {
		t.Errorf("after the rollback: %s, cluster version %s: %v", cl.Health, cl.ClusterVersion, cl.Reasons)
	}
	j, err := engine.LoadJournal(journal)
	testutil.Must(t, err)
	first := ""
	for _, e := range j.Entries {
		if e.Action == engine.Restart && e.Rollback && e.Status == "started" && first == "" {
			first = e.Member
		}
	}
	if first != victim {
		t.Errorf("the rollback restarted %s first while %s was down", first, victim)
	}
	if j.State != engine.StateRolledBack {
		t.Errorf("journal state %s", j.State)
	}
}

// crashUntilDone runs a change again and again, killing etcdpilot with
// SIGKILL on even runs right after a step finished and on odd runs (which
// use resume) in the middle of a member's restart, until a run finishes;
// it returns how many runs it killed.
func crashUntilDone(t *testing.T, state, journal string, first, resume []string) int {
	t.Helper()
	crashes := 0
	for i := 0; ; i++ {
		if i == 30 {
			t.Fatal("the change did not finish after 30 runs")
		}
		args := first
		if i%2 == 1 {
			args = resume
		}
		before := 0
		if j, err := engine.LoadJournal(journal); err == nil {
			before = len(j.Entries)
		}
		cmd := exec.Command(etcdpilotBin, args...)
		cmd.Env = cliEnv(state)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		testutil.Must(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		midRestart := i%2 == 1
		var runErr error
		done := false
	watch:
		for {
			select {
			case runErr = <-exited:
				done = true
				break watch
			case <-time.After(5 * time.Millisecond):
			}
			j, err := engine.LoadJournal(journal)
			if err != nil || len(j.Entries) <= before {
				continue
			}
			last := j.Entries[len(j.Entries)-1]
			newDone := false
			for _, e := range j.Entries[before:] {
				newDone = newDone || e.Status == "done"
			}
			if (midRestart && last.Member != "" && last.Status == "started") || (!midRestart && newDone) {
				if midRestart {
					time.Sleep(400 * time.Millisecond)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				if j, err := engine.LoadJournal(journal); err == nil && engine.Finished(j.State) {
					// The change ended before the kill landed.
					t.Logf("run %d: finished (%s) before the kill", i, j.State)
					return crashes
				}
				crashes++
				t.Logf("run %d: killed after %q %s", i, last.Step, last.Status)
				break watch
			}
		}
		if done {
			if runErr != nil {
				t.Fatalf("run %d failed: %v\n%s", i, runErr, out.String())
			}
			return crashes
		}
	}
}

// TestResumeWithAnotherTarget (issue 27): after a kill -9 of an upgrade
// to 3.6.16, --resume --to 3.7.3 is refused, naming both, and nothing
// moves; --resume --to 3.6 (the journal's minor) carries it to 3.6.16.
func TestResumeWithAnotherTarget(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "rt", []string{testutil.V35})
	testutil.Binaries(t, testutil.V36, testutil.V37)
	sb, err := sandbox.Open(state, "rt", nil)
	testutil.Must(t, err)
	journal := filepath.Join(sb.Dir, "upgrade-journal.json")
	cmd := exec.Command(etcdpilotBin, "upgrade", "apply", "--sandbox", "rt", "--to", testutil.V36, "--probe=false")
	cmd.Env = cliEnv(state)
	testutil.Must(t, cmd.Start())
	testutil.Eventually(t, 2*time.Minute, func() error {
		j, err := engine.LoadJournal(journal)
		if err != nil {
			return err
		}
		for _, e := range j.Entries {
			if e.Action == engine.Restart && e.Status == "done" {
				return nil
			}
		}
		return fmt.Errorf("no member restarted yet")
	})
	cmd.Process.Kill()
	cmd.Wait()
	before, _ := engine.LoadJournal(journal)
	r := run(t, state, "upgrade", "apply", "--sandbox", "rt", "--resume", "--to", testutil.V37, "--probe=false")
	if r.code != 2 || !strings.Contains(r.stderr, "goes to "+testutil.V36) || !strings.Contains(r.stderr, "--resume --to "+testutil.V37) {
		t.Fatalf("resume to another target: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := engine.LoadJournal(journal); len(after.Entries) != len(before.Entries) {
		t.Fatalf("the refused resume wrote to the journal")
	}
	r = run(t, state, "upgrade", "apply", "--sandbox", "rt", "--resume", "--to", "3.6", "--probe=false")
	if r.code != 0 {
		t.Fatalf("resume --to 3.6: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "status", "--sandbox", "rt", "-w", "json"); strings.Count(r.stdout, `"serverVersion": "`+testutil.V36+`"`) != 3 {
		t.Fatalf("after the resume:\n%s", r.stdout)
	}
}
