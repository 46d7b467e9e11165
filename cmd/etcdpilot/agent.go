package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/agent"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newAgentCmd(g *globals) *cobra.Command {
	var file string
	var tf target.Flags
	cmd := &cobra.Command{
		Use:   "agent --config FILE",
		Short: "Run scheduled backups and status checks for a cluster (or a fleet), with Prometheus metrics",
		Example: `  etcdpilot agent --config /etc/etcdpilot/agent.yaml --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key
  etcdpilot agent --config agent.yaml --kubeadm
  etcdpilot agent --config agent.yaml --sandbox demo`,
		Long: `A long-running process for one cluster (--endpoints and etcdctl's TLS flags,
--kubeadm or --sandbox), or for every cluster its file lists: backups on cron schedules into a directory or s3://bucket/prefix/,
each verified and followed by its retention; status and hash checks; rolling
defragmentations where thresholds say they pay (journaled and locked as
etcdpilot defrag is, so never beside an upgrade); /metrics
(Prometheus) and /healthz on the configured address. A job's run never
overlaps its previous one (the skipped run is counted); SIGTERM or SIGINT
waits for the runs under way, then exits.

The file (YAML; an unknown key or a bad schedule is refused with its line):

  listen: 127.0.0.1:9479
  backups:
    - name: hourly
      schedule: "0 * * * *"        # five cron fields, or @every 15m, @daily
      store: s3://backups/etcd/     # or a directory
      keep: {last: 24, daily: 7}
      timeout: 1h
      compress: zstd                # optional
      encrypt: [age1...]            # optional: age recipients
  checks:
    schedule: "@every 30s"
  defrag:                           # etcdpilot defrag on a schedule
    schedule: "0 3 * * *"
    ifFree: 200MiB                  # and/or ifFragmented: 45%
    compact: true                   # optional, with compactKeep: REVISIONS
    timeout: 10m                    # per member

Agents of one cluster elect one in the cluster (etcd's election, the key
/etcdpilot/agent/leader under a 15 s lease; "election: false" turns it off):
only it takes the backups and runs the defragmentations; the others check
and take over when it stops.

A fleet instead: the same jobs under each cluster, with its connection
settings (the password read from a file); every metric then carries a
cluster label, and a cluster that does not answer delays no other.

  listen: 127.0.0.1:9479
  clusters:
    - name: prod-a
      endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]
      cacert: /etc/etcdpilot/prod-a/ca.crt
      cert: /etc/etcdpilot/prod-a/client.crt
      key: /etc/etcdpilot/prod-a/client.key
      # user: root
      # passwordFile: /etc/etcdpilot/prod-a/password
      backups:
        - {name: hourly, schedule: "0 * * * *", store: s3://backups/prod-a/}
      checks: {schedule: "@every 30s"}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := agent.Load(file)
			if err != nil {
				return err
			}
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			if c.Fleet() {
				// The file names every cluster; a cluster on the command
				// line as well would be ambiguous.
				for _, f := range []string{"endpoints", "sandbox", "kubeadm"} {
					if fl := cmd.Flags().Lookup(f); fl != nil && fl.Changed {
						return fmt.Errorf("--%s names a cluster, and %s lists clusters: name them in one place", f, file)
					}
				}
				a := &agent.Agent{Config: c, Version: Version, Log: g.log, Catalog: cat, StateDir: g.root(), Stores: g.stores}
				return a.Run(cmd.Context(), nil)
			}
			t, err := g.open(cmd, tf, target.Connect)
			if err != nil {
				return err
			}
			defer t.Close()
			s := t.Session
			a := &agent.Agent{Config: c, Session: s, Version: Version, Log: g.log, Catalog: cat, StateDir: g.root(), Stores: g.stores}
			a.Configs, a.Runtime = g.memberConfigs(cmd, t)
			return a.Run(cmd.Context(), nil)
		},
	}
	cmd.Flags().StringVar(&file, "config", "", "agent configuration file (YAML)")
	cmd.MarkFlagRequired("config")
	tf.Register(cmd.Flags(), target.Naming)
	return cmd
}
