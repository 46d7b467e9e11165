package runtime

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
)

func TestRenameFlags(t *testing.T) {
	in := []string{"--name=m1", "--experimental-initial-corrupt-check=true", "-experimental-compact-hash-check-enabled", "--enable-v2", "true", "--x"}
	got := RenameFlags(in, map[string]string{
		"--experimental-initial-corrupt-check":      "--feature-gates=InitialCorruptCheck",
		"--experimental-compact-hash-check-enabled": "--feature-gates=CompactHashCheck",
		"--enable-v2": "",
	})
	want := []string{"--name=m1", "--feature-gates=InitialCorruptCheck=true", "--feature-gates=CompactHashCheck", "--x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestCommandValidate(t *testing.T) {
	c := &Command{StopCmd: "ssh {host} systemctl stop etcd", StartCmd: "ssh {host} systemctl start etcd", InstallCmd: "ssh {host} install-etcd {version}"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Hosts = map[string]string{"m1": "10.0.0.1"}
	if got := c.render(c.InstallCmd, "m1", "v3.6.16"); got != "ssh '10.0.0.1' install-etcd '3.6.16'" {
		t.Fatalf("render: %q", got)
	}
	c.StartCmd = "ssh {hots} systemctl start etcd"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "{hots}") {
		t.Fatalf("unknown placeholder: %v", err)
	}
	if err := (&Command{StartCmd: "x"}).Validate(); err == nil {
		t.Fatal("missing stop command accepted")
	}
}

// twoHosts has one member here and one over SSH, with the same path:
// kubeadm puts every node's data in /var/lib/etcd.
type twoHosts struct{}

func (twoHosts) Stop(context.Context, string) error                { return nil }
func (twoHosts) Start(context.Context, string, StartOptions) error { return nil }
func (twoHosts) DataDir(context.Context, string) (string, error)   { return "/var/lib/etcd", nil }
func (twoHosts) Host(m string) hostexec.Executor {
	if m == "far" {
		return hostexec.SSH{Target: "root@10.0.0.2"}
	}
	return hostexec.Local{}
}

func TestLocalDataDir(t *testing.T) {
	ctx := context.Background()
	if d, ok, err := LocalDataDir(ctx, twoHosts{}, "near"); !ok || err != nil || d != "/var/lib/etcd" {
		t.Errorf("near: %q %v %v", d, ok, err)
	}
	if d, ok, err := LocalDataDir(ctx, twoHosts{}, "far"); ok || err != nil || d != "" {
		t.Errorf("far: another node's path taken for this one's: %q %v %v", d, ok, err)
	}
	if !Local(twoHosts{}, "near") || Local(twoHosts{}, "far") {
		t.Error("Local")
	}
}
