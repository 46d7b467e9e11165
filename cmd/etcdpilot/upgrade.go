package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/target"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func newUpgradeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Plan and run etcd upgrades",
	}
	cmd.AddCommand(newUpgradePlanCmd(g), newUpgradeApplyCmd(g), newUpgradeStatusCmd(g), newUpgradeRollbackCmd(g), newUpgradeAbandonCmd(g), newUpgradeRehearseCmd(g))
	return cmd
}

type planFlags struct {
	t              target.Flags
	to, kubernetes string
	from, configs  []string
	direct         bool
	window         time.Duration
}

func newUpgradePlanCmd(g *globals) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --to VERSION",
		Short: "Show the legal path to a version, the blockers and the warnings, with reasons",
		Long: `Plan an upgrade (or a downgrade) against a live cluster (--endpoints, --sandbox)
or offline (--from VERSION, or a comma-separated list for a mixed cluster).

Member configurations (--member-config, repeatable) are read from a kubeadm
static pod manifest, a systemd unit, an etcd YAML config file or a plain flag
list; flags the target no longer accepts are blockers. With --sandbox the
sandbox members' own flags are used.

Exit status: 0 without blockers, 1 with blockers, 2 on error.`,
		Example: `  etcdpilot upgrade plan --sandbox default --to 3.6
  etcdpilot upgrade plan --from 3.5.20 --to 3.6.17
  etcdpilot upgrade plan --from 3.5.36 --to 3.7.3 --member-config /etc/kubernetes/manifests/etcd.yaml --kubernetes 1.36`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := makePlan(cmd, g, f)
			if err != nil {
				return err
			}
			if err := g.print(cmd, p); err != nil {
				return err
			}
			if p.Blocked() {
				return quietNo
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.to, "to", "", "target: a version (3.6.17), a minor (3.6: its latest patch) or latest")
	cmd.Flags().StringSliceVar(&f.from, "from", nil, "plan offline from these member versions (3.5.36 or 3.5.36,3.5.36,3.6.17)")
	cmd.Flags().StringArrayVar(&f.configs, "member-config", nil, "member configuration file (repeatable): kubeadm manifest, systemd unit, etcd config file or flag list")
	cmd.Flags().StringVar(&f.kubernetes, "kubernetes", "", "Kubernetes version the cluster serves (1.34), for kubeadm's and kops' etcd")
	cmd.Flags().BoolVar(&f.direct, "direct", false, "judge a single jump straight to the target instead of planning a path")
	cmd.Flags().DurationVar(&f.window, "window", 0, "how long the change may take, for the certificate checks (default: the plan's estimate, 10m + 2m per member restart)")
	f.t.Register(cmd.Flags(), target.Naming)
	cmd.MarkFlagRequired("to")
	return cmd
}

// makePlan plans offline (--from) or against the live cluster, through
// the same gathering as the changes.
func makePlan(cmd *cobra.Command, g *globals, f planFlags) (*plan.Plan, error) {
	ctx := cmd.Context()
	cat, err := g.catalog()
	if err != nil {
		return nil, err
	}
	if _, err := cat.Resolve(f.to); err != nil {
		return nil, err
	}
	opts := plan.Options{Target: f.to, Kubernetes: f.kubernetes, Direct: f.direct, Window: f.window}
	if opts.Configs, err = loadConfigs(f.configs); err != nil {
		return nil, err
	}
	if len(f.from) > 0 {
		if f.t.Sandbox != "" || f.t.Kubeadm {
			return nil, fmt.Errorf("--from plans offline; drop --sandbox and --kubeadm, or drop --from to plan against the live cluster")
		}
		var vs []string
		for _, v := range f.from {
			vs = append(vs, strings.TrimSpace(v))
		}
		return upgrade.OfflinePlan(cat, vs, opts)
	}
	t, err := g.open(cmd, f.t, target.Connect)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if opts.Configs == nil {
		if opts.Configs, err = t.Configs(ctx); err != nil {
			return nil, err
		}
	}
	return upgrade.LivePlan(ctx, upgrade.Gathering{Session: t.Session, Runtime: t.Runtime, Catalog: cat, Options: opts,
		ScratchDir: filepath.Join(g.root(), "tmp"), Log: g.log})
}
