package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// etcdpilotBin is the command under test, built once by TestMain.
var etcdpilotBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "etcdpilot-cli-")
	if err != nil {
		panic(err)
	}
	etcdpilotBin = filepath.Join(dir, "etcdpilot")
	if out, err := exec.Command("go", "build", "-o", etcdpilotBin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes etcdpilot with a private state directory.
func run(t *testing.T, stateDir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(etcdpilotBin, args...)
	cmd.Env = append(os.Environ(), "ETCDPILOT_STATE_DIR="+stateDir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestSandboxUpStatusDown(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35)
	state := testutil.Root(t)
	t.Cleanup(func() { run(t, state, "sandbox", "down", "--all") })

	r := run(t, state, "sandbox", "up", "--name", "cli")
	if r.code != 0 || !strings.Contains(r.stdout, "HEALTHY") {
		t.Fatalf("sandbox up: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The members outlive the command that started them.
	r = run(t, state, "status", "--sandbox", "cli", "-w", "json")
	if r.code != 0 {
		t.Fatalf("status: %d %s", r.code, r.stderr)
	}
	var st struct {
		Health  string `json:"health"`
		Members []struct {
			Name          string `json:"name"`
			ServerVersion string `json:"serverVersion"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Health != "healthy" || len(st.Members) != 3 {
		t.Fatalf("status json: %v %+v", err, st)
	}
	// Existing name: a clear error that says how to remove it.
	r = run(t, state, "sandbox", "up", "--name", "cli")
	if r.code == 0 || !strings.Contains(r.stderr, "sandbox down --name cli") {
		t.Fatalf("second up: %d %s", r.code, r.stderr)
	}
	r = run(t, state, "sandbox", "env", "--name", "cli")
	if !strings.Contains(r.stdout, "export ETCDCTL_ENDPOINTS='http://127.0.0.1:") {
		t.Fatalf("env: %s", r.stdout)
	}
	r = run(t, state, "sandbox", "ls")
	if !strings.Contains(r.stdout, "cli") || !strings.Contains(r.stdout, "3.5.35") {
		t.Fatalf("ls: %s", r.stdout)
	}
	// The etcdctl environment works for etcdpilot too.
	endpoints := strings.Trim(strings.TrimPrefix(strings.TrimSpace(r.stdout[strings.Index(r.stdout, "http"):]), ""), "'\n")
	cmd := exec.Command(etcdpilotBin, "status")
	cmd.Env = append(os.Environ(), "ETCDCTL_ENDPOINTS="+strings.Fields(endpoints)[0])
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "HEALTHY") {
		t.Fatalf("status via ETCDCTL_ENDPOINTS: %v\n%s", err, out)
	}
	r = run(t, state, "sandbox", "down", "--name", "cli")
	if r.code != 0 {
		t.Fatalf("down: %s", r.stderr)
	}
	r = run(t, state, "status", "--sandbox", "cli")
	if r.code != 2 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("status of removed sandbox: %d %s", r.code, r.stderr)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status", "--endpoints", "127.0.0.1:1", "--command-timeout", "1s"}, 2, "no reachable endpoint"},
		{[]string{"status", "--endpoints", "127.0.0.1:1", "--cacert", "/nonexistent/ca.crt"}, 2, "/nonexistent/ca.crt"},
		{[]string{"status", "--endpoints", "not a url::"}, 2, "endpoint"},
		{[]string{"etcd", "install", "3.5.99", "--cache-dir", t.TempDir()}, 2, "3.5.35"},
		{[]string{"etcd", "install", "three", "--cache-dir", t.TempDir()}, 2, "not a version"},
		{[]string{"etcd", "install", "3.5.35", "--source", "ftp"}, 2, "unknown source"},
		{[]string{"etcd", "path", "3.5.1", "--cache-dir", t.TempDir()}, 2, "etcdpilot etcd install 3.5.1"},
		{[]string{"status", "-w", "yaml", "--endpoints", "127.0.0.1:1"}, 2, "output format"},
		{[]string{"bench", "handoff", "--handoffs", "0"}, 2, "--handoffs and --rate must be at least 1"},
	}
	for _, tc := range cases {
		r := run(t, state, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
		if strings.Contains(r.stderr, "goroutine ") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
			t.Errorf("%v: error is not short: %s", tc.args, r.stderr)
		}
	}
}

// TestMemberCommands: the README's learner-first add in a sandbox, then
// promote, list, remove, and the idempotent and refused cases.
func TestMemberCommands(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "mem", []string{testutil.V36})
	time.Sleep(5 * time.Second) // etcd accepts member changes after 5 s of connected peers
	r := run(t, state, "member", "add", "m4", "--sandbox", "mem")
	if r.code != 0 || !strings.Contains(r.stdout, "added m4 as a learner") || !strings.Contains(r.stdout, "--initial-cluster-state=existing") {
		t.Fatalf("member add: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "member", "list", "--sandbox", "mem")
	if !strings.Contains(r.stdout, "LEARNER") {
		t.Fatalf("list: %s", r.stdout)
	}
	r = run(t, state, "member", "add", "m5", "--sandbox", "mem")
	if r.code != 2 || !strings.Contains(r.stderr, "--max-learners") {
		t.Errorf("second learner: %d %s", r.code, r.stderr)
	}
	r = run(t, state, "member", "promote", "m4", "--sandbox", "mem", "--wait", "1m")
	if r.code != 0 || !strings.Contains(r.stdout, "voting member now") {
		t.Fatalf("promote: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "member", "promote", "m4", "--sandbox", "mem")
	if r.code != 0 || !strings.Contains(r.stdout, "already a voting member") {
		t.Errorf("second promote: %d %s", r.code, r.stdout)
	}
	r = run(t, state, "member", "remove", "m4", "--sandbox", "mem")
	if r.code != 0 || !strings.Contains(r.stdout, "removed m4") {
		t.Fatalf("remove: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "member", "remove", "m4", "--sandbox", "mem")
	if r.code != 0 || !strings.Contains(r.stdout, "already removed") {
		t.Errorf("second remove: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "member", "list", "--sandbox", "mem", "-w", "json")
	if r.code != 0 || strings.Count(r.stdout, `"name"`) != 3 || strings.Contains(r.stdout, "m4") {
		t.Errorf("list after remove: %s", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"member", "add", "x", "--peer-urls", "not-a-url", "--sandbox", "mem"}, "sandbox"},
		{[]string{"member", "promote", "ffff", "--sandbox", "mem"}, "no member named or with ID ffff"},
		{[]string{"member", "replace", "m1", "--sandbox", "mem"}, "looks healthy"},
	} {
		r := run(t, state, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %d %s", tc.args, r.code, r.stderr)
		}
	}
}

// cliSandbox brings up a sandbox through the CLI in a private state
// directory, removed at the end of the test; extra are sandbox up flags.
func cliSandbox(t *testing.T, name string, versions []string, extra ...string) string {
	t.Helper()
	testutil.Binaries(t, versions...)
	state := testutil.Root(t)
	t.Cleanup(func() { run(t, state, "sandbox", "down", "--all") })
	args := append([]string{"sandbox", "up", "--name", name, "--version", strings.Join(versions, ",")}, extra...)
	if r := run(t, state, args...); r.code != 0 {
		t.Fatalf("sandbox up: %s", r.stderr)
	}
	return state
}
