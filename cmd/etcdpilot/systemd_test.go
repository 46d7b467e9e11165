package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

const unitFile = "../../deploy/systemd/etcdpilot-agent.service"

// TestSystemdUnitScore: the shipped unit's exposure, as systemd-analyze
// rates it offline, is 2.5 or less.
func TestSystemdUnitScore(t *testing.T) {
	testutil.SkipShort(t)
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", unitFile).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Overall exposure level") {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f", score)
	if score > 2.5 {
		t.Errorf("exposure %.1f, want 2.5 or less:\n%s", score, out)
	}
}

// TestSystemdInstall boots a real systemd in namespaces of its own and
// follows the README's install block for the agent word for word, as
// root, from a tree holding the binary, agent.yaml, an agent.env naming
// this cluster's endpoint and the unit; kubeadm's certificate paths hold
// the sandbox's CA and client certificate. The agent, hardened as
// shipped, takes a verified backup into /var/backups/etcd, answers
// /metrics, keeps its lock where the CLI locks, and stops cleanly;
// systemd-analyze verify passes on the installed unit.
func TestSystemdInstall(t *testing.T) {
	t.Parallel()
	block := readmeBlock(t, "TestSystemdInstall")
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}, TLS: true})
	st, _ := sb.State()
	sd := testutil.NewSystemd(t)

	tree := filepath.Join(sd.Var, "tmp", "install")
	copyFile(t, etcdpilotBin, filepath.Join(tree, "bin", "etcdpilot"), 0o755)
	copyFile(t, unitFile, filepath.Join(tree, "deploy", "systemd", "etcdpilot-agent.service"), 0o644)
	pki := filepath.Join(sd.Etc, "kubernetes", "pki", "etcd")
	copyFile(t, st.TLS.CA, filepath.Join(pki, "ca.crt"), 0o644)
	copyFile(t, st.TLS.Client.Cert, filepath.Join(pki, "healthcheck-client.crt"), 0o644)
	copyFile(t, st.TLS.Client.Key, filepath.Join(pki, "healthcheck-client.key"), 0o600)
	port := freePort(t)
	testutil.Must(t, os.WriteFile(filepath.Join(tree, "agent.yaml"), []byte(fmt.Sprintf(`listen: 127.0.0.1:%d
backups:
  - name: minutely
    schedule: "@every 1m"
    store: /var/backups/etcd
    keep: {last: 3}
checks:
  schedule: "@every 5s"
`, port)), 0o600))
	testutil.Must(t, os.WriteFile(filepath.Join(tree, "agent.env"), []byte("ETCDCTL_ENDPOINTS="+st.Members[0].ClientURL+"\n"), 0o600))
	sd.Boot(t)
	if out, err := sd.Run("sh", "-euc", "cd /var/tmp/install\n"+block); err != nil || strings.TrimSpace(lastLine(out)) != "active" {
		t.Fatalf("the README's install block: %v\n%s", err, out)
	}
	if out, err := sd.Run("systemd-analyze", "verify", "/etc/systemd/system/etcdpilot-agent.service"); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testutil.Eventually(t, 3*time.Minute, func() error {
		code, m := httpGet(base + "/metrics")
		if code != 200 || !strings.Contains(m, `etcdpilot_backup_runs_total{backup="minutely",result="success"} 1`) {
			status, _ := sd.Run("systemctl", "status", "--no-pager", "etcdpilot-agent")
			return fmt.Errorf("no backup yet (%d):\n%s", code, status)
		}
		return nil
	})
	snaps, _ := filepath.Glob(filepath.Join(sd.Var, "backups", "etcd", "*.db"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots in /var/backups/etcd: %v", snaps)
	}
	if fi, err := os.Stat(snaps[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode: %v %v", fi.Mode(), err)
	}
	if r := run(t, t.TempDir(), "snapshot", "verify", snaps[0]); r.code != 0 {
		t.Errorf("snapshot verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, dir := range []string{"/var/lib/etcdpilot", "/var/cache/etcdpilot", "/run/lock/etcdpilot"} {
		if out, err := sd.Run("test", "-d", dir); err != nil {
			t.Errorf("%s: %v %s", dir, err, out)
		}
	}
	if out, err := sd.Run("systemctl", "stop", "etcdpilot-agent"); err != nil {
		t.Errorf("stop: %v %s", err, out)
	}
	if out, _ := sd.Run("systemctl", "is-failed", "etcdpilot-agent"); strings.TrimSpace(out) != "inactive" {
		log, _ := sd.Run("systemctl", "status", "--no-pager", "etcdpilot-agent")
		t.Errorf("after the stop the unit is %q:\n%s", strings.TrimSpace(out), log)
	}
}

// readmeBlock is the first sh block of the README after the line that
// names the test.
func readmeBlock(t *testing.T, test string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	testutil.Must(t, err)
	s := string(b)
	i := strings.Index(s, test)
	if i < 0 {
		t.Fatalf("the README does not name %s", test)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatalf("no sh block after %s in the README", test)
	}
	return s[start+6 : start+6+end]
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	testutil.Must(t, err)
	testutil.Must(t, os.MkdirAll(filepath.Dir(to), 0o755))
	testutil.Must(t, os.WriteFile(to, b, mode))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// httpGet returns the status code and body (0 and the error when the
// request fails).
func httpGet(url string) (int, string) { return testutil.HTTPGet(url) }
