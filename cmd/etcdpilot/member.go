package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/member"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newMemberCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Membership changes that stay correct under ambiguous errors: list, add (learner-first), promote, remove, replace, move",
	}
	cmd.AddCommand(newMemberListCmd(g), newMemberAddCmd(g), newMemberPromoteCmd(g), newMemberRemoveCmd(g), newMemberReplaceCmd(g), newMemberMoveCmd(g))
	return cmd
}

// memberFlags are shared by the member commands.
type memberFlags struct {
	t       target.Flags
	force   bool
	timeout time.Duration
}

func (f *memberFlags) register(cmd *cobra.Command, force bool) {
	f.t.Register(cmd.Flags(), target.Naming|target.Runtimes)
	cmd.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to keep retrying before giving up")
	positive(cmd, "timeout")
	if force {
		cmd.Flags().BoolVar(&f.force, "force", false, "override the health and quorum checks (prints a warning)")
	}
}

// options opens the session (the caller closes it) and the runtime that
// provisions new members: the sandbox, or kubeadm's static pods (a member
// re-created on its node from its manifest).
func (f *memberFlags) options(cmd *cobra.Command, g *globals) (member.Options, runtime.Provisioner, error) {
	need := target.Connect
	if f.t.Kubeadm || f.t.Runtime != "" {
		need = target.Restart
	}
	t, err := g.open(cmd, f.t, need)
	if err != nil {
		return member.Options{}, nil, err
	}
	o := member.Options{Session: t.Session, Force: f.force, Timeout: f.timeout}
	if cat, err := g.catalog(); err == nil {
		o.Catalog = cat
	}
	switch rt := t.Runtime.(type) {
	case nil:
		return o, nil, nil
	case *staticpod.Runtime:
		return o, staticpod.Nodes{Runtime: rt}, nil
	case runtime.Provisioner:
		return o, rt, nil
	}
	t.Close()
	return o, nil, fmt.Errorf("--runtime %s cannot provision members: use --sandbox NAME, or --kubeadm (static pods)", f.t.Runtime)
}

func newMemberListCmd(g *globals) *cobra.Command {
	var f memberFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the members: learners marked, started or not",
		Example: `  etcdpilot member list --sandbox demo
  etcdpilot member list --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key -w simple`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, _, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			defer o.Session.Close()
			l, err := member.Get(cmd.Context(), o.Session)
			if err != nil {
				return err
			}
			return g.print(cmd, l)
		},
	}
	f.register(cmd, false)
	return cmd
}

func join(s []string) string { return strings.Join(s, ",") }

func newMemberAddCmd(g *globals) *cobra.Command {
	var f memberFlags
	var peerURLs []string
	var voter bool
	var maxLearners int
	var ver string
	cmd := &cobra.Command{
		Use:   "add NAME --peer-urls URL[,URL]",
		Short: "Add a member, as a learner unless --voter; safe to run again",
		Long: `Add a member. The member list is checked first: if the peer URL is already a
member, that member is printed and nothing changes (exit 0). An unhealthy
cluster is refused, and so is a voter that would raise quorum beyond the
members healthy now (--force overrides, with a warning). When etcd's answer is
lost (context deadline exceeded, Unavailable, a dropped connection) the member
list tells whether the add happened before anything is retried; etcd's
transient refusals ("unhealthy cluster": members must have been connected for
5 s) are retried with backoff. Prints the --initial-cluster and
--initial-cluster-state the new member must start with.

With --sandbox the sandbox reserves ports and a data directory (no
--peer-urls) and starts the new member's process.`,
		Example: `  etcdpilot member add m4 --sandbox default            # learner, started
  etcdpilot member promote m4 --sandbox default
  etcdpilot member add etcd-4 --peer-urls https://10.0.0.4:2380 --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert c.crt --key c.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, sb, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			defer o.Session.Close()
			ao := member.AddOptions{Options: o, Name: args[0], PeerURLs: peerURLs, Voter: voter, MaxLearners: maxLearners}
			var res *member.AddResult
			if sb != nil {
				if len(peerURLs) > 0 {
					return fmt.Errorf("--peer-urls is chosen by the sandbox; drop it")
				}
				res, err = member.AddProvisioned(cmd.Context(), sb, ver, ao)
			} else {
				res, err = member.Add(cmd.Context(), ao)
			}
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("added %s as a %s (ID %s, peer URLs %s)", args[0], kindOf(res.Member.IsLearner), res.Member.ID, join(res.Member.PeerURLs))
			if res.AlreadyPresent {
				msg = fmt.Sprintf("%s is already a member (%s, ID %s, peer URLs %s); nothing changed", args[0], kindOf(res.Member.IsLearner), res.Member.ID, join(res.Member.PeerURLs))
			}
			msg += fmt.Sprintf("\n\nstart it with:\n  --name=%s --initial-cluster=%s --initial-cluster-state=%s", args[0], res.InitialCluster, res.InitialClusterState)
			if sb != nil {
				msg += "\n(the sandbox started it)"
			}
			if res.Member.IsLearner {
				msg += fmt.Sprintf("\nthen, once it has caught up: etcdpilot member promote %s", args[0])
			}
			return g.print(cmd, res)
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringSliceVar(&peerURLs, "peer-urls", nil, "the new member's peer URLs")
	cmd.Flags().BoolVar(&voter, "voter", false, "add a voting member directly (skips learner-first)")
	cmd.Flags().IntVar(&maxLearners, "max-learners", 1, "the cluster's --max-learners")
	cmd.Flags().StringVar(&ver, "version", "", "sandbox: etcd version of the new member (default: the first member's)")
	return cmd
}

func kindOf(learner bool) string {
	if learner {
		return "learner"
	}
	return "voting member"
}

func newMemberPromoteCmd(g *globals) *cobra.Command {
	var f memberFlags
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "promote NAME|ID",
		Short: "Promote a learner, waiting (with backoff) until it has caught up; a voter already is fine",
		Example: `  etcdpilot member promote m4 --sandbox demo
  etcdpilot member promote 8e9e05c52164694d --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, _, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			defer o.Session.Close()
			res, err := member.Promote(cmd.Context(), o, args[0], wait)
			if err != nil {
				return err
			}
			return g.print(cmd, res)
		},
	}
	f.register(cmd, false)
	cmd.ValidArgsFunction = g.completeMembers(&f.t)
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the learner to catch up")
	positive(cmd, "wait")
	return cmd
}

func newMemberRemoveCmd(g *globals) *cobra.Command {
	var f memberFlags
	cmd := &cobra.Command{
		Use:   "remove NAME|ID",
		Short: "Remove a member (a leader hands off first); absent is fine; refused when it would lose quorum",
		Example: `  etcdpilot member remove m3 --sandbox demo
  etcdpilot member remove node-3 --kubeadm`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, sb, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			defer o.Session.Close()
			var res *member.Result
			if sb != nil {
				res, err = member.RemoveProvisioned(cmd.Context(), sb, o, args[0])
			} else {
				res, err = member.Remove(cmd.Context(), o, args[0])
			}
			if err != nil {
				return err
			}
			return g.print(cmd, res)
		},
	}
	f.register(cmd, true)
	cmd.ValidArgsFunction = g.completeMembers(&f.t)
	return cmd
}

func newMemberReplaceCmd(g *globals) *cobra.Command {
	var f memberFlags
	var peerURLs []string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "replace NAME [--peer-urls URL]",
		Short: "Replace a dead member: remove it, add the replacement as a learner, start it (sandbox), promote it",
		Example: `  etcdpilot member replace m2 --sandbox demo
  etcdpilot member replace node-2 --peer-urls https://10.0.0.12:2380 --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key`,
		Long: `Replace a dead member. The member is removed (quorum-checked), a member of
the same name is added as a learner with a fresh data directory, and promoted
once it has caught up (--wait). With --sandbox the replacement's process is
started; on real hosts start it yourself with the printed flags while promote
waits.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, sb, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			defer o.Session.Close()
			if err := member.CheckReplaceable(cmd.Context(), o, args[0]); err != nil {
				return err
			}
			if sb != nil {
				res, err := member.ReplaceProvisioned(cmd.Context(), sb, "", o, args[0], wait)
				if err != nil {
					return err
				}
				return g.print(cmd, res)
			}
			if err := member.ValidateURLs(peerURLs); err != nil {
				return err
			}
			if _, err := member.Remove(cmd.Context(), o, args[0]); err != nil {
				return err
			}
			add, err := member.Add(cmd.Context(), member.AddOptions{Options: o, Name: args[0], PeerURLs: peerURLs})
			if err != nil {
				return fmt.Errorf("removed %s, but adding the replacement failed: %w", args[0], err)
			}
			g.log.Info("added {member} as a learner; start it now with an empty data directory and:\n  --name={member} --initial-cluster={initialCluster} --initial-cluster-state=existing\nwaiting up to {wait} for it to catch up ...", "member", args[0], "initialCluster", add.InitialCluster, "wait", wait)
			res, err := member.Promote(cmd.Context(), o, args[0], wait)
			if err != nil {
				return err
			}
			return g.print(cmd, res)
		},
	}
	f.register(cmd, true)
	cmd.ValidArgsFunction = g.completeMembers(&f.t)
	cmd.Flags().StringSliceVar(&peerURLs, "peer-urls", nil, "the replacement's peer URLs (not with --sandbox)")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the replacement to catch up")
	positive(cmd, "wait")
	return cmd
}

func newMemberMoveCmd(g *globals) *cobra.Command {
	var f memberFlags
	var to string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "move NAME --to NEW",
		Short:   "Exchange a live member 1:1: add NEW as a learner, promote it, then remove NAME (a leader hands off first); the quorum holds at every step",
		Example: `  etcdpilot member move m1 --to m4 --sandbox demo`,
		Long: `Move a live member to a new one (another host, a new disk): NEW is added as a
learner with a fresh data directory, started and promoted once it has caught
up, then NAME is removed (leadership handed off first when it leads) and its
data directory moved aside. The cluster keeps its quorum at every step and
changes leader at most once. Run again after a failure: what is done is
skipped. Needs --sandbox (a runtime that provisions members).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("name the new member: --to NEW")
			}
			o, sb, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			defer o.Session.Close()
			if sb == nil {
				return fmt.Errorf("member move provisions the new member: give --sandbox NAME (on real hosts: member add NEW, start it, member promote NEW, member remove %s)", args[0])
			}
			res, err := member.MoveProvisioned(cmd.Context(), sb, "", o, args[0], to, wait)
			if err != nil {
				return err
			}
			return g.print(cmd, res)
		},
	}
	f.register(cmd, false)
	cmd.ValidArgsFunction = g.completeMembers(&f.t)
	cmd.Flags().StringVar(&to, "to", "", "the new member's name")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the new member to catch up")
	positive(cmd, "wait")
	return cmd
}
