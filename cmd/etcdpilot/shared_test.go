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
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

// TestNodeCLIAndAgentShareLockAndJournal (issue 32): etcdpilot upgrade
// apply run by hand on the node and the agent's scheduled defrag, with
// the state and lock directories they share (the agent's unit and pod
// mount the node's /var/lib/etcdpilot and /run/lock/etcdpilot, root's
// defaults), refuse each other, both ways, as processes:
//   - while the upgrade runs (held in its stop hook, every member up), the
//     agent's defrag is refused by the cluster's lock;
//   - once the upgrade is killed (kill -9) half-way, the agent sees its
//     unfinished journal and still refuses, until upgrade apply --resume
//     finishes it;
//   - while the agent defragments (frozen with SIGSTOP while it holds the
//     lock), upgrade apply is refused and no member moves.
func TestNodeCLIAndAgentShareLockAndJournal(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36, testutil.V37)
	state := cliSandbox(t, "sh", []string{testutil.V35})
	sb, err := sandbox.Open(state, "sh", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	s := testutil.Session(t, st.Conn())
	ctx := testutil.Context(t, 5*time.Minute)
	cl, err := s.Status(ctx)
	testutil.Must(t, err)
	lockFile := filepath.Join(state, "locks", "cluster-"+cl.ClusterID+".lock")
	journal := target.ClusterJournal(state, cl.ClusterID)
	testutil.Fragment(t, s)

	hold := filepath.Join(t.TempDir(), "hold")
	testutil.Must(t, os.WriteFile(hold, nil, 0o600))
	self := etcdpilotBin + " --state-dir " + state
	base := []string{"--endpoints", strings.Join(st.Endpoints(), ","), "--runtime", "command", "--skip-snapshot",
		"--install-cmd", self + " etcd install {version}",
		"--stop-cmd", fmt.Sprintf("while [ -e %s ]; do sleep 0.1; done; %s sandbox proc stop {name} --name sh", hold, self),
		"--start-cmd", self + " sandbox proc start {name} --name sh --version={version}"}
	apply := exec.Command(etcdpilotBin, append([]string{"upgrade", "apply", "--to", testutil.V36}, base...)...)
	apply.Env = cliEnv(state)
	var applyOut testutil.SyncBuffer
	apply.Stdout, apply.Stderr = &applyOut, &applyOut
	apply.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, apply.Start())
	exited := make(chan error, 1)
	go func() { exited <- apply.Wait() }()
	defer syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
	// Journaled, holding the lock, in the first member's stop hook.
	testutil.Eventually(t, 2*time.Minute, func() error {
		select {
		case err := <-exited:
			t.Fatalf("upgrade apply ended: %v\n%s", err, applyOut.String())
		default:
		}
		j, err := engine.LoadJournal(journal)
		if err != nil {
			return err
		}
		last := j.Entries[len(j.Entries)-1]
		if last.Action != engine.Restart || last.Status != "started" || testutil.LockHolder(lockFile) != apply.Process.Pid {
			return fmt.Errorf("upgrade at %q %s", last.Step, last.Status)
		}
		return nil
	})

	agentCfg := filepath.Join(t.TempDir(), "agent.yaml")
	port := freePort(t)
	testutil.Must(t, os.WriteFile(agentCfg, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nelection: false\ndefrag:\n  schedule: \"@every 5s\"\n  ifFree: 1MiB\n", port)), 0o600))
	startAgent := func() (*exec.Cmd, *testutil.SyncBuffer) {
		a := exec.Command(etcdpilotBin, "agent", "--config", agentCfg, "--endpoints", strings.Join(st.Endpoints(), ","))
		a.Env = cliEnv(state)
		var log testutil.SyncBuffer
		a.Stdout, a.Stderr = &log, &log
		testutil.Must(t, a.Start())
		t.Cleanup(func() { a.Process.Kill(); a.Wait() })
		return a, &log
	}
	stopAgent := func(a *exec.Cmd) {
		a.Process.Signal(syscall.SIGTERM)
		a.Wait()
	}
	waitLog := func(log *testutil.SyncBuffer, want string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, func() error {
			if !strings.Contains(log.String(), want) {
				return fmt.Errorf("the agent's log lacks %q:\n%s", want, log.String())
			}
			return nil
		})
	}
	agent, log := startAgent()
	waitLog(log, "another etcdpilot change (upgrade, rollback) is running on cluster "+cl.ClusterID)

	// kill -9 half-way: the lock goes with the process, the journal stays.
	syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
	<-exited
	waitLog(log, "is unfinished (journal "+journal)
	if strings.Contains(log.String(), "defrag: 3 members") {
		t.Fatalf("the agent defragmented beside the upgrade:\n%s", log.String())
	}
	stopAgent(agent)
	testutil.Must(t, os.Remove(hold))
	if r := run(t, state, append([]string{"upgrade", "apply", "--resume"}, base...)...); r.code != 0 {
		t.Fatalf("resume: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	versions := func() string {
		cl, err := status.CollectConfig(ctx, st.Conn(), status.Options{})
		testutil.Must(t, err)
		var vs []string
		for _, m := range cl.Members {
			vs = append(vs, m.ServerVersion)
		}
		return strings.Join(vs, ",")
	}
	want := strings.Repeat(testutil.V36+",", len(st.Members))
	if v := versions(); v != want[:len(want)-1] {
		t.Fatalf("after the resume: %s", v)
	}

	// The other way: the agent defragments, frozen while it holds the lock.
	testutil.Fragment(t, s)
	agent, log = startAgent()
	for testutil.LockHolder(lockFile) != agent.Process.Pid {
		if ctx.Err() != nil {
			t.Fatalf("the agent never took the lock:\n%s", log.String())
		}
		time.Sleep(time.Millisecond)
	}
	testutil.Must(t, agent.Process.Signal(syscall.SIGSTOP))
	if h := testutil.LockHolder(lockFile); h != agent.Process.Pid {
		agent.Process.Signal(syscall.SIGCONT)
		t.Fatalf("the agent's defrag ended before it was frozen (holder %d)", h)
	}
	r := run(t, state, append([]string{"upgrade", "apply", "--to", testutil.V37}, base...)...)
	agent.Process.Signal(syscall.SIGCONT)
	if r.code == 0 || !strings.Contains(r.stderr, "another etcdpilot change") {
		t.Errorf("upgrade apply beside the agent's defrag: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if v := versions(); v != want[:len(want)-1] {
		t.Errorf("after the refused upgrade: %s", v)
	}
	waitLog(log, "defrag: 3 members")
	stopAgent(agent)
}

// TestRootStateIsTheAgents: root's default state directory is the agent's
// (/var/lib/etcdpilot); what an earlier etcdpilot left in root's former
// one (~/.local/state/etcdpilot) is named with what to do.
func TestRootStateIsTheAgents(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("root's default")
	}
	if _, err := os.Stat(sandbox.SystemRoot); err == nil {
		t.Skipf("%s exists on this machine: not touched", sandbox.SystemRoot)
	}
	home := t.TempDir()
	old := filepath.Join(home, ".local", "state", "etcdpilot", "upgrades")
	testutil.Must(t, os.MkdirAll(old, 0o700))
	testutil.Must(t, os.WriteFile(filepath.Join(old, "8e9e05c52164694d.json"), []byte("{}"), 0o600))
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "ETCDPILOT_STATE_DIR=") && !strings.HasPrefix(e, "XDG_STATE_HOME=") && !strings.HasPrefix(e, "HOME=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command(etcdpilotBin, "version")
	cmd.Env = append(env, "HOME="+home, "ETCDPILOT_OFFLINE=1")
	out, err := cmd.CombinedOutput()
	defer os.RemoveAll(sandbox.SystemRoot) // absent before
	if err != nil || !strings.Contains(string(out), old+" is from an earlier etcdpilot: root's state is now /var/lib/etcdpilot") {
		t.Errorf("%v\n%s", err, out)
	}
}
