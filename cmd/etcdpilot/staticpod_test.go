package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/internal/testutil/kube"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// staticPodArgs are the connection and runtime flags for a cluster of
// static pods on the test's kubelet.
func staticPodArgs(c *kube.Cluster, state string) []string {
	return []string{"--endpoints", strings.Join(c.Conn.Endpoints, ","), "--cacert", c.Conn.CACert, "--cert", c.Conn.Cert, "--key", c.Conn.Key,
		"--runtime", "static-pod", "--manifest", c.ManifestTemplate(), "--pod-logs", c.Node.PodLogs,
		"--journal", filepath.Join(state, "journal.json")}
}

// TestStaticPodUpgradeAndRollback: three kubeadm-style static pods on a
// real kubelet, 3.5.35 → 3.6.16 with --runtime static-pod. The first
// attempt is killed once a member runs 3.6.16 and rolled back (each
// manifest is the one it had before); the second goes through, under the
// availability probe.
func TestStaticPodUpgradeAndRollback(t *testing.T) {
	n := kube.NewNode(t, testutil.V35, testutil.V36)
	c := kube.EtcdCluster(t, n, testutil.V35, 3)
	state := testutil.Root(t)
	args := staticPodArgs(c, state)
	original := map[string][]byte{}
	for m, f := range c.Manifests {
		b, err := os.ReadFile(f)
		testutil.Must(t, err)
		original[m] = b
	}
	ctx := testutil.Context(t, 10*time.Minute)
	s := testutil.Session(t, c.Conn)

	// Bad input: a manifest template that names one file for 3 members.
	r := run(t, state, append([]string{"upgrade", "apply", "--to", testutil.V36}, append(args, "--manifest", filepath.Join(n.Manifests, "etcd.yaml"))...)...)
	if r.code != 2 || !strings.Contains(r.stderr, "--ssh root@{host}") {
		t.Fatalf("one manifest for 3 members: %d %s", r.code, r.stderr)
	}

	// Kill the first attempt once a member runs the new version.
	cmd := exec.Command(etcdpilotBin, append([]string{"upgrade", "apply", "--to", testutil.V36, "--snapshot-dir", state}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDPILOT_STATE_DIR="+state, "ETCDPILOT_LOCK_DIR="+filepath.Join(state, "locks"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	testutil.Must(t, cmd.Start())
	testutil.Eventually(t, 3*time.Minute, func() error {
		cl, err := s.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range cl.Members {
			if m.Reachable && version.Compare(m.ServerVersion, testutil.V36) == 0 {
				return nil
			}
		}
		return errors.New("no member on the new version yet")
	})
	cmd.Process.Kill()
	cmd.Wait()
	t.Logf("first attempt, killed:\n%s", out.String())
	if strings.Count(out.String(), "membership read from") != 3 {
		t.Errorf("the plan did not read each member's membership from its backend's pages:\n%s", out.String())
	}

	r = run(t, state, append([]string{"upgrade", "rollback"}, args...)...)
	if r.code != 0 {
		t.Fatalf("rollback: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cl, err := s.Status(ctx)
	testutil.Must(t, err)
	for _, m := range cl.Members {
		if version.Compare(m.ServerVersion, testutil.V35) != 0 {
			t.Errorf("%s runs %s after the rollback", m.Name, m.ServerVersion)
		}
		man, err := staticpod.Parse(c.Manifests[m.Name], mustRead(t, c.Manifests[m.Name]))
		testutil.Must(t, err)
		if man.Image() != kube.EtcdImage(testutil.V35) {
			t.Errorf("%s's manifest has image %s after the rollback", m.Name, man.Image())
		}
		orig, _ := staticpod.Parse(c.Manifests[m.Name], original[m.Name])
		if strings.Join(man.Flags(), " ") != strings.Join(orig.Flags(), " ") {
			t.Errorf("%s's flags after the rollback: %v, before: %v", m.Name, man.Flags(), orig.Flags())
		}
	}

	// The kubeadm preset: connection settings from a manifest and its pki
	// directory (healthcheck-client), the static-pod runtime.
	kubeadm := []string{"--kubeadm", "--manifest", c.ManifestTemplate()}
	if r := run(t, state, "status", "--kubeadm", "--manifest", filepath.Join(n.Dir, "nowhere", "etcd.yaml")); r.code != 2 || !strings.Contains(r.stderr, "give its path with --manifest") {
		t.Errorf("status --kubeadm without a manifest: %d %s", r.code, r.stderr)
	}
	r = run(t, state, append([]string{"status"}, kubeadm...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "certificates: ") || !strings.Contains(r.stderr, "healthcheck-client.crt") {
		t.Errorf("status --kubeadm: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("status --kubeadm:\n%s", r.stdout)
	if r := run(t, state, append([]string{"upgrade", "plan", "--to", testutil.V36}, kubeadm...)...); r.code != 0 {
		t.Errorf("upgrade plan --kubeadm: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, append([]string{"snapshot", "save", filepath.Join(state, "kubeadm.db")}, kubeadm...)...); r.code != 0 {
		t.Errorf("snapshot save --kubeadm: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = run(t, state, append([]string{"upgrade", "apply", "--to", testutil.V36, "--probe", "--snapshot-dir", state,
		"--pod-logs", c.Node.PodLogs, "--journal", filepath.Join(state, "journal.json")}, kubeadm...)...)
	if r.code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("apply:\n%s", r.stdout)
	cl, err = s.Status(ctx)
	testutil.Must(t, err)
	if cl.ClusterVersion != "3.6.0" || cl.Health != status.Healthy {
		t.Errorf("after the upgrade: cluster version %s, %s: %v", cl.ClusterVersion, cl.Health, cl.Reasons)
	}
	for m, f := range c.Manifests {
		man, err := staticpod.Parse(f, mustRead(t, f))
		testutil.Must(t, err)
		if man.Image() != kube.EtcdImage(testutil.V36) || man.Pod.Annotations[staticpod.RestartedAt] == "" {
			t.Errorf("%s's manifest: image %s, annotations %v", m, man.Image(), man.Pod.Annotations)
		}
		if _, err := os.Stat(filepath.Join(staticpod.BackupDir(f, m), "v"+testutil.V35+".yaml")); err != nil {
			t.Errorf("no copy of %s's 3.5 manifest: %v", m, err)
		}
	}
	entries, _ := os.ReadDir(n.Manifests)
	if len(entries) != 3 {
		t.Errorf("the manifest directory holds %d files, want the 3 manifests", len(entries))
	}
}

func mustRead(t *testing.T, f string) []byte {
	b, err := os.ReadFile(f)
	testutil.Must(t, err)
	return b
}

// TestStaticPodMemberReplace: a static-pod member whose database was
// truncated (its etcd killed, it crash-loops) is replaced through the
// static-pod runtime over a real sshd: removed, its data directory moved
// aside, added back as a learner from its own manifest
// (--initial-cluster-state=existing), started by the kubelet, promoted.
func TestStaticPodMemberReplace(t *testing.T) {
	n := kube.NewNode(t, testutil.V35)
	c := kube.EtcdCluster(t, n, testutil.V35, 3)
	state := testutil.Root(t)
	_, port, opts := testutil.SSHD(t)
	s := testutil.Session(t, c.Conn)
	ctx := testutil.Context(t, 5*time.Minute)
	before, err := s.Status(ctx)
	testutil.Must(t, err)
	oldID := ""
	for _, m := range before.Members {
		if m.Name == "m3" {
			oldID = m.ID
		}
	}

	testutil.Must(t, os.Truncate(filepath.Join(c.DataDirs["m3"], "member", "snap", "db"), 4096))
	exec.Command("pkill", "-9", "-f", "data-dir="+c.DataDirs["m3"]).Run()
	testutil.Eventually(t, time.Minute, func() error {
		cl, err := s.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range cl.Members {
			if m.Name == "m3" && m.Reachable {
				return errors.New("m3 still answers")
			}
		}
		return nil
	})

	kubeadm := []string{"--kubeadm", "--manifest", c.ManifestTemplate(), "--pod-logs", n.PodLogs, "--ssh", "root@{host}", "--ssh-port", fmt.Sprint(port)}
	for i := 0; i+1 < len(opts); i += 2 {
		kubeadm = append(kubeadm, "--ssh-option="+opts[i]+"="+opts[i+1])
	}
	r := run(t, state, append([]string{"member", "replace", "m3"}, kubeadm...)...)
	if r.code != 0 {
		t.Fatalf("member replace: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("member replace:\n%s%s", r.stdout, r.stderr)
	testutil.Eventually(t, time.Minute, func() error {
		cl, err := s.StatusWithHashes(ctx)
		if err != nil {
			return err
		}
		if cl.Health != status.Healthy || cl.Voters != 3 {
			return fmt.Errorf("%s, %d voters: %v", cl.Health, cl.Voters, cl.Reasons)
		}
		for _, m := range cl.Members {
			if m.Name == "m3" && (m.ID == oldID || m.IsLearner) {
				return fmt.Errorf("m3: ID %s (old %s), learner %v", m.ID, oldID, m.IsLearner)
			}
		}
		return nil
	})
	if aside, _ := filepath.Glob(c.DataDirs["m3"] + ".etcdpilot-retired-*"); len(aside) != 1 {
		t.Errorf("m3's old data directory kept aside: %v", aside)
	}
	man, err := staticpod.Parse(c.Manifests["m3"], mustRead(t, c.Manifests["m3"]))
	testutil.Must(t, err)
	if man.Flag("initial-cluster-state") != "existing" {
		t.Errorf("m3's manifest: --initial-cluster-state %q", man.Flag("initial-cluster-state"))
	}

	// The whole cluster restored over SSH: every data directory built here
	// and sent to its node, the old ones kept aside.
	cli, err := c.Conn.Client()
	testutil.Must(t, err)
	defer cli.Close()
	for i := range 200 {
		_, err = cli.Put(ctx, fmt.Sprintf("/registry/k%03d", i), strings.Repeat("v", 1000))
		testutil.Must(t, err)
	}
	dir := t.TempDir()
	if r := run(t, state, "snapshot", "save", dir, "--kubeadm", "--manifest", c.ManifestTemplate()); r.code != 0 {
		t.Fatalf("save: %s", r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("snapshots: %v", files)
	}
	_, err = cli.Put(ctx, "after-the-snapshot", "x")
	testutil.Must(t, err)
	start := time.Now()
	r = run(t, state, append([]string{"snapshot", "restore", files[0], "--kubernetes"}, kubeadm...)...)
	if r.code != 0 || strings.Count(r.stderr, "data directory sent to ssh root@127.0.0.1") != 3 {
		t.Fatalf("restore over SSH: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("restore over SSH (%.1f s):\n%s%s", time.Since(start).Seconds(), r.stdout, r.stderr)
	if resp, err := cli.Get(ctx, "after-the-snapshot"); err != nil || len(resp.Kvs) != 0 {
		t.Errorf("a key written after the snapshot: %v %v", resp, err)
	}
	if resp, err := cli.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 200 {
		t.Errorf("keys under /registry/ after the restore: %v %v, want 200", resp, err)
	}
	for m, d := range c.DataDirs {
		if aside, _ := filepath.Glob(d + ".etcdpilot-aside-*"); len(aside) != 1 {
			t.Errorf("%s: the old data directory kept aside: %v, want one", m, aside)
		}
	}
}
