package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestHostileMemberName reproduces the shell injection of issue 27: a
// member started under the name "m9;touch DIR/pwned;echo" with etcd's own
// flags joins a real cluster. upgrade apply with command hooks (and with
// --resume), and the static-pod runtime's --ssh and --manifest
// templates, refuse it, naming it, before anything runs: no file appears.
func TestHostileMemberName(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "h", []string{testutil.V35}, "--members", "1")
	sb, err := sandbox.Open(state, "h", nil)
	testutil.Must(t, err)
	st, err := sb.State()
	testutil.Must(t, err)
	m1 := st.Members[0]
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	name := "m9;touch " + marker + ";echo"

	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	ctx := testutil.Context(t, 2*time.Minute)
	peer, client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	_, err = cli.MemberAddAsLearner(ctx, []string{peer})
	testutil.Must(t, err, "member add")
	bins := testutil.Binaries(t, testutil.V35)
	in, _ := bins.Get(testutil.V35)
	etcd, _ := in.Bin("etcd")
	proc := exec.Command(etcd, "--name", name, "--data-dir", filepath.Join(dir, "data"),
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--initial-cluster", "m1="+m1.PeerURL+","+name+"="+peer, "--initial-cluster-state", "existing")
	logf, _ := os.Create(filepath.Join(dir, "etcd.log"))
	proc.Stdout, proc.Stderr = logf, logf
	testutil.Must(t, proc.Start())
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	testutil.Eventually(t, time.Minute, func() error {
		l, err := cli.MemberList(ctx)
		if err != nil {
			return err
		}
		for _, m := range l.Members {
			if m.Name == name {
				return nil
			}
		}
		return fmt.Errorf("the hostile member has not joined")
	})

	conn := []string{"--endpoints", m1.ClientURL, "--probe=false", "--to", testutil.V35}
	hooks := []string{"--runtime", "command", "--stop-cmd", "touch " + marker + ".stop.{name}", "--start-cmd", "touch " + marker + ".start.{name}"}
	for _, args := range [][]string{
		append(append([]string{"upgrade", "apply"}, conn...), hooks...),
		append(append([]string{"upgrade", "apply", "--resume"}, conn...), hooks...),
		append([]string{"upgrade", "apply", "--runtime", "static-pod", "--ssh", "root@{host}"}, conn...),
		append([]string{"upgrade", "apply", "--runtime", "static-pod", "--manifest", dir + "/{name}.yaml"}, conn...),
		{"upgrade", "rollback", "--endpoints", m1.ClientURL, "--runtime", "command", "--stop-cmd", "touch " + marker + ".{name}", "--start-cmd", "true"},
	} {
		r := run(t, state, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "member name") || !strings.Contains(r.stderr, "m9;touch") {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if leftovers, _ := filepath.Glob(marker + "*"); len(leftovers) > 0 {
		t.Fatalf("the member name ran a command: %v", leftovers)
	}
}
