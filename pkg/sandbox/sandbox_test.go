package sandbox_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

func TestRuntimeOperations(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	ctx := testutil.Context(t, 2*time.Minute)
	rt := sb
	st, _ := sb.State()
	m3 := st.Members[2].Name

	testutil.Must(t, rt.Stop(ctx, m3), "stop")
	st, _ = sb.State()
	if st.Members[2].Running() {
		t.Fatal("member still running after Stop")
	}
	// Start it with another version's binary: a one-member upgrade.
	testutil.Must(t, rt.Start(ctx, m3, runtime.StartOptions{Version: testutil.V36}), "start 3.6")
	testutil.Must(t, sb.WaitHealthy(ctx), "healthy after upgrade of one member")
	v, _ := rt.Version(ctx, m3)
	if v != "v"+testutil.V36 {
		t.Fatalf("version after start: %s", v)
	}
	cl, err := status.CollectConfig(ctx, st.Conn(), status.Options{SkipHash: true})
	testutil.Must(t, err, "status")
	for _, m := range cl.Members {
		if m.Name == m3 && m.ServerVersion != testutil.V36 {
			t.Fatalf("%s reports %s", m3, m.ServerVersion)
		}
	}

	testutil.Must(t, rt.Pause(ctx, m3), "pause")
	st, _ = sb.State()
	if !st.Members[2].Paused() {
		t.Fatal("member not paused")
	}
	testutil.Must(t, rt.Resume(ctx, m3), "resume")
	testutil.Must(t, rt.Kill(ctx, m3), "kill")
	st, _ = sb.State()
	if st.Members[2].Running() {
		t.Fatal("member survived Kill")
	}
	// Back to 3.5.35 on the same data dir: still allowed while the cluster
	// version is 3.5.
	testutil.Must(t, rt.Start(ctx, m3, runtime.StartOptions{Version: testutil.V35}), "start 3.5 again")
	testutil.Must(t, sb.WaitHealthy(ctx), "healthy")
	flags, err := rt.Flags(ctx, m3)
	testutil.Must(t, err, "flags")
	if !strings.Contains(strings.Join(flags, " "), "--initial-cluster-state=new") {
		t.Fatalf("flags: %v", flags)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}, ExtraFlags: []string{"--experimental-initial-corrupt-check=true"}})
	ctx := testutil.Context(t, 2*time.Minute)
	testutil.Must(t, sb.Stop(ctx, "m1"), "stop")
	// 3.7 no longer accepts --experimental-* flags: the start must fail
	// with the member's own complaint.
	err := sb.Start(ctx, "m1", runtime.StartOptions{Version: testutil.V37})
	if err == nil || !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "experimental-initial-corrupt-check") {
		t.Fatalf("want start failure with the log, got %v", err)
	}
	// With the flag renamed as 3.6 documents, 3.7 starts.
	testutil.Must(t, sb.RenameFlags(ctx, "m1", map[string]string{"--experimental-initial-corrupt-check": "--feature-gates=InitialCorruptCheck"}))
	err = sb.Start(ctx, "m1", runtime.StartOptions{Version: testutil.V37})
	testutil.Must(t, err, "start with renamed flag")
	testutil.Must(t, sb.WaitHealthy(ctx), "healthy")
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V35)
	root := testutil.Root(t)
	ctx := testutil.Context(t, 2*time.Minute)
	sb, err := sandbox.Create(ctx, root, bins, sandbox.Options{Name: "dup", Members: 1}, nil)
	testutil.Must(t, err, "create")
	defer sb.Destroy(ctx)
	_, err = sandbox.Create(ctx, root, bins, sandbox.Options{Name: "dup", Members: 1}, nil)
	if err == nil || !strings.Contains(err.Error(), "sandbox down --name dup") {
		t.Fatalf("want an error saying how to remove the sandbox, got %v", err)
	}
	if _, err := sandbox.Create(ctx, root, bins, sandbox.Options{Name: "Bad Name"}, nil); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := sandbox.Create(ctx, root, bins, sandbox.Options{Name: "v", Members: 3, Versions: []string{"3.5.35", "3.6.16"}}, nil); err == nil {
		t.Fatal("two versions for three members accepted")
	}
	if _, err := sandbox.Open(root, "nope", bins); err == nil || !strings.Contains(err.Error(), "sandbox up --name nope") {
		t.Fatalf("open missing: %v", err)
	}
	names, _ := sandbox.List(root)
	if len(names) != 1 || names[0] != "dup" {
		t.Fatalf("List = %v", names)
	}
}

// A port taken between the free-port check and etcd's bind makes etcd fail
// with "address already in use"; the sandbox retries with new ports.
func TestBusyPortRetries(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V35)
	root := testutil.Root(t)
	ctx := testutil.Context(t, 2*time.Minute)
	var held net.Listener
	tries := 0
	sb, err := sandbox.Create(ctx, root, bins, sandbox.Options{Name: "busy", BeforeStart: func(st *sandbox.State) error {
		tries++
		if tries == 1 {
			l, err := net.Listen("tcp", st.Members[0].ClientURL[len("http://"):])
			held = l
			return err
		}
		return nil
	}}, nil)
	if held != nil {
		held.Close()
	}
	testutil.Must(t, err, "create despite a busy port")
	defer sb.Destroy(ctx)
	if tries != 2 {
		t.Fatalf("bootstrap ran %d times, want 2", tries)
	}
}

func TestTLSSandboxRequiresClientCert(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}, TLS: true})
	st, _ := sb.State()
	env := map[string]string{}
	for _, kv := range st.Env() {
		env[kv[0]] = kv[1]
	}
	for _, k := range []string{"ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"} {
		if env[k] == "" {
			t.Fatalf("env lacks %s: %v", k, env)
		}
	}
	if !strings.HasPrefix(env["ETCDCTL_ENDPOINTS"], "https://") {
		t.Fatalf("endpoints %s", env["ETCDCTL_ENDPOINTS"])
	}
	// Without a client certificate the members refuse the connection.
	noCert := conn.Config{Endpoints: st.Endpoints(), CACert: st.TLS.CA, CommandTimeout: 2 * time.Second}
	cli, err := noCert.Client()
	testutil.Must(t, err, "client")
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, "x"); err == nil {
		t.Fatal("a client without certificate was served")
	}
}

// TestCreateOnAFullDisk (issue 27): a sandbox on a full filesystem (a
// 1 MiB tmpfs) fails with etcd's own cause and what to do, and leaves
// nothing behind.
func TestCreateOnAFullDisk(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	bins := testutil.Binaries(t, testutil.V35)
	tiny := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		// A member that failed on the full disk may still be exiting:
		// busy for a moment.
		for i := 0; exec.Command("umount", tiny).Run() != nil; i++ {
			if i == 100 {
				exec.Command("umount", "-l", tiny).Run()
				t.Errorf("%s stayed busy for 10 s", tiny)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx := testutil.Context(t, 2*time.Minute)
	_, err := sandbox.Create(ctx, tiny, bins, sandbox.Options{Name: "full", Members: 1, Versions: []string{testutil.V35}}, nil)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "free space there") {
		t.Fatalf("sandbox on a full disk: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(tiny, "sandboxes")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestStartAfterAnUnrecordedStart: a command killed between starting a
// member and recording its process leaves an etcd on the member's data
// dir that the state does not know. The next start kills it and starts
// the member (before, the new etcd found the ports taken and exited).
func TestStartAfterAnUnrecordedStart(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	ctx := testutil.Context(t, 2*time.Minute)
	st, _ := sb.State()
	m := st.Members[2]
	testutil.Must(t, sb.Stop(ctx, m.Name), "stop")
	// The command line of the member's last start, from its log.
	b, err := os.ReadFile(m.LogFile)
	testutil.Must(t, err)
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "=== etcdpilot start ") {
			line = l
		}
	}
	f := strings.Fields(line)
	if len(f) < 6 {
		t.Fatalf("no start line in %s", m.LogFile)
	}
	orphan := exec.Command(f[4], f[5:]...)
	testutil.Must(t, orphan.Start(), "start the unrecorded etcd")
	waited := make(chan error, 1)
	go func() { waited <- orphan.Wait() }()
	t.Cleanup(func() { orphan.Process.Kill() })
	for {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.ClientPort), 200*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the unrecorded etcd never listened")
		}
		time.Sleep(50 * time.Millisecond)
	}

	testutil.Must(t, sb.Start(ctx, m.Name, runtime.StartOptions{}), "start")
	testutil.Must(t, sb.WaitHealthy(ctx), "healthy")
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the unrecorded etcd still runs")
	}
}
