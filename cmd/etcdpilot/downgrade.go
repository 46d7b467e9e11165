package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/target"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func newDowngradeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "downgrade",
		Short: "Plan, run and cancel etcd downgrades with etcd's downgrade API (3.6+)",
	}
	cmd.AddCommand(newDowngradePlanCmd(g), newDowngradeApplyCmd(g), newDowngradeCancelCmd(g))
	return cmd
}

func newDowngradePlanCmd(g *globals) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --to VERSION",
		Short: "Show whether and how the cluster can go back to a version, with reasons",
		Long: `Plan a downgrade against a live cluster (--endpoints, --sandbox) or offline
(--from VERSION). etcd downgrades one minor at a time with its downgrade API
(3.6 → 3.5, 3.7 → 3.6); a patch downgrade within a minor is a rolling
restart. Anything else is refused with the way back (a snapshot restore).

Exit status: 0 when the downgrade can run, 1 when it is refused, 2 on error.`,
		Example: `  etcdpilot downgrade plan --sandbox default --to 3.5
  etcdpilot downgrade plan --from 3.7.3 --to 3.6.17`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := makePlan(cmd, g, f)
			if err != nil {
				return err
			}
			if p.Direction != "downgrade" {
				return fmt.Errorf("%s is not older than the cluster: that is an upgrade (etcdpilot upgrade plan --to %s)", p.Target, f.to)
			}
			if err := upgrade.CheckDowngrade(planCluster(p), p.Target, false); err != nil && !p.Blocked() {
				p.Blockers = append(p.Blockers, plan.Finding{Code: "downgrade-refused", Message: err.Error(), Reason: "etcdpilot downgrade apply would refuse it"})
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
	cmd.Flags().StringVar(&f.to, "to", "", "target: a version (3.5.36) or a minor (3.5: its latest patch)")
	cmd.Flags().StringSliceVar(&f.from, "from", nil, "plan offline from these member versions (3.6.17 or 3.6.17,3.6.17,3.6.17)")
	f.t.Register(cmd.Flags(), target.Naming)
	cmd.MarkFlagRequired("to")
	return cmd
}

// planCluster is the status a plan saw, for the downgrade checks.
func planCluster(p *plan.Plan) *status.Cluster {
	cl := &status.Cluster{Health: status.Healthy, ClusterVersion: p.Current.ClusterVersion, Downgrade: p.Current.Downgrade}
	for _, m := range p.Current.Members {
		cl.Members = append(cl.Members, status.Member{Name: m.Name, ServerVersion: m.Version, Reachable: m.Reachable, IsLearner: m.IsLearner})
		if !m.IsLearner {
			cl.Voters++
			if m.Reachable {
				cl.ReachableVoters++
			}
		}
	}
	if cl.ReachableVoters < cl.Voters {
		cl.Health = status.Degraded
	}
	return cl
}

func newDowngradeApplyCmd(g *globals) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply --to VERSION",
		Short: "Downgrade a cluster one minor with etcd's downgrade API: snapshot, enable, storage version, members one at a time, leader last",
		Long: `Downgrade a healthy cluster to the previous minor (3.6 → 3.5, 3.7 → 3.6) with
etcd's downgrade API, or to an older patch of its minor.

Steps: a verified snapshot; downgrade validate, then enable (its reply can be
lost, so the members' downgrade status decides); wait until every member's
storage version reaches the target; restart the members on the target binary
one at a time, followers first and the leader last after one hand-off, each
held at the upgrade's gates; then the cluster version must read the target
and the downgrade be over. Every step is journaled with fsync: --resume (or
the same command) carries on after a crash. While a member still runs the
newer version, etcdpilot downgrade cancel undoes it.

Refused, with the way back (a snapshot restore): more than one minor, a
target below 3.5, a 3.5 cluster (no downgrade API).

Exit status: 0 downgraded, 2 refused or failed.`,
		Example: `  etcdpilot downgrade apply --sandbox demo --to 3.5
  etcdpilot downgrade apply --sandbox demo --resume`,
		Args: cobra.NoArgs,
		RunE: f.runE(g, "downgrade", upgrade.Downgrade),
	}
	f.register(cmd, true)
	return cmd
}

func newDowngradeCancelCmd(g *globals) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "cancel",
		Short: "Undo a downgrade while the cluster is mixed: cancel it in etcd, restart the downgraded members on the newer binary",
		Example: `  etcdpilot downgrade cancel --sandbox demo
  etcdpilot downgrade cancel --kubeadm --ssh root@{host}`,
		Long: `Cancel the downgrade in etcd (decided from the members' status), then restart
every member already moved down on the version the journal recorded before
the downgrade (without a journal: the newest version in the cluster), the
leader last after a hand-off, with the gates; the cluster version moves back
up at the end. With no downgrade enabled and no member moved: "nothing to
cancel", exit 0.`,
		Args: cobra.NoArgs,
		RunE: f.runE(g, "", upgrade.CancelDowngrade),
	}
	f.register(cmd, false)
	return cmd
}
