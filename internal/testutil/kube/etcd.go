package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/pki"
)

// Cluster is an etcd cluster of static pods on a node, laid out as kubeadm
// lays out a stacked control plane: one manifest per member, certificates
// under <dir>/kubernetes/pki/etcd, TLS everywhere.
type Cluster struct {
	Node      *Node
	Members   []string
	Manifests map[string]string // member → manifest path
	DataDirs  map[string]string
	PKI       string
	Conn      conn.Config
}

// ManifestTemplate is the --manifest value that names every member's file.
func (c *Cluster) ManifestTemplate() string {
	return filepath.Join(c.Node.Manifests, "etcd-{name}.yaml")
}

// EtcdCluster writes kubeadm-style manifests for members m1..mN on etcd
// version v and waits until every member answers.
func EtcdCluster(t testutil.T, n *Node, v string, members int) *Cluster {
	t.Helper()
	c := &Cluster{Node: n, Manifests: map[string]string{}, DataDirs: map[string]string{}, PKI: filepath.Join(n.Dir, "kubernetes", "pki", "etcd")}
	testutil.Must(t, os.MkdirAll(c.PKI, 0o755))
	ca, err := pki.NewCA(c.PKI, "etcd-ca")
	testutil.Must(t, err)
	for _, name := range []string{"server", "peer"} {
		_, err := ca.Server(c.PKI, name, "127.0.0.1", "localhost")
		testutil.Must(t, err)
	}
	client, err := ca.Client(c.PKI, "healthcheck-client")
	testutil.Must(t, err)
	type ports struct{ client, peer, metrics int }
	ps := map[string]ports{}
	var initial []string
	for i := 1; i <= members; i++ {
		name := fmt.Sprintf("m%d", i)
		c.Members = append(c.Members, name)
		ps[name] = ports{freePort(t), freePort(t), freePort(t)}
		initial = append(initial, fmt.Sprintf("%s=https://127.0.0.1:%d", name, ps[name].peer))
	}
	var endpoints []string
	for _, name := range c.Members {
		p := ps[name]
		data := filepath.Join(n.Dir, "etcd-"+name)
		c.DataDirs[name] = data
		file := filepath.Join(n.Manifests, "etcd-"+name+".yaml")
		c.Manifests[name] = file
		endpoints = append(endpoints, fmt.Sprintf("https://127.0.0.1:%d", p.client))
		manifest := strings.NewReplacer(
			"NAME", name, "VERSION", v, "CLIENT", fmt.Sprint(p.client), "PEER", fmt.Sprint(p.peer),
			"METRICS", fmt.Sprint(p.metrics), "DATA", data, "PKI", c.PKI, "INITIAL", strings.Join(initial, ","),
		).Replace(kubeadmManifest)
		testutil.Must(t, os.WriteFile(file, []byte(manifest), 0o600))
	}
	c.Conn = conn.Config{Endpoints: endpoints, CACert: filepath.Join(c.PKI, "ca.crt"), Cert: client.Cert, Key: client.Key,
		DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second}
	testutil.Eventually(t, 2*time.Minute, func() error {
		cli, err := c.Conn.Client()
		if err != nil {
			return err
		}
		defer cli.Close()
		for _, ep := range endpoints {
			if _, err := cli.Status(testutil.Context(t, 5*time.Second), ep); err != nil {
				return err
			}
		}
		return nil
	})
	return c
}

// kubeadmManifest is kubeadm's stacked etcd manifest (kubeadm 1.33 for
// etcd 3.5, as written to /etc/kubernetes/manifests/etcd.yaml), with the
// ports, paths and names of one test member.
const kubeadmManifest = `apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://127.0.0.1:CLIENT
  creationTimestamp: null
  labels:
    component: etcd
    tier: control-plane
  name: etcd-NAME
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://127.0.0.1:CLIENT
    - --cert-file=PKI/server.crt
    - --client-cert-auth=true
    - --data-dir=DATA
    - --experimental-initial-corrupt-check=true
    - --experimental-watch-progress-notify-interval=5s
    - --initial-advertise-peer-urls=https://127.0.0.1:PEER
    - --initial-cluster=INITIAL
    - --initial-cluster-token=etcd-static-pods
    - --key-file=PKI/server.key
    - --listen-client-urls=https://127.0.0.1:CLIENT
    - --listen-metrics-urls=http://127.0.0.1:METRICS
    - --listen-peer-urls=https://127.0.0.1:PEER
    - --name=NAME
    - --peer-cert-file=PKI/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=PKI/peer.key
    - --peer-trusted-ca-file=PKI/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=PKI/ca.crt
    image: registry.k8s.io/etcd:VERSION-0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /health?exclude=NOSPACE&serializable=true
        port: METRICS
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: etcd
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 127.0.0.1
        path: /health?serializable=false
        port: METRICS
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: DATA
      name: etcd-data
    - mountPath: PKI
      name: etcd-certs
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: PKI
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: DATA
      type: DirectoryOrCreate
    name: etcd-data
status: {}
`
