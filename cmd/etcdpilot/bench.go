package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure etcdpilot against the plain tools on real clusters, side by side",
	}
	cmd.AddCommand(newBenchSnapshotCmd(g), newBenchUpgradeCmd(g))
	return cmd
}

func newBenchSnapshotCmd(g *globals) *cobra.Command {
	o := bench.SnapshotOptions{}
	var sizeMiB int64
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Fill a sandbox, then time etcdctl/etcdutl against etcdpilot's snapshot save and restore",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Size = sizeMiB << 20
			o.Binaries = g.binaries(cmd.ErrOrStderr())
			o.Out = cmd.ErrOrStderr()
			root, done, err := benchRoot()
			if err != nil {
				return err
			}
			defer done()
			o.Root, o.Scratch = root, root
			r, err := bench.Snapshot(cmd.Context(), o)
			if err != nil {
				return err
			}
			return r.Print(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", sandbox.DefaultVersion, "etcd version")
	cmd.Flags().Int64Var(&sizeMiB, "size-mib", 1024, "database size to reach, MiB")
	cmd.Flags().IntVar(&o.Runs, "runs", 3, "runs of each side")
	return cmd
}

func newBenchUpgradeCmd(g *globals) *cobra.Command {
	o := bench.UpgradeOptions{}
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Compare a naive rolling restart with upgrade apply under a write/read probe, on fresh sandboxes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Catalog, err = g.catalog(); err != nil {
				return err
			}
			o.Binaries = g.binaries(cmd.ErrOrStderr())
			o.Out = cmd.ErrOrStderr()
			root, done, err := benchRoot()
			if err != nil {
				return err
			}
			defer done()
			o.Root = root
			r, err := bench.Upgrade(cmd.Context(), o)
			if err != nil {
				return err
			}
			return r.Print(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.From, "from", "3.5.35", "etcd version the sandboxes start on")
	cmd.Flags().StringVar(&o.To, "to", "3.6.16", "etcd version to upgrade to")
	cmd.Flags().IntVar(&o.Runs, "runs", 10, "upgrades of each side")
	cmd.Flags().IntVar(&o.Keys, "keys", 2000, "1 KiB keys written before each upgrade")
	return cmd
}

// benchRoot is a scratch directory for a benchmark's sandboxes and files.
func benchRoot() (string, func(), error) {
	root, err := os.MkdirTemp("", "etcdpilot-bench-")
	if err != nil {
		return "", nil, err
	}
	return root, func() { os.RemoveAll(root) }, nil
}
