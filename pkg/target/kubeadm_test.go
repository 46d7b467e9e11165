package target

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
)

// TestPeersAsClients: with the local member silent, the other
// control-plane nodes of --initial-cluster are tried on the local client
// URL's scheme and port (kubeadm's layout).
func TestPeersAsClients(t *testing.T) {
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.12:2379
    - --initial-cluster=cp1=https://10.0.0.10:2380,cp2=https://10.0.0.11:2380,cp3=https://10.0.0.12:2380
    - --name=cp3
    image: registry.k8s.io/etcd:3.6.5-0
    name: etcd
`
	m, err := staticpod.Parse("etcd.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	c := conn.Config{Endpoints: []string{"https://10.0.0.12:2379"}}
	peersAsClients(&c, m, Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if got := strings.Join(c.Endpoints, ","); got != "https://10.0.0.12:2379,https://10.0.0.10:2379,https://10.0.0.11:2379" {
		t.Errorf("endpoints %s", got)
	}
}
