package memberconfig

import (
	"strings"
	"testing"
)

const kubeadmManifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.1:2379
    - --name=cp-1
    - --experimental-initial-corrupt-check=true
    - --experimental-watch-progress-notify-interval=5s
    - --data-dir=/var/lib/etcd
    image: registry.k8s.io/etcd:3.5.21-0
    name: etcd
`

const systemdUnit = `[Unit]
Description=etcd

[Service]
Environment=ETCD_ENABLE_V2=true "ETCD_QUOTA_BACKEND_BYTES=8589934592"
ExecStart=/usr/local/bin/etcd \
  --name node-2 \
  --data-dir /var/lib/etcd \
  --debug
Restart=always
`

const configFile = `# etcd.conf.yml
name: infra0
data-dir: /var/lib/etcd
enable-v2: true
experimental-compaction-batch-limit: 1000
quota-backend-bytes: 4294967296
`

func TestParseKinds(t *testing.T) {
	cases := []struct {
		name, data, kind, member string
		want                     map[string]string
	}{
		{"etcd.yaml", kubeadmManifest, KindKubeadm, "cp-1", map[string]string{"experimental-initial-corrupt-check": "true", "experimental-watch-progress-notify-interval": "5s"}},
		{"etcd.service", systemdUnit, KindSystemd, "node-2", map[string]string{"enable-v2": "true", "quota-backend-bytes": "8589934592", "debug": "true", "data-dir": "/var/lib/etcd"}},
		{"etcd.conf.yml", configFile, KindYAML, "infra0", map[string]string{"enable-v2": "true", "experimental-compaction-batch-limit": "1000"}},
		{"flags.txt", "--name=m1 --enable-v2\n# comment\n--log-output stderr\n", KindFlags, "m1", map[string]string{"enable-v2": "true", "log-output": "stderr"}},
	}
	for _, tc := range cases {
		c, err := Parse(tc.name, []byte(tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Kind != tc.kind || c.Name() != tc.member {
			t.Errorf("%s: kind %s name %q", tc.name, c.Kind, c.Name())
		}
		for k, v := range tc.want {
			if c.Flags[k].Value != v {
				t.Errorf("%s: flag %s = %q, want %q (all: %v)", tc.name, k, c.Flags[k].Value, v, c.Flags)
			}
		}
	}
	c, _ := Parse("etcd.yaml", []byte(kubeadmManifest))
	if c.Image != "registry.k8s.io/etcd:3.5.21-0" || c.Flags["experimental-initial-corrupt-check"].Line != 12 {
		t.Errorf("image %q line %d", c.Image, c.Flags["experimental-initial-corrupt-check"].Line)
	}
	u, _ := Parse("etcd.service", []byte(systemdUnit))
	if u.Flags["enable-v2"].From != "env" || u.Flags["debug"].Line != 6 {
		t.Errorf("systemd: %+v", u.Flags)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("malformed manifest: %v", err)
	}
	_, err = Parse("flags.txt", []byte("--name=x\n--initial-cluster \"a=b\n"))
	if err == nil || !strings.Contains(err.Error(), "flags.txt:2") {
		t.Fatalf("unterminated quote: %v", err)
	}
	_, err = Parse("empty.txt", []byte("# nothing\n"))
	if err == nil || !strings.Contains(err.Error(), "no etcd flags") {
		t.Fatalf("empty: %v", err)
	}
	_, err = Parse("deploy.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\n"))
	if err == nil || !strings.Contains(err.Error(), "not a Pod") {
		t.Fatalf("deployment: %v", err)
	}
}
