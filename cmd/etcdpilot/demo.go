package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/target"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func newDemoCmd(g *globals) *cobra.Command {
	var name, from, to string
	var keys int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A 3-member etcd sandbox under load, upgraded live from the newest 3.5 to the newest 3.6, with the report",
		Long: `Bring up a local 3-member sandbox of etcd --from (binaries from the cache,
built from module source on first use), write --keys keys, then run
upgrade apply --to under the availability probe and print the report and the
cluster's status. The sandbox stays up afterwards (etcdpilot sandbox down
--name demo removes it).

--from and --to take a minor ("3.5": its newest patch as the catalog knows
it now, from the module proxy) or an exact version.`,
		Example: "  etcdpilot demo\n  etcdpilot demo --from 3.5.36 --to 3.6.17   # pinned, as the tests are",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, errw := cmd.Context(), g.progress(cmd)
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			dest, err := cat.Resolve(to)
			if err != nil {
				return err
			}
			if from, err = cat.Resolve(from); err != nil {
				return err
			}
			// Both versions first, so that the upgrade does not wait on a build.
			bins := g.binaries(errw)
			for _, v := range []string{from, dest} {
				if _, err := bins.Install(ctx, v, binaries.Options{}); err != nil {
					return err
				}
			}
			if sb, err := g.openSandbox(name, errw); err == nil {
				g.log.Info("removing the previous demo sandbox " + name)
				if err := sb.Destroy(ctx); err != nil {
					return err
				}
			}
			sb, err := sandbox.Create(ctx, g.root(), bins, sandbox.Options{Name: name, Versions: []string{from}}, g.log)
			if err != nil {
				return err
			}
			st, err := sb.State()
			if err != nil {
				return err
			}
			c := st.Conn()
			if err := bench.Load(ctx, c, bench.LoadOptions{Keys: keys, ValueSize: 1024, Prefix: "/demo/"}, g.progress(cmd)); err != nil {
				return err
			}
			sess, err := cluster.Open(c, g.log)
			if err != nil {
				return err
			}
			defer sess.Close()
			r, err := upgrade.Apply(ctx, upgrade.Options{
				Target: dest, Session: sess, Runtime: sb, Catalog: cat, Probe: true,
				JournalPath: filepath.Join(sb.Dir, target.JournalFile), Log: g.log,
				Snapshots: snapshot.PreChange{Dest: sb.Dir, Version: Version, Log: g.log, Stores: g.stores},
			})
			if err := printReport(cmd, g, r, err); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout())
			if err := showStatus(cmd, g, sess, nil); err != nil {
				return err
			}
			g.log.Info("the sandbox stays up: eval \"$(etcdpilot sandbox env --name {sandbox})\" to use it, etcdpilot sandbox down --name {sandbox} to remove it", "sandbox", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "demo", "sandbox name")
	cmd.Flags().StringVar(&from, "from", "3.5", "etcd version (or minor: its newest patch) to start from")
	cmd.Flags().StringVar(&to, "to", "3.6", "etcd version (or minor: its newest patch) to upgrade to")
	cmd.Flags().IntVar(&keys, "keys", 10000, "1 KiB keys to write before the upgrade")
	return cmd
}
