package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/spf13/cobra"
)

// etcdpilotBin is the command under test, built once by TestMain.
var etcdpilotBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "etcdpilot-cli-")
	if err != nil {
		panic(err)
	}
	etcdpilotBin = filepath.Join(dir, "etcdpilot")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", etcdpilotBin, ".").CombinedOutput(); err != nil {
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
	return runEnv(t, stateDir, nil, args...)
}

// cliEnv is the environment of an etcdpilot under test: a private state
// and lock directory, and the compiled-in catalog (test outcomes must not
// move with etcd's next release).
func cliEnv(stateDir string) []string {
	return append(os.Environ(), "ETCDPILOT_STATE_DIR="+stateDir, "ETCDPILOT_LOCK_DIR="+filepath.Join(stateDir, "locks"), "ETCDPILOT_OFFLINE=1")
}

// runEnv is run with more environment variables.
func runEnv(t *testing.T, stateDir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(etcdpilotBin, args...)
	// The catalog is the compiled-in one unless a test says otherwise
	// (ETCDPILOT_OFFLINE=0).
	cmd.Env = append(cliEnv(stateDir), env...)
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
	if !strings.Contains(r.stdout, "cli") || !strings.Contains(r.stdout, testutil.V35) {
		t.Fatalf("ls: %s", r.stdout)
	}
	// The etcdctl environment works for etcdpilot too.
	endpoints := strings.Trim(strings.TrimPrefix(strings.TrimSpace(r.stdout[strings.Index(r.stdout, "http"):]), ""), "'\n")
	cmd := exec.Command(etcdpilotBin, "status")
	cmd.Env = append(cliEnv(t.TempDir()), "ETCDCTL_ENDPOINTS="+strings.Fields(endpoints)[0])
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "HEALTHY") {
		t.Fatalf("status via ETCDCTL_ENDPOINTS: %v\n%s", err, out)
	}
	// Completion knows the sandboxes and their members' names.
	if r := run(t, state, "__complete", "status", "--sandbox", ""); !strings.Contains(r.stdout, "cli\n") {
		t.Errorf("completion of --sandbox: %s %s", r.stdout, r.stderr)
	}
	if r := run(t, state, "__complete", "member", "remove", "--sandbox", "cli", ""); !strings.Contains(r.stdout, "m1\nm2\nm3\n") {
		t.Errorf("completion of member names: %s %s", r.stdout, r.stderr)
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
		{[]string{"bench", "handoff", "--handoffs", "0"}, 2, "--handoffs 0: must be above zero"},
		// Names never reach outside the state directory.
		{[]string{"sandbox", "down", "../../x"}, 2, "sandbox name"},
		{[]string{"sandbox", "env", "--name", "../sandboxes/y"}, 2, "sandbox name"},
		{[]string{"status", "--sandbox", "../x"}, 2, "sandbox name"},
		// Durations and counts.
		{[]string{"status", "--dial-timeout", "-1s"}, 2, "--dial-timeout -1s: must be above zero"},
		{[]string{"status", "--command-timeout", "0"}, 2, "--command-timeout 0s: must be above zero"},
		{[]string{"upgrade", "apply", "--sandbox", "x", "--to", "3.6", "--gate-timeout", "0s"}, 2, "--gate-timeout 0s: must be above zero"},
		{[]string{"bench", "upgrade", "--runs", "0"}, 2, "--runs 0: must be above zero"},
		{[]string{"bench", "snapshot", "--runs", "-1"}, 2, "--runs -1: must be above zero"},
		{[]string{"snapshot", "prune", t.TempDir(), "--keep-last", "-1"}, 2, "--keep-last -1: must be above zero"},
		{[]string{"snapshot", "prune", t.TempDir(), "--keep-daily", "0"}, 2, "--keep-daily 0: must be above zero"},
		{[]string{"sandbox", "up", "--members", "0"}, 2, "--members 0: must be above zero"},
		{[]string{"sandbox", "up", "--members", "-1"}, 2, "--members -1: must be above zero"},
		{[]string{"sandbox", "up", "--members", "1000"}, 2, "1 to 15 members"},
		{[]string{"member", "promote", "m1", "--sandbox", "x", "--wait", "0s"}, 2, "--wait 0s: must be above zero"},
		// Ports.
		{[]string{"status", "--endpoints", "127.0.0.1:99999"}, 2, "port 99999 is not a port number"},
		{[]string{"member", "add", "m4", "--peer-urls", "http://127.0.0.1:99999", "--endpoints", "127.0.0.1:1"}, 2, "port 99999 is not a port number"},
		{[]string{"member", "add", "m4", "--peer-urls", "http://127.0.0.1:0", "--endpoints", "127.0.0.1:1"}, 2, "port 0 is not a port number"},
		// --sandbox or --endpoints, not both.
		{[]string{"status", "--sandbox", "x", "--endpoints", "127.0.0.1:2379"}, 2, "drop --endpoints"},
		{[]string{"snapshot", "save", "--sandbox", "x", "--cacert", "ca.crt"}, 2, "drop --cacert"},
		// Restores under Kubernetes: a bump goes with --mark-compacted.
		{[]string{"snapshot", "restore", "x.db", "--sandbox", "x", "--kubernetes", "--bump-revision", "5000"}, 2, "--bump-revision needs --mark-compacted"},
		{[]string{"snapshot", "restore", "x.db", "--sandbox", "x", "--mark-compacted"}, 2, "--mark-compacted needs --bump-revision"},
		{[]string{"snapshot", "restore", "x.db", "--ssh", "root@{host}", "--initial-cluster", "a=http://10.0.0.1:2380", "--data-dir", "/tmp/x"}, 2, "give --runtime static-pod or --kubeadm with it"},
		// Issue 27: empty values never fall back to a default.
		{[]string{"upgrade", "plan", "--from", "", "--to", "3.6"}, 2, "--from is empty"},
		{[]string{"upgrade", "plan", "--from", "3.5.36,,3.5.36", "--to", "3.6"}, 2, "entry 2 is empty"},
		{[]string{"sandbox", "up", "--name", ""}, 2, "sandbox name"},
		{[]string{"defrag", "--sandbox", "x", "--if-free", "-5MiB"}, 2, "is negative"},
		{[]string{"defrag", "--sandbox", "x", "--if-fragmented", "150%"}, 2, "outside 0% to 100%"},
		// Several members into one data directory.
		{[]string{"snapshot", "restore", "x.db", "--initial-cluster", "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380", "--data-dir-template", "/tmp/etcd"}, 2, "has no {name}: 2 members would share one data directory"},
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

// TestSecretsAndWarnings: a password in an endpoint URL never reaches the
// output, --insecure-skip-tls-verify warns once, and completion and
// --version work.
func TestSecretsAndWarnings(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	for _, args := range [][]string{
		{"status", "--endpoints", "http://root:s3cret@127.0.0.1:1", "--command-timeout", "1s"},
		{"status", "--endpoints", "http://root:s3cret@127.0.0.1:99999"},
		{"member", "list", "--endpoints", "https://root:s3cret@127.0.0.1:1", "--dial-timeout", "1s"},
		{"upgrade", "apply", "--to", "3.6", "--endpoints", "root:s3cret@127.0.0.1:1"},
		{"snapshot", "save", "--endpoints", "http://root:s3cret@127.0.0.1:1", "--dial-timeout", "1s", t.TempDir()},
	} {
		r := run(t, state, args...)
		if r.code == 0 || strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("%v: exit %d, output shows the password:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	r := run(t, state, "status", "--insecure-skip-tls-verify", "--endpoints", "https://127.0.0.1:1", "--command-timeout", "1s")
	if n := strings.Count(r.stderr, "--insecure-skip-tls-verify"); n != 1 {
		t.Errorf("want one warning about --insecure-skip-tls-verify, got %d:\n%s", n, r.stderr)
	}
	r = run(t, state, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "etcdpilot ") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
	r = run(t, state, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "etcdpilot") {
		t.Errorf("completion bash: %d %s", r.code, r.stderr)
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

// TestSandboxCorruptState: one sandbox's state file is garbage. sandbox ls
// still lists the others and names the broken one; its error says what to
// do; sandbox down of it stops its members (found in the process table)
// and removes it.
func TestSandboxCorruptState(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "good", []string{testutil.V35})
	if r := run(t, state, "sandbox", "up", "--name", "bad", "--members", "1"); r.code != 0 {
		t.Fatalf("sandbox up bad: %s", r.stderr)
	}
	stateFile := filepath.Join(state, "sandboxes", "bad", "state.json")
	b, err := os.ReadFile(stateFile)
	testutil.Must(t, err)
	var st struct {
		Members []struct {
			Process struct{ PID int } `json:"process"`
		} `json:"members"`
	}
	testutil.Must(t, json.Unmarshal(b, &st))
	pid := st.Members[0].Process.PID
	testutil.Must(t, os.WriteFile(stateFile, []byte("{not json"), 0o600))

	r := run(t, state, "sandbox", "ls")
	if r.code != 0 || !strings.Contains(r.stdout, "good") || !strings.Contains(r.stdout, "bad") || !strings.Contains(r.stdout, "ERROR") {
		t.Fatalf("ls with a corrupt sandbox: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "status", "--sandbox", "bad")
	if r.code != 2 || !strings.Contains(r.stderr, stateFile) || !strings.Contains(r.stderr, "sandbox down --name bad") {
		t.Errorf("status of a corrupt sandbox: %d %s", r.code, r.stderr)
	}
	r = run(t, state, "sandbox", "down", "--name", "bad")
	if r.code != 0 {
		t.Fatalf("down of a corrupt sandbox: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat("/proc/" + fmt.Sprint(pid)); err == nil {
		if b, _ := os.ReadFile("/proc/" + fmt.Sprint(pid) + "/cmdline"); strings.Contains(string(b), "sandboxes/bad") {
			t.Errorf("member process %d of the corrupt sandbox still runs", pid)
		}
	}
	if r := run(t, state, "status", "--sandbox", "good"); r.code != 0 {
		t.Errorf("the other sandbox: %d %s", r.code, r.stderr)
	}
}

// TestDepsCheck: a Kubernetes tree that pinned etcd 3.5.9 reads right, and
// --to simulates 3.6.16 from the module proxy (cached after the first run).
func TestDepsCheck(t *testing.T) {
	t.Parallel()
	testutil.SkipShort(t)
	state := t.TempDir()
	k8s := "../../pkg/repo/testdata/deps/k8s-1.28"
	r := run(t, state, "deps", "check", k8s, "--govulncheck=false")
	if r.code != 0 || !strings.Contains(r.stdout, "all at 3.5.9") || strings.Contains(r.stdout, "not-lockstep") || strings.Contains(r.stdout, "2.305.9  3.7") {
		t.Fatalf("deps check of the tree: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "deps", "check", k8s+"/go.mod", "--to", "3.6.16", "--govulncheck=false", "-w", "json")
	var tree struct {
		Modules []struct {
			Etcd       string `json:"etcd"`
			Simulation struct {
				Raises []struct {
					Path, From, To, Size string
				} `json:"raises"`
				Conflicts []struct{ Kind, Path string } `json:"conflicts"`
			} `json:"simulation"`
		} `json:"modules"`
	}
	// client/v2 and etcd/raft/v3 are indirect there: leftovers go mod
	// tidy drops, not blockers (Kubernetes made this move without a code
	// change for them).
	if err := json.Unmarshal([]byte(r.stdout), &tree); err != nil || r.code != 0 || len(tree.Modules) != 1 {
		t.Fatalf("deps check --to: %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	sim := tree.Modules[0].Simulation
	grpc := false
	for _, x := range sim.Raises {
		grpc = grpc || (x.Path == "google.golang.org/grpc" && x.From == "v1.54.0")
	}
	if !grpc || len(sim.Conflicts) < 3 {
		t.Errorf("simulation: raises %+v, conflicts %+v", sim.Raises, sim.Conflicts)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deps", "check", k8s, "--to", "3.6.99"}, "3.6.16"},
		{[]string{"deps", "check", k8s, "--apply"}, "--apply needs --to"},
		{[]string{"deps", "check", k8s, "--to", "3.6.16", "--out", "/tmp"}, "--out needs --apply"},
		{[]string{"deps", "check", k8s, "--to", "3.6.16", "--apply", "--out", k8s}, "exists: give a new directory"},
		{[]string{"deps", "check", t.TempDir()}, "no go.mod"},
	} {
		if r := run(t, state, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %d %s", tc.args, r.code, r.stderr)
		}
	}
	// No module proxy: a clear error, and the offline checks still print.
	cmd := exec.Command(etcdpilotBin, "deps", "check", k8s+"/go.mod", "--to", "3.6.16", "--govulncheck=false")
	cmd.Env = append(cliEnv(t.TempDir()), "GOPROXY=off", "GOMODCACHE="+t.TempDir(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "module proxy") || !strings.Contains(string(out), "etcd 3.5.9") {
		t.Errorf("without the proxy: %v\n%s", err, out)
	}
}

// TestUnknownSubcommand (issue 27): a typo inside a command group exits
// 2 with a suggestion, never the group's help with 0 (a cron job would
// silently make no backup).
func TestUnknownSubcommand(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	for args, want := range map[string]string{
		"snapshot sav /backups": `unknown command "sav" for "etcdpilot snapshot"; did you mean save?`,
		"member remov m1":       "did you mean remove?",
		"completion bogus":      `unknown command "bogus" for "etcdpilot completion"`,
	} {
		if r := run(t, state, strings.Fields(args)...); r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: %d %s", args, r.code, r.stderr)
		}
	}
	if r := run(t, state, "snapshot"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("a group alone prints its help: %d %s", r.code, r.stderr)
	}
}

// TestOneTargetRegistration (issue 28): every command that addresses a
// cluster takes the same target flags, --kubeadm included, and names a
// cluster the same way: each one, given a manifest that is not there,
// says so before anything else.
func TestOneTargetRegistration(t *testing.T) {
	t.Parallel()
	var cluster []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("sandbox") != nil && c.Name() != "bench" && !strings.HasPrefix(c.CommandPath(), "etcdpilot bench") {
			cluster = append(cluster, c.CommandPath())
			for _, f := range []string{"kubeadm", "manifest"} {
				if c.Flags().Lookup(f) == nil {
					t.Errorf("%s has --sandbox but no --%s", c.CommandPath(), f)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
	if len(cluster) < 20 {
		t.Fatalf("only %d commands address a cluster: %v", len(cluster), cluster)
	}
	state := t.TempDir()
	conf := filepath.Join(state, "agent.yaml")
	os.WriteFile(conf, []byte("checks:\n  schedule: \"@every 30s\"\n"), 0o600)
	db := filepath.Join(state, "x.db")
	os.WriteFile(db, nil, 0o600)
	extra := map[string][]string{
		"etcdpilot agent": {"--config", conf}, "etcdpilot snapshot restore": {db},
		"etcdpilot member add": {"m9"}, "etcdpilot member promote": {"m9"}, "etcdpilot member remove": {"m9"},
		"etcdpilot member replace": {"m9"}, "etcdpilot member move": {"m9", "--to", "m8"},
		"etcdpilot upgrade plan": {"--to", "3.6"}, "etcdpilot upgrade apply": {"--to", "3.6"}, "etcdpilot upgrade rehearse": {"--to", "3.6"},
		"etcdpilot downgrade plan": {"--to", "3.5"}, "etcdpilot downgrade apply": {"--to", "3.5"},
		"etcdpilot upgrade abandon": {"--reason", "test"},
		"etcdpilot snapshot follow": {state}, "etcdpilot snapshot verify": {state, "--to-revision", "5"},
	}
	for _, path := range cluster {
		args := append(strings.Fields(strings.TrimPrefix(path, "etcdpilot ")), "--kubeadm", "--manifest", "/nonexistent/etcd.yaml")
		args = append(args, extra[path]...)
		r := run(t, state, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "no etcd manifest at /nonexistent/etcd.yaml") {
			t.Errorf("%v: exit %d, %s", args, r.code, r.stderr)
		}
	}
}

// TestCtrlC (issue 28): Ctrl-C while etcdpilot waits for a member that
// accepts connections and never answers ends with "interrupted" and exit
// 130, not as a connection problem under --dial-timeout.
func TestCtrlC(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	cmd := exec.Command(etcdpilotBin, "status", "--endpoints", "http://"+l.Addr().String(), "--dial-timeout", "60s")
	cmd.Env = cliEnv(t.TempDir())
	var errb bytes.Buffer
	cmd.Stderr = &errb
	testutil.Must(t, cmd.Start())
	time.Sleep(time.Second)
	testutil.Must(t, cmd.Process.Signal(os.Interrupt))
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted") || strings.Contains(errb.String(), "--dial-timeout") {
		t.Fatalf("Ctrl-C: %v\n%s", err, errb.String())
	}
}
