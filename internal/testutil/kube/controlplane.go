package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
)

// ControlPlane is a one-node Kubernetes as kubeadm would leave it, built
// from the real parts: kube-apiserver on an etcd cluster,
// kube-controller-manager, kube-scheduler, and a kubelet on containerd
// registered as the node "node1", labelled and tainted as a control-plane
// node. Pods run on the host network (the node's CNI is loopback only).
type ControlPlane struct {
	API  *APIServer
	Node *Node
}

// NodeName is the control plane's one node.
const NodeName = "node1"

// NewControlPlane starts the control plane and waits until the node is
// Ready by the API. images are OCI or Docker tars imported into the
// node's containerd first.
func NewControlPlane(t testutil.T, etcd conn.Config, images ...string) *ControlPlane {
	t.Helper()
	api := StartAPIServer(t, etcd)
	kubeconfig := api.Kubeconfig(t)
	cp := &ControlPlane{API: api}
	api.startComponent(t, "kube-controller-manager", "--kubeconfig="+kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", freePort(t)), "--cert-dir="+filepath.Join(api.Dir, "kcm-certs"),
		"--service-account-private-key-file="+filepath.Join(api.Dir, "sa.key"), "--use-service-account-credentials=false",
		"--controllers=*,-nodeipam,-bootstrapsigner,-tokencleaner", "--node-monitor-grace-period=20s")
	api.startComponent(t, "kube-scheduler", "--kubeconfig="+kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", freePort(t)), "--cert-dir="+filepath.Join(api.Dir, "sched-certs"))
	cp.Node = newNode(t, nodeOptions{kubeconfig: kubeconfig, images: images})
	ctx := context.Background()
	// kubeadm's labels and taint of a control-plane node (a kubelet may
	// not set node-role labels on itself).
	testutil.Eventually(t, 2*time.Minute, func() error {
		patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}},"spec":{"taints":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}]}}`)
		code, body, err := api.DoContent(ctx, http.MethodPatch, "/api/v1/nodes/"+NodeName, patch, "application/strategic-merge-patch+json")
		if err == nil && code != 200 {
			err = fmt.Errorf("label the node: %d %s", code, body)
		}
		return err
	})
	testutil.Eventually(t, 2*time.Minute, func() error {
		var node struct {
			Status struct {
				Conditions []struct{ Type, Status, Message string }
			}
		}
		code, body, err := api.Do(ctx, http.MethodGet, "/api/v1/nodes/"+NodeName, nil)
		if err != nil || code != 200 {
			return fmt.Errorf("node: %d %v %s", code, err, body)
		}
		if err := json.Unmarshal(body, &node); err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return nil
			}
			if c.Type == "Ready" {
				return fmt.Errorf("node not ready: %s", c.Message)
			}
		}
		return fmt.Errorf("node has no Ready condition yet")
	})
	return cp
}

// Kubeconfig writes (once) a kubeconfig for the admin token.
func (a *APIServer) Kubeconfig(t testutil.T) string {
	p := filepath.Join(a.Dir, "admin.kubeconfig")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	testutil.Must(t, os.WriteFile(p, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, a.URL, a.Token)), 0o600))
	return p
}

// startComponent runs a control-plane component beside the API server,
// stopped when the test ends.
func (a *APIServer) startComponent(t testutil.T, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(a.Dir, name+".log"))
	testutil.Must(t, err)
	cmd := exec.Command(Tool(t, name), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, cmd.Start(), "start "+name)
	t.Cleanup(func() {
		stopGroup(cmd, 10*time.Second)
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("--- last lines of %s:\n%s", name, b)
		}
	})
}
