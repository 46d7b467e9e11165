package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestClusterWithAuth (issue 27): a sandbox with etcd's auth on. A wrong
// password is an authentication failure, not a connection problem; a
// rehearsal without credentials is refused at once saying which; with a
// root user's credentials (from the environment) it passes.
func TestClusterWithAuth(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36)
	state := cliSandbox(t, "auth", []string{testutil.V35})
	sb, err := sandbox.Open(state, "auth", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = cli.UserAdd(ctx, "root", "s3cret-pw")
	testutil.Must(t, err)
	_, err = cli.UserGrantRole(ctx, "root", "root")
	testutil.Must(t, err)
	_, err = cli.AuthEnable(ctx)
	testutil.Must(t, err)
	cli.Close()

	r := run(t, state, "status", "--sandbox", "auth", "--user", "root", "--password", "bad-pw-123")
	if r.code != 2 || !strings.Contains(r.stderr, `authentication failed for user "root"`) || strings.Contains(r.stderr, "no connection") || strings.Contains(r.stderr, "bad-pw-123") {
		t.Errorf("wrong password: %d %s", r.code, r.stderr)
	}
	if r := run(t, state, "status", "--sandbox", "auth", "--user", "root:s3cret-pw"); r.code != 0 {
		t.Errorf("status with the right password: %d %s", r.code, r.stderr)
	}
	// --user without a password, on a terminal: asked for, as etcdctl does.
	out := runTTY(t, state, "s3cret-pw\n", "status", "--sandbox", "auth", "--user", "root")
	if !strings.Contains(out, "Password for root: ") || !strings.Contains(out, "HEALTHY") {
		t.Errorf("password asked on a terminal:\n%s", out)
	}
	start := time.Now()
	r = run(t, state, "upgrade", "rehearse", "--sandbox", "auth", "--to", testutil.V36)
	if r.code != 2 || !strings.Contains(r.stderr, "auth on") || !strings.Contains(r.stderr, "ETCDCTL_USER") || time.Since(start) > 20*time.Second {
		t.Errorf("rehearsal without credentials: %d after %s\n%s", r.code, time.Since(start), r.stderr)
	}
	r = runEnv(t, state, []string{"ETCDCTL_USER=root", "ETCDCTL_PASSWORD=s3cret-pw"}, "upgrade", "rehearse", "--sandbox", "auth", "--to", testutil.V36)
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") {
		t.Errorf("rehearsal with credentials: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// runTTY runs etcdpilot on a terminal (util-linux script's pseudo-terminal)
// that types input, and returns what the terminal showed.
func runTTY(t *testing.T, stateDir, input string, args ...string) string {
	t.Helper()
	line := etcdpilotBin
	for _, a := range args {
		line += " '" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	cmd.Env = cliEnv(stateDir)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("script: %v", err)
	}
	return string(out)
}
