package hostexec_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
)

func TestLocal(t *testing.T) {
	ctx := context.Background()
	out, err := hostexec.Local{}.Run(ctx, `echo "it's here"; echo err >&2`)
	if err != nil || out.Stdout != "it's here\n" || out.Stderr != "err\n" {
		t.Fatalf("%+v %v", out, err)
	}
	_, err = hostexec.Local{}.Run(ctx, "echo boom >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exited with 3: boom") {
		t.Fatalf("exit 3: %v", err)
	}
	if out, err := (hostexec.Local{}).RunInput(ctx, "wc -c", strings.NewReader("hello")); err != nil || strings.TrimSpace(out.Stdout) != "5" {
		t.Fatalf("input: %+v %v", out, err)
	}
	_, err = hostexec.Local{Timeout: 100 * time.Millisecond}.Run(ctx, "sleep 5")
	if err == nil || !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Fatalf("timeout: %v", err)
	}
}

// TestSSH runs commands through a real sshd, quoting included.
func TestSSH(t *testing.T) {
	target, port, opts := testutil.SSHD(t)
	x := hostexec.SSH{Target: target, Port: port, Options: opts, Timeout: 30 * time.Second}
	ctx := context.Background()
	out, err := x.Run(ctx, `a='one two'; echo "$a" "it's"; echo err >&2`)
	if err != nil || out.Stdout != "one two it's\n" || out.Stderr != "err\n" {
		t.Fatalf("%+v %v", out, err)
	}
	big := strings.Repeat("0123456789", 1<<20)
	if out, err := x.RunInput(ctx, "wc -c", strings.NewReader(big)); err != nil || strings.TrimSpace(out.Stdout) != "10485760" {
		t.Fatalf("10 MiB through ssh's standard input: %+v %v", out, err)
	}
	_, err = x.Run(ctx, "exit 4")
	if err == nil || !strings.Contains(err.Error(), "exited with 4") {
		t.Fatalf("exit 4: %v", err)
	}
	bad := hostexec.SSH{Target: target, Port: port, Options: []string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", "/nonexistent"}}
	_, err = bad.Run(ctx, "true")
	if err == nil || !strings.Contains(err.Error(), "ssh failed (exit 255)") {
		t.Fatalf("no key: %v", err)
	}
}
