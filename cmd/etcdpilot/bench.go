package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure etcdpilot against the plain tools on real clusters, side by side",
	}
	cmd.AddCommand(newBenchSnapshotCmd(g), newBenchUpgradeCmd(g), newBenchHandoffCmd(g), newBenchRemoveLeaderCmd(g), newBenchStatusCmd(g), newBenchScanCmd(g), newBenchDowngradeCmd(g), newBenchRecoverCmd(g), newBenchDefragCmd(g), newBenchDepsCmd(g), newBenchScaleCmd(g), newBenchPITRCmd(g))
	return cmd
}

func newBenchSnapshotCmd(g *globals) *cobra.Command {
	o := bench.SnapshotOptions{}
	var sizeMiB int64
	var store string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Fill a sandbox, then time etcdctl/etcdutl against etcdpilot's snapshot save and restore",
		Example: `  etcdpilot bench snapshot --size-mib 1024
  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... etcdpilot bench snapshot --s3 s3://bench/etcd/ --s3-endpoint http://127.0.0.1:7070 --s3-path-style`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Size = sizeMiB << 20
			o.Binaries = g.binaries(g.progress(cmd))
			o.Log, o.Progress, o.Stores = g.log, g.progress(cmd), g.stores
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root, o.Scratch = root, root
				if store != "" {
					return bench.SnapshotS3(cmd.Context(), o, store)
				}
				return bench.Snapshot(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&store, "s3", "", "instead, compare the client CPU of a save into this s3://BUCKET/PREFIX/ with a plain upload of the same bytes by aws-sdk-go-v2's transfer manager (AWS environment, --s3-endpoint)")
	cmd.Flags().StringVar(&store, "store", "", "")
	cmd.Flags().MarkDeprecated("store", "use --s3")
	cmd.Flags().StringVar(&o.Version, "version", sandbox.DefaultVersion, "etcd version")
	cmd.Flags().Int64Var(&sizeMiB, "size-mib", 1024, "database size to reach, MiB")
	cmd.Flags().IntVar(&o.Runs, "runs", 3, "runs of each side")
	positive(cmd, "size-mib", "runs")
	return cmd
}

func newBenchUpgradeCmd(g *globals) *cobra.Command {
	return newBenchRollingCmd(g, bench.UpgradeOptions{From: "3.5.36", To: "3.6.17"}, "upgrade",
		"Compare a naive rolling restart with upgrade apply under a write/read probe, on fresh sandboxes")
}

func newBenchDowngradeCmd(g *globals) *cobra.Command {
	return newBenchRollingCmd(g, bench.UpgradeOptions{From: "3.6.17", To: "3.5.36", Downgrade: true}, "downgrade",
		"Compare etcd's by-hand downgrade (validate, enable, restart in member order, move-leader) with downgrade apply under a write/read probe")
}

// newBenchRollingCmd is bench upgrade and bench downgrade: the same
// rolling change, by hand and with etcdpilot, under the probe.
func newBenchRollingCmd(g *globals, o bench.UpgradeOptions, change, short string) *cobra.Command {
	var rt string
	cmd := &cobra.Command{
		Use:   change,
		Short: short,
		Example: "  etcdpilot bench " + change + " --runs 10\n" +
			"  etcdpilot bench " + change + " --runtime static-pod --runs 3   # as root, after make kubernetes",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Catalog, err = g.catalog(); err != nil {
				return err
			}
			o.Binaries, o.Log = g.binaries(g.progress(cmd)), g.log
			switch rt {
			case "", "sandbox":
			case "static-pod":
				if o.Downgrade {
					return fmt.Errorf("--runtime static-pod benchmarks upgrades; bench downgrade runs on sandboxes")
				}
				if !cmd.Flags().Changed("runs") {
					o.Runs = 3
				}
				return runBench(cmd, g, func(root string) (any, error) {
					return bench.StaticPodUpgrade(cmd.Context(), o)
				})
			default:
				return fmt.Errorf("--runtime %q: sandbox or static-pod", rt)
			}
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Upgrade(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&rt, "runtime", "sandbox", "sandbox, or static-pod: kubeadm-style static pods on a real kubelet with a kube-apiserver (root, make kubernetes; naive in-place manifest edits against upgrade apply --runtime static-pod; 3 runs by default)")
	cmd.Flags().StringVar(&o.From, "from", o.From, "etcd version the sandboxes start on")
	cmd.Flags().StringVar(&o.To, "to", o.To, "etcd version to "+change+" to")
	cmd.Flags().IntVar(&o.Runs, "runs", 10, change+"s of each side")
	cmd.Flags().IntVar(&o.Keys, "keys", 2000, "1 KiB keys written before each "+change)
	positive(cmd, "runs")
	return cmd
}

func newBenchDefragCmd(g *globals) *cobra.Command {
	o := bench.DefragOptions{}
	cmd := &cobra.Command{
		Use:   "defrag",
		Short: "Write stalls of a rolling defragmentation under load: etcdctl defrag --cluster against etcdpilot defrag",
		Example: `  etcdpilot bench defrag --runs 3
  etcdpilot bench defrag --stop-serving=false --live-mib 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Catalog, err = g.catalog(); err != nil {
				return err
			}
			o.Binaries, o.Log = g.binaries(g.progress(cmd)), g.log
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Defrag(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", "3.6.17", "etcd version")
	cmd.Flags().IntVar(&o.Runs, "runs", 3, "defragmentations of each side")
	cmd.Flags().IntVar(&o.FreeMiB, "free-mib", 500, "MiB written and deleted before each run (free pages)")
	cmd.Flags().IntVar(&o.LiveMiB, "live-mib", 100, "MiB kept (what each member's defragmentation copies)")
	cmd.Flags().StringVar(&o.Leader, "leader", defrag.LeaderHandOff, "etcdpilot's leader policy: hand-off or in-place")
	cmd.Flags().BoolVar(&o.StopServing, "stop-serving", true, "members with StopGRPCServiceOnDefrag (etcd 3.6), the probe a client that follows gRPC health; false: members serve during their defragmentation")
	positive(cmd, "runs", "free-mib", "live-mib")
	return cmd
}

func newBenchRecoverCmd(g *globals) *cobra.Command {
	o := bench.RecoverOptions{}
	cmd := &cobra.Command{
		Use:     "recover",
		Short:   "Time to a healthy cluster after losing 2 of 3 members: etcd's guide by hand against recover apply",
		Example: `  etcdpilot bench recover --runs 10`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Binaries, o.Log = g.binaries(g.progress(cmd)), g.log
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Recover(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", "3.6.17", "etcd version")
	cmd.Flags().IntVar(&o.Runs, "runs", 10, "recoveries of each side")
	cmd.Flags().IntVar(&o.Keys, "keys", 1000, "keys written before the loss")
	positive(cmd, "runs")
	return cmd
}

func newBenchHandoffCmd(g *globals) *cobra.Command {
	o := bench.HandoffOptions{}
	cmd := &cobra.Command{
		Use:     "handoff",
		Short:   "Move leadership around a loaded sandbox and measure, from etcd's own logs, how many writes each transfer hangs",
		Example: `  etcdpilot bench handoff --handoffs 40 --rate 200`,
		Long: `Move leadership around a loaded 3-member sandbox the way upgrade apply
hands off before the leader restarts. While leadership moves, the old
leader drops proposals: those sent to it directly fail at once ("raft
proposal dropped", safe to resend), but those a follower forwarded fail
only after etcd's request timeout (7 s). This measures the window from the
members' logs and how often a hand-off catches a write at the given rate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Binaries = g.binaries(g.progress(cmd))
			o.Log = g.log
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Handoffs(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", sandbox.DefaultVersion, "etcd version")
	cmd.Flags().IntVar(&o.Handoffs, "handoffs", 40, "leader hand-offs")
	cmd.Flags().IntVar(&o.Rate, "rate", 200, "writes per second, spread over the members")
	positive(cmd, "handoffs", "rate")
	return cmd
}

func newBenchRemoveLeaderCmd(g *globals) *cobra.Command {
	o := bench.RemoveLeaderOptions{}
	cmd := &cobra.Command{
		Use:     "remove-leader",
		Short:   "Remove the leader of a loaded sandbox and add it back, etcdctl member remove beside etcdpilot's: leader changes and write stalls",
		Example: `  etcdpilot bench remove-leader --runs 10`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Binaries, o.Log = g.binaries(g.progress(cmd)), g.log
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.RemoveLeader(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", sandbox.DefaultVersion, "etcd version")
	cmd.Flags().IntVar(&o.Runs, "runs", 10, "removals of each side")
	positive(cmd, "runs")
	return cmd
}

func newBenchStatusCmd(g *globals) *cobra.Command {
	o := bench.StatusOptions{}
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Time etcdpilot status against etcdctl endpoint status, health and hashkv --cluster on a loaded sandbox",
		Example: `  etcdpilot bench status --members 5`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binaries, o.Log, o.Etcdpilot = g.binaries(g.progress(cmd)), g.log, self
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Status(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", sandbox.DefaultVersion, "etcd version")
	cmd.Flags().IntVar(&o.Members, "members", 5, "members of the sandbox")
	cmd.Flags().IntVar(&o.Runs, "runs", 10, "runs of each side")
	positive(cmd, "runs", "members")
	return cmd
}

func newBenchScanCmd(g *globals) *cobra.Command {
	o := bench.ScanOptions{}
	cmd := &cobra.Command{
		Use:     "scan",
		Short:   "Time repo scan against ripgrep over one generated tree (50,000 files by default)",
		Example: `  etcdpilot bench scan --files 50000   # needs ripgrep (rg) on PATH`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Log, o.Etcdpilot = g.log, self
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Scan(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().IntVar(&o.Files, "files", 50000, "files in the generated tree")
	cmd.Flags().IntVar(&o.Runs, "runs", 10, "runs of each side")
	positive(cmd, "runs", "files")
	return cmd
}

// runBench runs a benchmark in a scratch directory and prints its result.
func runBench(cmd *cobra.Command, g *globals, fn func(root string) (any, error)) error {
	root, done, err := benchRoot()
	if err != nil {
		return err
	}
	defer done()
	r, err := fn(root)
	if err != nil {
		return err
	}
	return g.print(cmd, r)
}

// benchRoot is a scratch directory for a benchmark's sandboxes and files.
func benchRoot() (string, func(), error) {
	root, err := os.MkdirTemp("", "etcdpilot-bench-")
	if err != nil {
		return "", nil, err
	}
	return root, func() { os.RemoveAll(root) }, nil
}

func newBenchDepsCmd(g *globals) *cobra.Command {
	o := bench.DepsOptions{}
	cmd := &cobra.Command{
		Use:     "deps DIR --to VERSION",
		Short:   "Time deps check --to against the same move by hand: a copy, go get, go mod tidy",
		Example: `  etcdpilot bench deps ~/src/myservice --to 3.6.17 --runs 5`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.To == "" {
				return fmt.Errorf("bench deps needs --to VERSION")
			}
			var err error
			if o.Catalog, err = g.catalog(); err != nil {
				return err
			}
			o.Dir, o.Log = args[0], g.log
			r, err := bench.Deps(cmd.Context(), o)
			if err != nil {
				return err
			}
			return g.print(cmd, r)
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "etcd release to move the module to")
	cmd.Flags().IntVar(&o.Runs, "runs", 5, "runs of each side")
	positive(cmd, "runs")
	return cmd
}

func newBenchPITRCmd(g *globals) *cobra.Command {
	o := bench.PITROptions{}
	var baseSize, valueSize string
	cmd := &cobra.Command{
		Use:   "pitr",
		Short: "Continuous backup beside the hourly job: write latency with and without it, the recovery point, and the restore of a base plus history",
		Long: `On a sandbox of --members members of --version: --rate writes/s (one at a time)
for --duration without and --duration with continuous backup, in halves
alternating, recording into a directory (--store, --flush); the write latency
p50 and p99 of each side, and the recovery point while recording (the newest stored revision's
age, sampled every 50 ms). Then the database is filled to --base-size, a base
is taken and --revisions revisions are written after it (an hour at 200
writes/s is 720,000); the restore of the base alone (etcdutl's) is timed
against the rebuild at the newest revision plus the same restore, and the
rebuild is proven by the sandbox's HashKV.`,
		Example: `  etcdpilot bench pitr --base-size 1GiB --revisions 720000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := defrag.ParseBytes(baseSize)
			if err != nil || n < 0 {
				return fmt.Errorf("--base-size %q: give a size such as 1GiB", baseSize)
			}
			vs, err := defrag.ParseBytes(valueSize)
			if err != nil || vs <= 0 || vs > 1<<20 {
				return fmt.Errorf("--value-size %q: give a size from 1B to 1MiB", valueSize)
			}
			o.BaseSize, o.ValueSize = n, int(vs)
			o.Binaries, o.Log, o.Progress = g.binaries(g.progress(cmd)), g.log, g.progress(cmd)
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.PITR(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", "3.6.17", "etcd version of the sandbox")
	cmd.Flags().IntVar(&o.Members, "members", 3, "members of the sandbox")
	cmd.Flags().IntVar(&o.Rate, "rate", 200, "writes per second")
	cmd.Flags().DurationVar(&o.Duration, "duration", time.Minute, "time written at --rate on each side, without and with continuous backup (two halves each, alternating)")
	cmd.Flags().StringVar(&o.Store, "store", "", "directory the recorder writes to while the latency is measured (default: beside the sandbox, on etcd's own disk)")
	cmd.Flags().DurationVar(&o.Flush, "flush", time.Second, "continuous backup's flush interval")
	cmd.Flags().StringVar(&baseSize, "base-size", "256MiB", "database size before the base snapshot")
	cmd.Flags().StringVar(&valueSize, "value-size", "100KiB", "size of each value filling the base")
	cmd.Flags().IntVar(&o.Revisions, "revisions", 72000, "revisions written after the base (720000: an hour at 200 writes/s)")
	positive(cmd, "members", "rate", "revisions")
	return cmd
}

func newBenchScaleCmd(g *globals) *cobra.Command {
	o := bench.ScaleOptions{}
	var sizes []string
	var valueSize string
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Fill sandboxes to Kubernetes sizes, then measure status, upgrade plan and upgrade apply beside etcdctl",
		Long: `Fill a sandbox of --members members of --from to each --sizes with incompressible
values (kubeadm's --snapshot-count=10000), settle its memory as a Kubernetes
cluster's is (16,000 small writes, then a restart of each member: the fill's
large entries no longer held in the members' raft logs), compact it at the head
as kube-apiserver does every 5 minutes, then run, each as a process, with the
members' databases in the page cache as on their own hosts: etcdctl
endpoint status and hashkv --cluster and snapshot save of one member, then
etcdpilot status, upgrade plan (through the sandbox, which reads the backends'
pages, and through --endpoints alone, which streams them) and upgrade apply to
--to. Each row: wall time, maximum RSS, the bytes the members sent (their gRPC
counters) and the peak size of the command's scratch directories; then the
restart of each member, from apply's journal. A size the disk cannot hold is
skipped, saying so.`,
		Example: `  etcdpilot bench scale --sizes 16MiB,1GiB,4GiB
  etcdpilot bench scale --members 1 --sizes 16MiB,8GiB   # one member at etcd's largest advised size`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, s := range sizes {
				n, err := defrag.ParseBytes(s)
				if err != nil || n <= 0 {
					return fmt.Errorf("--sizes %q: give sizes such as 16MiB,1GiB,4GiB", s)
				}
				o.Sizes = append(o.Sizes, n)
			}
			vs, err := defrag.ParseBytes(valueSize)
			if err != nil || vs <= 0 || vs > 1<<20 {
				return fmt.Errorf("--value-size %q: give a size from 1B to 1MiB (etcd refuses requests over 1.5 MiB)", valueSize)
			}
			o.ValueSize = int(vs)
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binaries, o.Log, o.Etcdpilot, o.Progress = g.binaries(g.progress(cmd)), g.log, self, g.progress(cmd)
			return runBench(cmd, g, func(root string) (any, error) {
				o.Root = root
				return bench.Scale(cmd.Context(), o)
			})
		},
	}
	cmd.Flags().StringVar(&o.From, "from", "3.5.36", "etcd version of the sandboxes")
	cmd.Flags().StringVar(&o.To, "to", "3.6.17", "etcd version upgrade plan and apply go to")
	cmd.Flags().StringSliceVar(&sizes, "sizes", []string{"16MiB", "1GiB", "4GiB"}, "database sizes")
	cmd.Flags().StringVar(&valueSize, "value-size", "100KiB", "size of each value written")
	cmd.Flags().IntVar(&o.Members, "members", 3, "members of each sandbox")
	positive(cmd, "members")
	return cmd
}
