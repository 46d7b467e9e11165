package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/rehearse"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newUpgradeRehearseCmd(g *globals) *cobra.Command {
	var f applyFlags
	var snapshotFile, shadowDir, inside string
	var netns bool
	cmd := &cobra.Command{
		Use:   "rehearse --to VERSION",
		Short: "Run the upgrade first on a shadow of the cluster on this machine, under the probe, and report what failed; the cluster is only read",
		Long: `Build a shadow cluster on this machine with the cluster's size and versions,
run the same upgrade there under the availability probe, print its report,
and remove the shadow. The cluster itself is only read.

With --sandbox the shadow is made of copies of the members' data directories
(raft snapshots, a consistent copy of each backend, the WAL), where hazards
such as 3.7's v2 WAL entries live; it keeps the members' IDs and ports and
runs in a network namespace of its own (root, or unprivileged user
namespaces). Otherwise, or with --snapshot FILE, the shadow is restored from
a snapshot taken now (or the file): the data is the same, the WAL is new.

Refused before anything starts when the disk under --shadow-dir has no room
for the copies.

Exit status: 0 the upgrade passed on the shadow, 1 it failed there (the
report says how), 2 the rehearsal could not run.`,
		Example: `  etcdpilot upgrade rehearse --sandbox prod-copy --to 3.7.3
  etcdpilot upgrade rehearse --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert c.crt --key c.key --to 3.6.17`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.to == "" {
				return fmt.Errorf("say where to: --to VERSION")
			}
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			to, err := cat.Resolve(f.to)
			if err != nil {
				return err
			}
			if inside != "" {
				// The inside half: its report goes to the outside half as
				// JSON, whatever -w says.
				r, err := rehearse.Inside(cmd.Context(), rehearse.InsideOptions{Root: inside, Target: to, NoWALFix: f.noWALFix,
					GateTimeout: f.gateTimeout, LoopbackUp: netns, Binaries: g.binaries(g.progress(cmd)), Catalog: cat, Log: g.log,
					User: g.conn.User, Password: g.conn.Password})
				if r != nil {
					if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(r); jerr != nil {
						return jerr
					}
				}
				return err
			}
			t, err := g.open(cmd, f.t, target.Connect)
			if err != nil {
				return err
			}
			defer t.Close()
			s := t.Session
			seed := snapshotFile
			if seed != "" {
				local, done, err := g.stores.Local(cmd.Context(), seed)
				if err != nil {
					return err
				}
				defer done()
				seed = local
			}
			o := rehearse.Options{Target: to, Source: s, Snapshot: seed, Dir: shadowDir, Binaries: g.binaries(g.progress(cmd)),
				NoWALFix: f.noWALFix, GateTimeout: f.gateTimeout, Log: g.log, Stderr: cmd.ErrOrStderr(), Args: g.passOn(),
				User: g.conn.User, Password: g.conn.Password}
			if o.Self, err = os.Executable(); err != nil {
				return err
			}
			if o.Dir == "" {
				o.Dir = filepath.Join(g.root(), "rehearsals")
			}
			if t.Sandbox != nil {
				o.Runtime = t.Sandbox
			}
			r, err := rehearse.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := g.print(cmd, r); err != nil {
				return err
			}
			if !r.Passed {
				return quietNo
			}
			return nil
		},
	}
	f.t.Register(cmd.Flags(), target.Naming)
	cmd.Flags().StringVar(&f.to, "to", "", "target: a version (3.7.3), a minor (3.7) or latest")
	cmd.Flags().StringVar(&snapshotFile, "snapshot", "", "seed the shadow from this snapshot (a file or s3://BUCKET/PREFIX/NAME) instead")
	cmd.Flags().StringVar(&shadowDir, "shadow-dir", "", "where the shadow is made (default <state-dir>/rehearsals)")
	cmd.Flags().BoolVar(&f.noWALFix, "no-wal-fix", false, "rehearse without the raft snapshots before 3.7 (shows the v2 WAL hazard)")
	cmd.Flags().DurationVar(&f.gateTimeout, "gate-timeout", 60*time.Second, "how long a restarted member may take to pass its gates")
	cmd.Flags().StringVar(&inside, "inside", "", "")
	cmd.Flags().BoolVar(&netns, "netns", false, "")
	cmd.Flags().MarkHidden("inside")
	cmd.Flags().MarkHidden("netns")
	positive(cmd, "gate-timeout")
	return cmd
}
