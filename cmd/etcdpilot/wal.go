package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/walcheck"
)

func newWALCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wal",
		Short: "Read a member's write-ahead log",
	}
	var dataDir, walDir string
	check := &cobra.Command{
		Use:   "check --data-dir DIR",
		Short: "Count the v2 entries a member would replay on start (etcd 3.7 cannot): run it on the member's host before a hop to 3.7",
		Example: `  etcdpilot wal check --data-dir /var/lib/etcd
  etcdpilot wal check --data-dir /var/lib/etcd --wal-dir /var/lib/etcd-wal`,
		Long: `Read the member's WAL from its newest raft snapshot on, as etcd replays it on
start, and count the entries written as v2 requests (etcd 3.5 writes some).
etcd 3.7 cannot replay them: the member panics with "unmarshal should never
fail". They leave the replay once the member takes a raft snapshot on 3.6:
restart it once with --snapshot-count=1, check again, then restore the
original value. Safe while the member runs (it only reads).

Exit status: 0 when there are none, 1 when there are, 2 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				return fmt.Errorf("say which member: --data-dir DIR (its etcd --data-dir)")
			}
			r, err := walcheck.Check(dataDir, walDir)
			if err != nil {
				return err
			}
			if err := g.print(cmd, r); err != nil {
				return err
			}
			if r.V2 > 0 {
				return quietNo
			}
			return nil
		},
	}
	check.Flags().StringVar(&dataDir, "data-dir", "", "the member's data directory")
	check.Flags().StringVar(&walDir, "wal-dir", "", "the member's dedicated WAL directory, if it has one")
	cmd.AddCommand(check)
	return cmd
}
