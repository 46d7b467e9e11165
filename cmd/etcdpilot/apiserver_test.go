package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/internal/testutil/kube"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestStaticPodUpgradeUnderAPIServer: a kube-apiserver on three static-pod
// members while a client writes ConfigMaps (20/s) and watches them as a
// reflector does; upgrade apply --runtime static-pod 3.5.35 → 3.6.16.
// No acknowledged write may be missing from the watch.
func TestStaticPodUpgradeUnderAPIServer(t *testing.T) {
	n := kube.NewNode(t, testutil.V35, testutil.V36)
	c := kube.EtcdCluster(t, n, testutil.V35, 3)
	api := kube.StartAPIServer(t, c.Conn)
	state := testutil.Root(t)
	load := &kube.APILoad{API: api, Namespace: "upgrade", Rate: 20}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan kube.APIReport)
	go func() { done <- load.Run(ctx) }()
	time.Sleep(2 * time.Second)
	r := run(t, state, append([]string{"upgrade", "apply", "--to", testutil.V36, "--snapshot-dir", state}, staticPodArgs(c, state)...)...)
	time.Sleep(2 * time.Second)
	stop()
	rep := <-done
	if r.code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("during the upgrade: %s", rep)
	if rep.Writes < 100 || rep.Missed > 0 || len(rep.WentBack) > 0 {
		t.Errorf("%s; went back: %v", rep, rep.WentBack)
	}
}

// TestRestoreUnderAPIServer: a whole-cluster snapshot restore --kubernetes
// of three static-pod members (--kubeadm: every manifest moved out, every
// data directory restored, the manifests back) under a running
// kube-apiserver and a reflector-style client. The client's watch ends as
// too old and it re-lists; no object it sees goes back to an older
// resourceVersion.
func TestRestoreUnderAPIServer(t *testing.T) {
	n := kube.NewNode(t, testutil.V35)
	c := kube.EtcdCluster(t, n, testutil.V35, 3)
	api := kube.StartAPIServer(t, c.Conn)
	state := testutil.Root(t)
	kubeadm := []string{"--kubeadm", "--manifest", c.ManifestTemplate()}
	load := &kube.APILoad{API: api, Namespace: "restore", Rate: 20}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan kube.APIReport)
	go func() { done <- load.Run(ctx) }()
	time.Sleep(3 * time.Second)
	dir := t.TempDir()
	if r := run(t, state, append([]string{"snapshot", "save", dir}, kubeadm...)...); r.code != 0 {
		t.Fatalf("save: %s", r.stderr)
	}
	time.Sleep(3 * time.Second)
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("snapshots: %v", files)
	}
	// Bad input: one manifest for three members.
	if r := run(t, state, "snapshot", "restore", files[0], "--kubeadm", "--manifest", c.Manifests["m1"], "--kubernetes"); r.code != 2 || !strings.Contains(r.stderr, "{name}") {
		t.Errorf("one manifest for three members: %d %s", r.code, r.stderr)
	}
	start := time.Now()
	r := run(t, state, append([]string{"snapshot", "restore", files[0], "--kubernetes", "--pod-logs", n.PodLogs}, kubeadm...)...)
	if r.code != 0 {
		t.Fatalf("restore: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("restore (%.1f s):\n%s%s", time.Since(start).Seconds(), r.stdout, r.stderr)
	time.Sleep(8 * time.Second)
	stop()
	rep := <-done
	t.Logf("across the restore: %s", rep)
	if len(rep.WentBack) > 0 {
		t.Errorf("objects went back to older resourceVersions: %v", rep.WentBack)
	}
	if rep.Relists < 2 {
		t.Errorf("the client re-listed %d times: its watch should have ended as too old", rep.Relists)
	}
	code, body, err := api.Do(context.Background(), http.MethodGet, "/api/v1/namespaces/restore/configmaps", nil)
	if err != nil || code != 200 || !strings.Contains(string(body), `"resourceVersion":"10000`) {
		t.Errorf("list after the restore: %d %v %.300s", code, err, body)
	}
	entries, _ := os.ReadDir(n.Manifests)
	if len(entries) != 3 {
		t.Errorf("the manifest directory holds %d files after the restore, want the 3 manifests", len(entries))
	}
	for m, d := range c.DataDirs {
		if aside, _ := filepath.Glob(d + ".etcdpilot-aside-*"); len(aside) != 1 {
			t.Errorf("%s: the old data directory kept aside: %v, want one", m, aside)
		}
	}
}

// TestDeployManifestsDryRun: the Kubernetes manifests shipped in
// deploy/kubernetes pass a real kube-apiserver's validation (server-side
// dry run: nothing is stored).
func TestDeployManifestsDryRun(t *testing.T) {
	state := cliSandbox(t, "deploy", []string{testutil.V35}, "--members", "1")
	sb, err := sandbox.Open(state, "deploy", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	api := kube.StartAPIServer(t, st.Conn())
	paths := map[string]string{
		"ConfigMap":  "/api/v1/namespaces/%s/configmaps",
		"Deployment": "/apis/apps/v1/namespaces/%s/deployments",
		"CronJob":    "/apis/batch/v1/namespaces/%s/cronjobs",
	}
	files, _ := filepath.Glob("../../deploy/kubernetes/*.yaml")
	docs := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		testutil.Must(t, err)
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var head struct {
				Kind     string
				Metadata struct{ Name, Namespace string }
			}
			testutil.Must(t, yaml.Unmarshal([]byte(doc), &head), f)
			if head.Kind == "" {
				continue
			}
			p, ok := paths[head.Kind]
			if !ok {
				t.Fatalf("%s: no REST path for kind %s in this test", f, head.Kind)
			}
			code, body, err := api.Do(context.Background(), http.MethodPost, fmt.Sprintf(p, head.Metadata.Namespace)+"?dryRun=All&fieldValidation=Strict", []byte(doc))
			if err != nil || code != http.StatusCreated {
				t.Errorf("%s: %s %s: %d %v\n%s", f, head.Kind, head.Metadata.Name, code, err, body)
			}
			docs++
		}
	}
	if docs < 3 {
		t.Fatalf("validated %d documents from %v", docs, files)
	}
	t.Logf("%d documents from %d files accepted by kube-apiserver %s (dry run, strict field validation)", docs, len(files), kube.Version)
}
