// Package target names a cluster from the command line: a sandbox, the
// etcdctl connection flags, or a kubeadm control-plane node's manifest;
// and how its members are stopped and started (the sandbox, command hooks,
// static pods, each host reached here or over SSH). Every command that
// addresses a cluster registers the same flags and opens the same way.
package target

import (
	"github.com/spf13/pflag"

	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
)

// Flags name a cluster and its runtime.
type Flags struct {
	Sandbox string
	Kubeadm bool
	// Manifest is the static pod manifest of each member ({name}, {host})
	// and, with Kubeadm, this node's.
	Manifest string
	// Runtime is sandbox, command or static-pod ("" picks from Sandbox and
	// Kubeadm).
	Runtime                       string
	StopCmd, StartCmd, InstallCmd string
	Image, PodLogs                string
	SSH                           string
	SSHPort                       int
	SSHOptions                    []string
	Journal                       string
}

// The runtimes.
const (
	RuntimeSandbox   = "sandbox"
	RuntimeCommand   = "command"
	RuntimeStaticPod = "static-pod"
)

// Runtimes are the values --runtime takes (for completion and messages).
var RuntimeNames = []string{RuntimeSandbox, RuntimeCommand, RuntimeStaticPod}

// Parts are groups of target flags: every command that addresses a
// cluster registers Naming; those that restart members (or use a
// runtime when one is named) add Runtimes; changes add Journal.
type Parts int

// The parts.
const (
	Naming Parts = 1 << iota
	Runtimes
	Journal
)

// Register adds the flags of parts.
func (f *Flags) Register(fs *pflag.FlagSet, parts Parts) {
	fs.StringVar(&f.Sandbox, "sandbox", "", "talk to the local sandbox NAME instead of --endpoints")
	fs.BoolVar(&f.Kubeadm, "kubeadm", false, "on a kubeadm control-plane node: endpoints from the etcd manifest (--manifest), --cacert and a client certificate from its pki directory (healthcheck-client, else server), the static-pod runtime; each flag given overrides its part")
	fs.StringVar(&f.Manifest, "manifest", staticpod.DefaultManifest, "static pod manifest of each member on its host ({name} and {host} are replaced); with --kubeadm, this node's")
	if parts&Journal != 0 {
		fs.StringVar(&f.Journal, "journal", "", "journal of changes (default: in the sandbox, or <state-dir>/upgrades/<cluster-id>.json)")
	}
	if parts&Runtimes == 0 {
		return
	}
	fs.StringVar(&f.Runtime, "runtime", "", "how members are stopped and started: sandbox (with --sandbox), static-pod (kubeadm's static pods; the default with --kubeadm) or command (--stop-cmd, --start-cmd, --install-cmd)")
	fs.StringVar(&f.StopCmd, "stop-cmd", "", "command runtime: stop a member, e.g. 'sudo systemctl stop etcd'")
	fs.StringVar(&f.StartCmd, "start-cmd", "", "command runtime: start a member, e.g. 'sudo systemctl start etcd'")
	fs.StringVar(&f.InstallCmd, "install-cmd", "", "command runtime: put etcd {version} in place on {host}, keeping the old binary")
	fs.StringVar(&f.Image, "image", "", "static-pod runtime: image repository for the new version (default: the manifest's, e.g. registry.k8s.io/etcd)")
	fs.StringVar(&f.PodLogs, "pod-logs", "/var/log/pods", "static-pod runtime: the kubelet's pod log directory, for the logs of a member that does not come up")
	fs.StringVar(&f.SSH, "ssh", "", "command and static-pod runtimes: reach each member's host over SSH, e.g. root@{host} (default: here)")
	fs.IntVar(&f.SSHPort, "ssh-port", 0, "SSH port (default: ssh's)")
	fs.StringArrayVar(&f.SSHOptions, "ssh-option", nil, "extra ssh argument, e.g. -i=KEY or -oProxyJump=bastion (repeatable)")
}
