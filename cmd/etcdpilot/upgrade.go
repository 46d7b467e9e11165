package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
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
	to, sandbox, kubernetes string
	from, configs           []string
	direct                  bool
	window                  time.Duration
	kubeadm                 kubeadmFlags
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
			node, err := f.kubeadm.apply(cmd, g, f.sandbox)
			if err != nil {
				return err
			}
			p, err := makePlan(cmd.Context(), g, f, node)
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
	addSandboxFlag(cmd, &f.sandbox)
	addKubeadmFlags(cmd, &f.kubeadm, nil)
	cmd.MarkFlagRequired("to")
	return cmd
}

// makePlan gathers the current state (live or offline) and plans.
func makePlan(ctx context.Context, g *globals, f planFlags, node *kubeadmNode) (*plan.Plan, error) {
	cat, err := g.catalog()
	if err != nil {
		return nil, err
	}
	if _, err := cat.Resolve(f.to); err != nil {
		return nil, err
	}
	opts := plan.Options{Target: f.to, Kubernetes: f.kubernetes, Direct: f.direct, Window: f.window}
	for _, file := range f.configs {
		c, err := memberconfig.Load(file)
		if err != nil {
			return nil, err
		}
		opts.Configs = append(opts.Configs, c)
	}
	var rt runtime.Runtime
	if node != nil {
		rt = node.Runtime
		if opts.Configs == nil {
			opts.Configs = []*memberconfig.Config{node.Config}
		}
	}
	var cl plan.Cluster
	if len(f.from) > 0 {
		if f.sandbox != "" || node != nil {
			return nil, fmt.Errorf("--from plans offline; drop --sandbox and --kubeadm, or drop --from to plan against the live cluster")
		}
		for i, v := range f.from {
			name := fmt.Sprintf("member-%d", i+1)
			if i < len(opts.Configs) && opts.Configs[i].Name() != "" {
				name = opts.Configs[i].Name()
			}
			cl.Members = append(cl.Members, plan.Member{Name: name, Version: strings.TrimSpace(v), Reachable: true})
		}
	} else {
		s, err := g.session(f.sandbox)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		st, err := s.StatusWithHashes(ctx)
		if err != nil {
			return nil, err
		}
		cl = plan.FromStatus(ctx, s.Pool(), st)
		if target, _ := cat.Resolve(f.to); upgrade.NeedsMembershipCheck(st, target) {
			dir := filepath.Join(g.root(), "tmp")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			if opts.Membership, err = upgrade.Membership(ctx, s, st, dir, g.log); err != nil {
				return nil, fmt.Errorf("membership check before 3.6: %w", err)
			}
		}
		if f.sandbox != "" {
			sb, err := g.openSandbox(f.sandbox, nil)
			if err != nil {
				return nil, err
			}
			opts.V2WAL, opts.V2Custom = upgrade.WALState(ctx, sb, st)
			if len(opts.Configs) == 0 {
				if opts.Configs, err = sandboxConfigs(ctx, g, f.sandbox); err != nil {
					return nil, err
				}
			}
		}
		opts.Certificates = s.Certificates(ctx, st, opts.Configs, rt)
	}
	return plan.Make(cat, cl, opts)
}

// sandboxConfigs reads each sandbox member's command line as its config.
func sandboxConfigs(ctx context.Context, g *globals, name string) ([]*memberconfig.Config, error) {
	sb, err := g.openSandbox(name, nil)
	if err != nil {
		return nil, err
	}
	return runtimeConfigs(ctx, sb, "sandbox "+name+" member ")
}

// runtimeConfigs reads each member's flags from the runtime that runs it
// (a sandbox's command lines, static pods' manifests) as its config.
func runtimeConfigs(ctx context.Context, rt interface {
	runtime.Inspector
	runtime.Lister
}, label string) ([]*memberconfig.Config, error) {
	names, err := rt.Members(ctx)
	if err != nil {
		return nil, err
	}
	var out []*memberconfig.Config
	for _, n := range names {
		flags, err := rt.Flags(ctx, n)
		if err != nil {
			return nil, err
		}
		c, err := memberconfig.Parse(label+n, []byte(strings.Join(flags, "\n")))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
