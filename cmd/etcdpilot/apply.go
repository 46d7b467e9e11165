package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/target"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

// applyFlags are the flags of upgrade apply, rollback and status.
type applyFlags struct {
	t                                     target.Flags
	to, snapshotDir, kubernetes           string
	configs                               []string
	resume, skipSnapshot, probe, noWALFix bool
	gateTimeout                           time.Duration
	maxLag                                uint64
}

func (f *applyFlags) register(cmd *cobra.Command, apply bool) {
	fs := cmd.Flags()
	f.t.Register(fs, target.Naming|target.Runtimes|target.Journal)
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
// journal of the target. The caller closes the session.
func (f *applyFlags) options(cmd *cobra.Command, g *globals) (upgrade.Options, error) {
	ctx := cmd.Context()
	cat, err := g.catalog()
	if err != nil {
		return upgrade.Options{}, err
	}
	o := upgrade.Options{
		Target: f.to, Catalog: cat, Resume: f.resume, SkipSnapshot: f.skipSnapshot,
		Kubernetes: f.kubernetes, GateTimeout: f.gateTimeout, MaxLag: f.maxLag, Log: g.log,
		Probe: f.probe, NoWALFix: f.noWALFix,
	}
	if o.Configs, err = loadConfigs(f.configs); err != nil {
		return o, err
	}
	t, err := g.open(cmd, f.t, target.Restart)
	if err != nil {
		return o, err
	}
	o.Session, o.Runtime = t.Session, t.Runtime
	if o.JournalPath, err = t.Journal(ctx); err != nil {
		return o, err
	}
	if t.Sandbox != nil && !cmd.Flags().Changed("probe") {
		o.Probe = true
	}
	if o.Configs == nil {
		if o.Configs, err = t.Configs(ctx); err != nil {
			return o, err
		}
	}
	dest := f.snapshotDir
	if dest == "" {
		dest = filepath.Dir(o.JournalPath)
	}
	o.Snapshots = snapshot.PreChange{Dest: dest, Version: Version, Log: g.log, Stores: g.stores}
	return o, nil
}

// loadConfigs reads --member-config files.
func loadConfigs(files []string) ([]*memberconfig.Config, error) {
	var out []*memberconfig.Config
	for _, file := range files {
		c, err := memberconfig.Load(file)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
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
		Example: `  etcdpilot upgrade rollback --sandbox demo
  etcdpilot upgrade rollback --kubeadm --ssh root@{host}`,
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
	var t target.Flags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the upgrade journal: every step, its outcome and time",
		Example: `  etcdpilot upgrade status --sandbox default
  etcdpilot upgrade status --kubeadm
  etcdpilot upgrade status --journal /var/lib/etcdpilot/upgrades/8e9e05c52164694d.json -w json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := target.JournalOnly(cmd.Context(), t, g.targetEnv(cmd))
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
	t.Register(cmd.Flags(), target.Naming|target.Journal)
	return cmd
}

func newUpgradeAbandonCmd(g *globals) *cobra.Command {
	var t target.Flags
	var reason string
	cmd := &cobra.Command{
		Use:   "abandon --reason TEXT",
		Short: "Give up an unfinished upgrade (its journal is kept, marked abandoned, with the reason) so that a new one may start",
		Long: `Mark the unfinished upgrade in the journal as abandoned, recording --reason.
Nothing in the cluster changes: look at it first (etcdpilot status) and
bring members back by hand where the journal shows a step that did not end.
A journal that cannot be read is moved aside (FILE.corrupt-TIME).`,
		Example: `  etcdpilot upgrade abandon --sandbox default --reason 'members put back by hand'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := target.JournalOnly(cmd.Context(), t, g.targetEnv(cmd))
			if err != nil {
				return err
			}
			j, aside, err := engine.Abandon(path, reason)
			if err != nil {
				return err
			}
			if aside != "" {
				g.log.Info("the journal could not be read; it was moved to {file}", "file", aside)
				return nil
			}
			return g.print(cmd, j)
		},
	}
	t.Register(cmd.Flags(), target.Naming|target.Journal)
	cmd.Flags().StringVar(&reason, "reason", "", "why the upgrade is given up (recorded in the journal)")
	return cmd
}
