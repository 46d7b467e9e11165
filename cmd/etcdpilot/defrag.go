package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

// defragFlags are defrag's and space recover's.
type defragFlags struct {
	t                      target.Flags
	leader                 string
	ifFree, ifFragmented   string
	compact, force, resume bool
	dryRun                 bool
	keep                   int64
	gateTimeout, timeout   time.Duration
}

func (f *defragFlags) register(cmd *cobra.Command, space bool) {
	fs := cmd.Flags()
	f.t.Register(fs, target.Naming|target.Runtimes|target.Journal)
	fs.BoolVar(&f.resume, "resume", false, "continue the unfinished run in the journal")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing")
	fs.StringVar(&f.leader, "leader", defrag.LeaderHandOff, "the leader, defragmented last: hand-off (move leadership away first) or in-place")
	fs.Int64Var(&f.keep, "compact-keep", 0, "revisions the compaction keeps (0: compact up to the current revision)")
	fs.DurationVar(&f.gateTimeout, "gate-timeout", 60*time.Second, "how long a member may take to be back and caught up after its defragmentation")
	fs.DurationVar(&f.timeout, "defrag-timeout", 10*time.Minute, "how long one member's defragmentation may take (etcd blocks the member meanwhile)")
	positive(cmd, "gate-timeout", "defrag-timeout")
	if space {
		return
	}
	fs.StringVar(&f.ifFree, "if-free", "", "defragment only members with at least this much free space in their database, e.g. 200MiB")
	fs.StringVar(&f.ifFragmented, "if-fragmented", "", "defragment only members whose database is at least this fragmented, e.g. 45%")
	fs.BoolVar(&f.compact, "compact", false, "compact the keyspace first (keeping --compact-keep revisions)")
	fs.BoolVar(&f.force, "force", false, "defragment although a member runs a version with known defragmentation bugs")
}

func (f *defragFlags) options(cmd *cobra.Command, g *globals, space bool) (defrag.ApplyOptions, error) {
	o := defrag.ApplyOptions{Resume: f.resume, GateTimeout: f.gateTimeout, Timeout: f.timeout, Log: g.log}
	o.Compact, o.Keep, o.Leader, o.Force, o.Space = f.compact, f.keep, f.leader, f.force, space
	if o.Leader != defrag.LeaderHandOff && o.Leader != defrag.LeaderInPlace {
		return o, fmt.Errorf("--leader %q: use hand-off or in-place", o.Leader)
	}
	if o.Keep < 0 {
		return o, fmt.Errorf("--compact-keep %d: give a number of revisions, 0 or more", o.Keep)
	}
	var err error
	if f.ifFree != "" {
		if o.IfFree, err = defrag.ParseBytes(f.ifFree); err != nil {
			return o, fmt.Errorf("--if-free: %w", err)
		}
	}
	if f.ifFragmented != "" {
		if o.IfFragmented, err = defrag.Fragmentation(f.ifFragmented); err != nil {
			return o, fmt.Errorf("--if-fragmented: %w", err)
		}
	}
	if o.Catalog, err = g.catalog(); err != nil {
		return o, err
	}
	t, err := g.open(cmd, f.t, target.Connect)
	if err != nil {
		return o, err
	}
	o.Session, o.Runtime = t.Session, t.Runtime
	if o.JournalPath, err = t.Journal(cmd.Context()); err != nil {
		return o, err
	}
	return o, nil
}

func (f *defragFlags) run(g *globals, space bool) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		o, err := f.options(cmd, g, space)
		if o.Session != nil {
			defer o.Session.Close()
		}
		if err != nil {
			return err
		}
		if f.dryRun {
			p, err := defrag.MakePlan(cmd.Context(), o.Options)
			if err != nil {
				return err
			}
			return g.printPlan(cmd, p, p.Refusal)
		}
		r, err := defrag.Apply(cmd.Context(), o)
		if r != nil {
			if perr := g.print(cmd, r); perr != nil {
				return perr
			}
		}
		return err
	}
}

func newDefragCmd(g *globals) *cobra.Command {
	var f defragFlags
	cmd := &cobra.Command{
		Use:   "defrag",
		Short: "Defragment the members one at a time, the leader last, where thresholds say it pays",
		Long: `Check that the cluster is healthy and every member answers; compact first
if asked (--compact, keeping --compact-keep revisions); apply the
thresholds (--if-free, --if-fragmented: a member must meet every one set)
and skip the members under them, with the reason. Then defragment the
chosen members one at a time, followers first, each back, caught up with
the leader and its hash agreeing before the next; the leader last, after a
hand-off by default (--leader in-place keeps it). Refused on versions with
known defragmentation bugs (--force), and with alarms raised (NOSPACE:
etcdpilot space recover). Journaled like an upgrade: --resume carries on.

Exit status: 0 done (or nothing to do), 1 refused by --dry-run's plan, 2
refused or failed.`,
		Example: `  etcdpilot defrag --sandbox default --if-fragmented 45% --if-free 200MiB
  etcdpilot defrag --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert c.crt --key c.key --compact --dry-run`,
		Args: cobra.NoArgs,
		RunE: f.run(g, false),
	}
	f.register(cmd, false)
	return cmd
}

func newSpaceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "space", Short: "Recover from the NOSPACE alarm"}
	var f defragFlags
	recover := &cobra.Command{
		Use:   "recover",
		Short: "Compact, defragment every member, disarm NOSPACE, check that writes are accepted",
		Example: `  etcdpilot space recover --sandbox demo --dry-run
  etcdpilot space recover --kubeadm --ssh root@{host}`,
		Long: `etcd's way out of the NOSPACE alarm (the database reached
--quota-backend-bytes; the cluster serves only reads and deletes): compact
the keyspace (keeping --compact-keep revisions), defragment every member one
at a time (the leader last), disarm the NOSPACE alarms (never another kind),
then write and delete a key to check that writes are accepted. If the data
itself does not fit, the write fails again: delete keys, or raise the quota.

Exit status: 0 recovered, 2 refused or failed.`,
		Args: cobra.NoArgs,
		RunE: f.run(g, true),
	}
	f.register(recover, true)
	cmd.AddCommand(recover)
	return cmd
}

func newAlarmCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "alarm", Short: "List and disarm etcd's alarms (NOSPACE, CORRUPT)"}
	var t target.Flags
	var force bool
	run := func(disarm bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			tg, err := g.open(cmd, t, target.Connect)
			if err != nil {
				return err
			}
			defer tg.Close()
			alarms, err := defrag.Alarms(cmd.Context(), tg.Session, disarm, force)
			if err != nil {
				return err
			}
			return g.print(cmd, alarms)
		}
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the raised alarms and the members they are raised on",
		Example: `  etcdpilot alarm list --sandbox demo
  etcdpilot alarm list --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key -w json`,
		Args: cobra.NoArgs,
		RunE: run(false),
	}
	t.Register(list.Flags(), target.Naming)
	disarm := &cobra.Command{
		Use:   "disarm",
		Short: "Disarm the raised alarms (CORRUPT only with --force)",
		Example: `  etcdpilot alarm disarm --sandbox demo
  etcdpilot alarm disarm --kubeadm --force   # CORRUPT too: only after the corrupt member was replaced`,
		Long: `Disarm every raised alarm, as etcdctl alarm disarm does, except CORRUPT:
a corruption alarm means members disagree on their data; disarming it hides
that (--force does it anyway; without it nothing is disarmed). A NOSPACE
alarm disarmed while the database is still over its quota is raised again
at the next write: etcdpilot space recover compacts and defragments first.`,
		Args: cobra.NoArgs,
		RunE: run(true),
	}
	t.Register(disarm.Flags(), target.Naming)
	disarm.Flags().BoolVar(&force, "force", false, "disarm CORRUPT alarms too")
	cmd.AddCommand(list, disarm)
	return cmd
}
