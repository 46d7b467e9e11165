package staticpod_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
)

// kubeadm135 is the etcd manifest kubeadm 1.35 writes (etcd 3.6: /livez
// and /readyz probes), as read on a control-plane node.
const kubeadm135 = `apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.10:2379
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.10:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --feature-gates=InitialCorruptCheck=true
    - --initial-advertise-peer-urls=https://10.0.0.10:2380
    - --initial-cluster=cp1=https://10.0.0.10:2380
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://10.0.0.10:2380
    - --name=cp1
    - --watch-progress-notify-interval=5s
    image: registry.k8s.io/etcd:3.6.5-0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: probe-port
        scheme: HTTP
    name: etcd
    ports:
    - containerPort: 2381
      name: probe-port
      protocol: TCP
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /srv/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
`

func TestParseKubeadmManifest(t *testing.T) {
	m, err := staticpod.Parse("etcd.yaml", []byte(kubeadm135))
	testutil.Must(t, err)
	if m.Version() != "3.6.5" || m.Flag("name") != "cp1" || m.Flag("data-dir") != "/var/lib/etcd" {
		t.Fatalf("version %s, name %s, data dir %s", m.Version(), m.Flag("name"), m.Flag("data-dir"))
	}
	if d, err := m.HostPath("/var/lib/etcd"); err != nil || d != "/srv/etcd" {
		t.Fatalf("data dir on the host: %s, %v", d, err)
	}
	m.SetVersion("3.6.16", "")
	if m.Image() != "registry.k8s.io/etcd:3.6.16-0" {
		t.Fatalf("image %s", m.Image())
	}
	m.SetVersion("3.7.3", "mirror.example.com/etcd")
	if m.Image() != "mirror.example.com/etcd:3.7.3-0" {
		t.Fatalf("image %s", m.Image())
	}
	m.RenameFlags(map[string]string{"--watch-progress-notify-interval": "--x", "--name": "--name"})
	if m.Flag("x") != "5s" || m.Flag("watch-progress-notify-interval") != "" {
		t.Fatalf("flags after rename: %v", m.Flags())
	}
	// Written back, it parses again to the same thing.
	data, err := m.Marshal()
	testutil.Must(t, err)
	again, err := staticpod.Parse("etcd.yaml", data)
	testutil.Must(t, err)
	if again.Image() != m.Image() || strings.Join(again.Flags(), " ") != strings.Join(m.Flags(), " ") {
		t.Fatalf("round trip: %s %v", again.Image(), again.Flags())
	}
}

func TestParseRefusesWhatIsNotAnEtcdPod(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"deployment":   {strings.Replace(kubeadm135, "kind: Pod", "kind: Deployment", 1), `kind "Deployment"`},
		"no etcd":      {strings.NewReplacer("- etcd\n", "- kube-apiserver\n", "name: etcd\n    ports", "name: apiserver\n    ports").Replace(kubeadm135), "no etcd container"},
		"not a tag":    {strings.Replace(kubeadm135, "etcd:3.6.5-0", "etcd:latest", 1), `tag "latest" is not an etcd version`},
		"no tag":       {strings.Replace(kubeadm135, "etcd:3.6.5-0", "etcd", 1), "has no tag"},
		"unknown key":  {strings.Replace(kubeadm135, "hostNetwork: true", "hostNetwerk: true", 1), "hostNetwerk"},
		"not yaml pod": {"just some text", "is not a Pod manifest"},
	} {
		_, err := staticpod.Parse("/etc/kubernetes/manifests/etcd.yaml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "/etc/kubernetes/manifests/etcd.yaml") {
			t.Errorf("%s: %v, want an error naming the file and %q", name, err, c.want)
		}
	}
}

// TestStopWhereNoKubeletWatches: a manifest in a directory no kubelet
// watches (here, beside a sandbox member it describes): the member does
// not go down, Stop says so and puts the manifest back.
func TestStopWhereNoKubeletWatches(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	st, _ := sb.State()
	m := st.Members[0]
	dir := t.TempDir()
	file := filepath.Join(dir, "manifests", "etcd.yaml")
	text := strings.NewReplacer("https://10.0.0.10:2379", m.ClientURL, "/var/lib/etcd", m.DataDir, "path: /srv/etcd", "path: "+m.DataDir).Replace(kubeadm135)
	testutil.Must(t, os.MkdirAll(filepath.Dir(file), 0o755))
	testutil.Must(t, os.WriteFile(file, []byte(text), 0o600))
	rt := &staticpod.Runtime{Manifests: map[string]string{m.Name: file}, DownTimeout: 3 * time.Second}
	err := rt.Stop(context.Background(), m.Name)
	if err == nil || !strings.Contains(err.Error(), "kubelet's staticPodPath") || !strings.Contains(err.Error(), "back in place") {
		t.Fatalf("stop: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != text {
		t.Fatalf("the manifest is not back as it was: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Fatalf("the manifest directory holds %d files", len(entries))
	}
}

// TestSetFlag: a flag is replaced where it is (--x=v, or --x v), and one
// the manifest lacks is added to the command.
func TestSetFlag(t *testing.T) {
	m, err := staticpod.Parse("etcd.yaml", []byte(kubeadm135))
	testutil.Must(t, err)
	m.SetFlag("initial-cluster", "cp1=https://10.0.0.10:2380,cp2=https://10.0.0.11:2380")
	m.SetFlag("initial-cluster-state", "existing")
	if got := m.Flag("initial-cluster"); got != "cp1=https://10.0.0.10:2380,cp2=https://10.0.0.11:2380" {
		t.Errorf("--initial-cluster %q", got)
	}
	if got := m.Flag("initial-cluster-state"); got != "existing" {
		t.Errorf("--initial-cluster-state %q", got)
	}
	n := 0
	for _, f := range m.Flags() {
		if strings.HasPrefix(f, "--initial-cluster=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d --initial-cluster flags: %v", n, m.Flags())
	}
}
