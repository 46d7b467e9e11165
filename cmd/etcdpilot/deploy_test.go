package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// podSpec is the part of a pod template the least-privilege rules read.
type podSpec struct {
	HostNetwork                  bool   `yaml:"hostNetwork"`
	DNSPolicy                    string `yaml:"dnsPolicy"`
	AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
	SecurityContext              struct {
		SeccompProfile struct{ Type string } `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []struct {
		Name     string
		HostPath *struct{ Path, Type string } `yaml:"hostPath"`
	}
}

type container struct {
	Name            string
	Command         []string
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct{ Drop []string }
	} `yaml:"securityContext"`
}

// TestDeployLeastPrivilege reads every pod of deploy/kubernetes: no
// service-account token, the runtime's default seccomp profile, a
// read-only root, no privilege escalation, every capability dropped, no
// shell, DNS that works on the host network, and of the node's etcd PKI
// only the CA certificate and the healthcheck client's pair, as files.
func TestDeployLeastPrivilege(t *testing.T) {
	files, _ := filepath.Glob("../../deploy/kubernetes/*.yaml")
	pods := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		testutil.Must(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc struct {
				Kind string
				Spec struct {
					Template    struct{ Spec podSpec }
					JobTemplate struct {
						Spec struct{ Template struct{ Spec podSpec } }
					} `yaml:"jobTemplate"`
				}
			}
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var p podSpec
			switch doc.Kind {
			case "Deployment":
				p = doc.Spec.Template.Spec
			case "CronJob":
				p = doc.Spec.JobTemplate.Spec.Template.Spec
			default:
				continue
			}
			pods++
			where := filepath.Base(f) + " " + doc.Kind
			if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
				t.Errorf("%s: the service-account token is mounted", where)
			}
			if p.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
				t.Errorf("%s: seccomp %q", where, p.SecurityContext.SeccompProfile.Type)
			}
			if p.HostNetwork && p.DNSPolicy != "ClusterFirstWithHostNet" {
				t.Errorf("%s: host network with dnsPolicy %q", where, p.DNSPolicy)
			}
			for _, c := range append(p.InitContainers, p.Containers...) {
				sc := c.SecurityContext
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
					strings.Join(sc.Capabilities.Drop, ",") != "ALL" {
					t.Errorf("%s container %s: securityContext %+v", where, c.Name, sc)
				}
				if len(c.Command) > 0 && strings.HasSuffix(c.Command[0], "sh") {
					t.Errorf("%s container %s runs a shell: %v", where, c.Name, c.Command)
				}
			}
			allowed := map[string]bool{"/etc/kubernetes/pki/etcd/ca.crt": true, "/etc/kubernetes/pki/etcd/healthcheck-client.crt": true, "/etc/kubernetes/pki/etcd/healthcheck-client.key": true}
			for _, v := range p.Volumes {
				if v.HostPath == nil || !strings.HasPrefix(v.HostPath.Path, "/etc/kubernetes") {
					continue
				}
				if !allowed[v.HostPath.Path] || v.HostPath.Type != "File" {
					t.Errorf("%s: volume %s mounts %s (%s) of the node's PKI", where, v.Name, v.HostPath.Path, v.HostPath.Type)
				}
			}
		}
	}
	if pods != 2 {
		t.Errorf("%d pod templates read, want the Deployment and the CronJob", pods)
	}
}
