package plan_test

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
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestConfigFileKeyIgnoredBy37: etcd 3.7.3 started from a config file
// holding an experimental-* key 3.7 removed starts and serves, with the
// setting off; the plan into 3.7 says exactly that (a warning), where the
// same setting as a flag blocks (etcd exits at start).
func TestConfigFileKeyIgnoredBy37(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	client, peer := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`name: m1
data-dir: %s
listen-client-urls: http://127.0.0.1:%d
advertise-client-urls: http://127.0.0.1:%d
listen-peer-urls: http://127.0.0.1:%d
initial-advertise-peer-urls: http://127.0.0.1:%d
initial-cluster: m1=http://127.0.0.1:%d
experimental-initial-corrupt-check: true
`, filepath.Join(dir, "data"), client, client, peer, peer, peer)
	file := filepath.Join(dir, "etcd.yaml")
	testutil.Must(t, os.WriteFile(file, []byte(cfg), 0o600))

	log := start37(t, nil, "--config-file", file)
	if !strings.Contains(log.String(), `"initial-corrupt-check":false`) {
		t.Fatalf("etcd 3.7.3 should run with the initial corruption check off:\n%s", log.String())
	}

	cat, _ := catalog.Default()
	c, err := memberconfig.Parse(file, []byte(cfg))
	testutil.Must(t, err)
	p, err := plan.Make(cat, plan.Cluster{Members: []plan.Member{{Name: "m1", Version: testutil.V36}}}, plan.Options{Target: "3.7.3", Configs: []*memberconfig.Config{c}, V2WAL: map[string]int{"m1": 0}})
	testutil.Must(t, err)
	if codes(p.Blockers)["flag-removed"] != 0 || codes(p.Warnings)["config-key-ignored"] != 1 {
		t.Fatalf("blockers %+v warnings %+v", p.Blockers, p.Warnings)
	}
}

// TestEnvVariableIgnoredBy37: an ETCD_* variable naming a flag 3.7
// removed is warned about by etcd, which starts; the plan says so
// without blocking.
func TestEnvVariableIgnoredBy37(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	client, peer := freePort(t), freePort(t)
	cu, pu := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	log := start37(t, []string{"ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=5s"}, "--name", "m1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu, "--initial-cluster", "m1="+pu)
	if !strings.Contains(log.String(), "unrecognized environment variable") {
		t.Fatalf("etcd 3.7.3 should warn about the variable:\n%s", log.String())
	}
	cat, _ := catalog.Default()
	unit := "[Service]\nEnvironment=ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=5s\nExecStart=/usr/bin/etcd --name m1\n"
	u, err := memberconfig.Parse(filepath.Join(dir, "etcd.service"), []byte(unit))
	testutil.Must(t, err)
	p, err := plan.Make(cat, plan.Cluster{Members: []plan.Member{{Name: "m1", Version: testutil.V36}}}, plan.Options{Target: "3.7.3", Configs: []*memberconfig.Config{u}, V2WAL: map[string]int{"m1": 0}})
	testutil.Must(t, err)
	if len(p.Blockers) != 0 || codes(p.Warnings)["env-ignored"] != 1 {
		t.Fatalf("a variable etcd only warns about is not a blocker: blockers %+v warnings %+v", p.Blockers, p.Warnings)
	}
}

// start37 starts a real etcd 3.7.3 with args and env added, waits until it
// serves, and returns its log; it stops when the test ends.
func start37(t *testing.T, env []string, args ...string) *testutil.SyncBuffer {
	t.Helper()
	bins := testutil.Binaries(t, testutil.V37)
	in, err := bins.Get(testutil.V37)
	testutil.Must(t, err)
	etcd, err := in.Bin("etcd")
	testutil.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	log := &testutil.SyncBuffer{}
	cmd := exec.CommandContext(ctx, etcd, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() { cancel(); cmd.Wait() })
	testutil.Eventually(t, 30*time.Second, func() error {
		if strings.Contains(log.String(), "ready to serve client requests") {
			return nil
		}
		return fmt.Errorf("etcd 3.7.3 did not start (%v):\n%s", args, log.String())
	})
	return log
}
