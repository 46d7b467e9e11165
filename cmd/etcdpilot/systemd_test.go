package main

import (
	"fmt"
	"io"
	"net/http"
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

// TestSystemdUnit boots a real systemd in namespaces of its own, installs
// the shipped unit as the README says (the binary, agent.yaml, kubeadm's
// certificate paths, a drop-in for this cluster's endpoint), starts it and
// sees the agent, hardened as shipped, take a verified backup into
// /var/backups/etcd, answer /metrics, keep its lock where the CLI locks,
// and stop cleanly. systemd-analyze verify passes on the installed unit.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}, TLS: true})
	st, _ := sb.State()
	sd := testutil.NewSystemd(t)

	bin := filepath.Join(sd.UsrLocal, "bin", "etcdpilot")
	testutil.Must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	b, err := os.ReadFile(etcdpilotBin)
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(bin, b, 0o755))
	pki := filepath.Join(sd.Etc, "kubernetes", "pki", "etcd")
	testutil.Must(t, os.MkdirAll(pki, 0o755))
	for from, to := range map[string]string{st.TLS.CA: "ca.crt", st.TLS.Client.Cert: "healthcheck-client.crt", st.TLS.Client.Key: "healthcheck-client.key"} {
		b, err := os.ReadFile(from)
		testutil.Must(t, err)
		testutil.Must(t, os.WriteFile(filepath.Join(pki, to), b, 0o600))
	}
	port := freePort(t)
	testutil.Must(t, os.MkdirAll(filepath.Join(sd.Etc, "etcdpilot"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(sd.Etc, "etcdpilot", "agent.yaml"), []byte(fmt.Sprintf(`listen: 127.0.0.1:%d
backups:
  - name: minutely
    schedule: "@every 1m"
    store: /var/backups/etcd
    keep: {last: 3}
checks:
  schedule: "@every 5s"
`, port)), 0o600))
	unit, err := os.ReadFile(unitFile)
	testutil.Must(t, err)
	// The one line a user changes: the endpoint (systemctl edit writes
	// such a drop-in).
	dropIn := "[Service]\nExecStart=\nExecStart=/usr/local/bin/etcdpilot agent --config /etc/etcdpilot/agent.yaml --endpoints " + st.Members[0].ClientURL +
		" --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key\n" +
		"StandardOutput=append:/var/log/etcdpilot-agent.log\nStandardError=inherit\n"
	sd.Unit(t, "etcdpilot-agent.service", string(unit), dropIn)
	sd.Boot(t, "etcdpilot-agent.service")
	agentLog := func() string {
		b, _ := os.ReadFile(filepath.Join(sd.Var, "log", "etcdpilot-agent.log"))
		return string(b)
	}

	if out, err := sd.Run("systemd-analyze", "verify", "/lib/systemd/system/etcdpilot-agent.service"); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testutil.Eventually(t, 3*time.Minute, func() error {
		code, m := httpGet(base + "/metrics")
		if code != 200 || !strings.Contains(m, `etcdpilot_backup_runs_total{backup="minutely",result="success"} 1`) {
			status, _ := sd.Run("systemctl", "status", "--no-pager", "etcdpilot-agent")
			return fmt.Errorf("no backup yet (%d):\n%s\n%s", code, status, agentLog())
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
	r := run(t, t.TempDir(), "snapshot", "verify", snaps[0])
	if r.code != 0 {
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
		t.Errorf("after the stop the unit is %q:\n%s", strings.TrimSpace(out), agentLog())
	}
}

// httpGet returns the status code and body (0 and the error when the
// request fails).
func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
