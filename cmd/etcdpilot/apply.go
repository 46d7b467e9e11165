package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

// applyFlags are the flags of upgrade apply, rollback and status.
type applyFlags struct {
	to, sandbox, journal, snapshotDir, kubernetes string
	runtime, stopCmd, startCmd, installCmd        string
	manifest, image, podLogs                      string
	ssh                                           string
	sshPort                                       int
	sshOptions                                    []string
	configs                                       []string
	resume, skipSnapshot, probe, noWALFix         bool
	gateTimeout                                   time.Duration
	maxLag                                        uint64
	kubeadm                                       kubeadmFlags
}

func (f *applyFlags) register(cmd *cobra.Command, apply bool) {
	fs := cmd.Flags()
	addSandboxFlag(cmd, &f.sandbox)
	fs.StringVar(&f.journal, "journal", "", "upgrade journal (default: in the sandbox, or <state-dir>/upgrades/<cluster-id>.json)")
	fs.StringVar(&f.runtime, "runtime", "", "how members are stopped and started: sandbox (with --sandbox), command, or static-pod (kubeadm)")
	fs.StringVar(&f.image, "image", "", "static-pod runtime: image repository for the new version (default: the manifest's, e.g. registry.k8s.io/etcd)")
	fs.StringVar(&f.stopCmd, "stop-cmd", "", "command runtime: stop a member, e.g. 'sudo systemctl stop etcd'")
	fs.StringVar(&f.startCmd, "start-cmd", "", "command runtime: start a member, e.g. 'sudo systemctl start etcd'")
	fs.StringVar(&f.installCmd, "install-cmd", "", "command runtime: put etcd {version} in place on {host}, keeping the old binary")
	f.registerHosts(cmd, "command and static-pod runtimes")
	fs.DurationVar(&f.gateTimeout, "gate-timeout", 60*time.Second, "how long a restarted member may take to pass its gates before it is rolled back")
	positive(cmd, "gate-timeout")
	if !apply {
		return
	}
	fs.StringVar(&f.to, "to", "", "target: a version (3.6.17), a minor (3.6) or latest")
	fs.BoolVar(&f.resume, "resume", false, "continue the unfinished upgrade in the journal")
	fs.StringVar(&f.snapshotDir, "snapshot-dir", "", "directory for the pre-upgrade snapshot (default: beside the journal)")
	fs.BoolVar(&f.skipSnapshot, "skip-snapshot", false, "do not take a pre-upgrade snapshot (you have your own)")
	fs.BoolVar(&f.probe, "probe", false, "write and read probe keys during the upgrade and report availability (default on for sandboxes)")
	fs.Uint64Var(&f.maxLag, "max-lag", 100, "how far a member's applied index may trail the leader's at its gate")
	fs.StringArrayVar(&f.configs, "member-config", nil, "member configuration file for the plan's flag checks (repeatable)")
	fs.StringVar(&f.kubernetes, "kubernetes", "", "Kubernetes version the cluster serves, for the plan")
	fs.BoolVar(&f.noWALFix, "no-wal-fix", false, "before a hop into 3.7, do not make members take a raft snapshot past what 3.5 wrote (3.7 then fails to start on them): for rehearsals that show the hazard")
}

// options turns the flags into upgrade options: session, runtime and
// journal for a sandbox or for real hosts. The caller closes the session.
func (f *applyFlags) options(cmd *cobra.Command, g *globals) (upgrade.Options, error) {
	ctx := cmd.Context()
	cat, err := g.catalog()
	if err != nil {
		return upgrade.Options{}, err
	}
	o := upgrade.Options{
		Target: f.to, Catalog: cat, Resume: f.resume, SkipSnapshot: f.skipSnapshot,
		Kubernetes: f.kubernetes, GateTimeout: f.gateTimeout, MaxLag: f.maxLag, Log: g.log,
		JournalPath: f.journal, Probe: f.probe, NoWALFix: f.noWALFix,
	}
	for _, file := range f.configs {
		c, err := memberconfig.Load(file)
		if err != nil {
			return o, err
		}
		o.Configs = append(o.Configs, c)
	}
	if _, err := f.applyKubeadm(cmd, g, f.sandbox); err != nil {
		return o, err
	}
	switch {
	case f.sandbox != "" && (f.runtime == "" || f.runtime == "sandbox"):
	case f.runtime == "command", f.runtime == "static-pod":
	case f.runtime == "":
		return o, fmt.Errorf("say how to stop and start the members: --sandbox NAME for a local sandbox, --runtime static-pod for kubeadm's static pods, or --runtime command --stop-cmd ... --start-cmd ... --install-cmd ... for real hosts")
	default:
		return o, fmt.Errorf("unknown --runtime %q: use sandbox (with --sandbox), static-pod or command", f.runtime)
	}
	if o.Session, err = g.session(f.sandbox); err != nil {
		return o, err
	}
	if f.sandbox != "" && f.runtime != "command" {
		sb, err := g.openSandbox(f.sandbox, cmd.ErrOrStderr())
		if err != nil {
			return o, err
		}
		o.Runtime = sb
		if o.JournalPath == "" {
			o.JournalPath = filepath.Join(sb.Dir, "upgrade-journal.json")
		}
		if !cmd.Flags().Changed("probe") {
			o.Probe = true
		}
		if o.Configs == nil {
			if o.Configs, err = sandboxConfigs(ctx, g, f.sandbox); err != nil {
				return o, err
			}
		}
	} else {
		ml, err := status.MemberList(ctx, o.Session.Pool())
		if err != nil {
			return o, err
		}
		if o.Runtime, err = f.hostRuntime(g, ml); err != nil {
			return o, err
		}
		if sp, ok := o.Runtime.(*staticpod.Runtime); ok && o.Configs == nil {
			if o.Configs, err = runtimeConfigs(ctx, sp, "static pod of member "); err != nil {
				return o, err
			}
		}
		if o.JournalPath == "" {
			o.JournalPath = journalFor(g, ml)
		}
	}
	dest := f.snapshotDir
	if dest == "" {
		dest = filepath.Dir(o.JournalPath)
	}
	o.Snapshots = snapshot.PreChange{Dest: dest, Version: Version, Log: g.log}
	return o, nil
}

// hostRuntime is the runtime for real hosts (the members of ml, each on
// the host of its peer URL): command hooks or static pods, reached here
// or, with --ssh, on each member's host.
func (f *applyFlags) hostRuntime(g *globals, ml *clientv3.MemberListResponse) (runtime.Runtime, error) {
	hosts, err := hosts(ml)
	if err != nil {
		return nil, err
	}
	// Names and hosts go into hooks, manifest paths and ssh targets:
	// anything but plain names is refused before anything runs.
	for name, host := range hosts {
		if err := runtime.CheckName(name); err != nil {
			return nil, err
		}
		if err := runtime.CheckHost(host); err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
	}
	var exec func(member, host string) hostexec.Executor
	if f.ssh != "" {
		if err := runtime.CheckPlaceholders("--ssh", f.ssh, "{host}", "{name}"); err != nil {
			return nil, err
		}
		exec = func(member, host string) hostexec.Executor {
			target := strings.NewReplacer("{host}", host, "{name}", member).Replace(f.ssh)
			return hostexec.SSH{Target: target, Port: f.sshPort, Options: sshArgs(f.sshOptions)}
		}
	}
	if f.runtime == "static-pod" {
		if err := runtime.CheckPlaceholders("--manifest", f.manifest, "{host}", "{name}"); err != nil {
			return nil, err
		}
		if exec == nil && len(hosts) > 1 && !strings.Contains(f.manifest, "{name}") && !strings.Contains(f.manifest, "{host}") {
			return nil, fmt.Errorf("--runtime static-pod edits %s on this machine, but the cluster has %d members: reach their hosts with --ssh root@{host}, or name each member's manifest with {name} in --manifest", f.manifest, len(hosts))
		}
		rt := &staticpod.Runtime{Manifests: map[string]string{}, Image: f.image, PodLogs: f.podLogs, Log: g.log}
		for name, host := range hosts {
			rt.Manifests[name] = strings.NewReplacer("{host}", host, "{name}", name).Replace(f.manifest)
		}
		if exec != nil {
			rt.Exec = func(member string) hostexec.Executor { return exec(member, hosts[member]) }
		}
		return rt, nil
	}
	rt := &runtime.Command{StopCmd: f.stopCmd, StartCmd: f.startCmd, InstallCmd: f.installCmd, Log: g.log, Hosts: hosts, Exec: exec}
	if err := rt.Validate(); err != nil {
		return nil, err
	}
	return rt, nil
}

// registerHosts adds the flags that reach members' hosts: the static-pod
// runtime's --manifest and --pod-logs, --ssh, --ssh-port and --ssh-option
// (sshWho says which runtimes use them) and --kubeadm.
func (f *applyFlags) registerHosts(cmd *cobra.Command, sshWho string) {
	fs := cmd.Flags()
	fs.StringVar(&f.manifest, "manifest", staticpod.DefaultManifest, "static-pod runtime: each member's manifest on its host ({name} and {host} are replaced)")
	fs.StringVar(&f.podLogs, "pod-logs", "/var/log/pods", "static-pod runtime: the kubelet's pod log directory, for the logs of a member that does not come up")
	fs.StringVar(&f.ssh, "ssh", "", sshWho+": reach each member's host over SSH, e.g. root@{host} (default: here)")
	fs.IntVar(&f.sshPort, "ssh-port", 0, "SSH port (default: ssh's)")
	fs.StringArrayVar(&f.sshOptions, "ssh-option", nil, "extra ssh argument, e.g. -i=KEY or -oProxyJump=bastion (repeatable)")
	addKubeadmFlags(cmd, &f.kubeadm, &f.manifest)
}

// applyKubeadm fills the connection settings from this node's manifest
// with --kubeadm (kubeadmFlags.apply), whose runtime is the static-pod
// one unless --runtime says otherwise.
func (f *applyFlags) applyKubeadm(cmd *cobra.Command, g *globals, sandbox string) (*kubeadmNode, error) {
	node, err := f.kubeadm.apply(cmd, g, sandbox)
	if node != nil && f.runtime == "" {
		f.runtime = "static-pod"
	}
	return node, err
}

// sshArgs turns --ssh-option values ("-i=KEY", "-oX=y") into arguments.
func sshArgs(opts []string) []string {
	var out []string
	for _, o := range opts {
		if k, v, ok := strings.Cut(o, "="); ok && len(k) == 2 && k[0] == '-' {
			out = append(out, k, v)
			continue
		}
		out = append(out, o)
	}
	return out
}

// journalFor is a real cluster's journal: <state-dir>/upgrades/<cluster-id>.json.
func journalFor(g *globals, ml *clientv3.MemberListResponse) string {
	return filepath.Join(g.root(), "upgrades", fmt.Sprintf("%x.json", ml.Header.ClusterId))
}

// hosts maps member names to the hosts of their peer URLs, for {host}.
func hosts(ml *clientv3.MemberListResponse) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range ml.Members {
		if len(m.PeerURLs) == 0 {
			continue
		}
		u, err := url.Parse(m.PeerURLs[0])
		if err != nil {
			return nil, fmt.Errorf("member %s peer URL %q: %w", m.Name, m.PeerURLs[0], err)
		}
		out[m.Name] = u.Hostname()
	}
	return out, nil
}

// runE runs a change with the options the flags give and prints its
// report; a change with a kind needs --to (or --resume to continue one).
func (f *applyFlags) runE(g *globals, kind string, change func(context.Context, upgrade.Options) (*upgrade.Report, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if kind != "" && f.to == "" && !f.resume {
			return fmt.Errorf("say where to: --to VERSION (or --resume to continue an unfinished %s)", kind)
		}
		o, err := f.options(cmd, g)
		if o.Session != nil {
			defer o.Session.Close()
		}
		if err != nil {
			return err
		}
		r, err := change(cmd.Context(), o)
		if errors.Is(err, upgrade.ErrNothingToCancel) {
			msg := err.Error()
			if err == upgrade.ErrNothingToCancel {
				msg += ": no downgrade is enabled and every member runs its version"
			}
			return g.print(cmd, printer.Value{Name: "result", Value: msg})
		}
		return printReport(cmd, g, r, err)
	}
}

// printReport prints the report (also after a failure) and maps the error
// to the exit code: 1 for a refused plan, 2 for a failed upgrade.
func printReport(cmd *cobra.Command, g *globals, r *upgrade.Report, err error) error {
	if r != nil {
		if err := g.print(cmd, r); err != nil {
			return err
		}
	}
	if errors.Is(err, upgrade.ErrBlocked) {
		return &exitError{code: 1, err: err}
	}
	if errors.Is(err, upgrade.ErrNothingToDo) {
		return g.print(cmd, printer.Value{Name: "result", Value: err.Error() + "; nothing was changed"})
	}
	return err
}

func newUpgradeApplyCmd(g *globals) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply --to VERSION",
		Short: "Upgrade a cluster member by member: snapshot, followers first, leader hand-off, gates, journal, rollback",
		Long: `Upgrade a running cluster to a version, hop by hop along the plan's path.

Steps: the plan (refused on blockers), a verified snapshot, then per hop each
follower and finally the leader (after moving leadership to an upgraded,
caught-up member): graceful stop, start on the new binary with the same data
directory and flags, then gates before the next member — the member is healthy
on the new version, its applied index within --max-lag of the leader's, no
alarms, and HashKV agreeing across members. For a minor hop the cluster
version must move at the end.

Every step is journaled with fsync. Running the command again (or --resume)
re-reads the cluster and carries on; finished steps are skipped. A member that
fails its gates within --gate-timeout goes back to its old binary and the
upgrade stops; if another member fails, the upgrade stops where it is.

Exit status: 0 upgraded, 1 refused (blockers), 2 failed or rolled back.`,
		Example: `  etcdpilot upgrade apply --sandbox demo --to 3.6.17
  etcdpilot upgrade apply --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379 \
    --cacert ca.crt --cert client.crt --key client.key --to 3.6.17 --runtime command \
    --install-cmd 'ssh {host} sudo install-etcd {version}' \
    --stop-cmd 'ssh {host} sudo systemctl stop etcd' --start-cmd 'ssh {host} sudo systemctl start etcd'`,
		Args: cobra.NoArgs,
		RunE: f.runE(g, "upgrade", upgrade.Apply),
	}
	f.register(cmd, true)
	return cmd
}

func newUpgradeRollbackCmd(g *globals) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return a mixed cluster to the versions the upgrade journal recorded before the upgrade",
		Long: `Restart every member that runs a newer version than before the upgrade on its
old binary, followers first, leader last after a hand-off, with the same gates
as apply. Refused once the cluster version has moved to the new minor: then
only etcd's downgrade API (3.6+) or a snapshot restore goes back.`,
		Args: cobra.NoArgs,
		RunE: f.runE(g, "", upgrade.Rollback),
	}
	f.register(cmd, false)
	return cmd
}

func newUpgradeStatusCmd(g *globals) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the upgrade journal: every step, its outcome and time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := journalPath(g, f.sandbox, f.journal)
			if err != nil {
				return err
			}
			j, err := engine.LoadJournal(path)
			if err != nil {
				return fmt.Errorf("no upgrade journal: %w", err)
			}
			return g.print(cmd, j)
		},
	}
	addSandboxFlag(cmd, &f.sandbox)
	cmd.Flags().StringVar(&f.journal, "journal", "", "upgrade journal file")
	return cmd
}

func newUpgradeAbandonCmd(g *globals) *cobra.Command {
	var sb, journal, reason string
	cmd := &cobra.Command{
		Use:   "abandon --reason TEXT",
		Short: "Give up an unfinished upgrade (its journal is kept, marked abandoned, with the reason) so that a new one may start",
		Long: `Mark the unfinished upgrade in the journal as abandoned, recording --reason.
Nothing in the cluster changes: look at it first (etcdpilot status) and
bring members back by hand where the journal shows a step that did not end.
A journal that cannot be read is moved aside (FILE.corrupt-TIME).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := journalPath(g, sb, journal)
			if err != nil {
				return err
			}
			j, aside, err := engine.Abandon(path, reason)
			if err != nil {
				return err
			}
			if aside != "" {
				g.log.Info(fmt.Sprintf("the journal could not be read; it was moved to %s", aside))
				return nil
			}
			return g.print(cmd, j)
		},
	}
	addSandboxFlag(cmd, &sb)
	cmd.Flags().StringVar(&journal, "journal", "", "upgrade journal file")
	cmd.Flags().StringVar(&reason, "reason", "", "why the upgrade is given up (recorded in the journal)")
	return cmd
}

// journalPath is the journal of --journal, or of the sandbox.
func journalPath(g *globals, sb, journal string) (string, error) {
	if journal != "" {
		return journal, nil
	}
	if sb == "" {
		return "", fmt.Errorf("say which journal: --sandbox NAME or --journal FILE")
	}
	s, err := g.openSandbox(sb, io.Discard)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, "upgrade-journal.json"), nil
}
