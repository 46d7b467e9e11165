package main

import (
	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

func newStatusCmd(g *globals) *cobra.Command {
	var sb string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every member: versions, leader, raft indexes, DB size, alarms, learners, hash agreement",
		Long: `Discover all members through the member list and query each in parallel.

Exit status: 0 when the cluster is healthy, 1 when it is degraded or
unavailable, 2 when no endpoint answers or the input is wrong.`,
		Example: `  etcdpilot status --sandbox default
  etcdpilot status --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key -w json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.session(sb)
			if err != nil {
				return err
			}
			defer s.Close()
			return showStatus(cmd, g, s)
		},
	}
	addSandboxFlag(cmd, &sb)
	return cmd
}

// showStatus prints the cluster status and turns an unhealthy cluster into
// exit status 1.
func showStatus(cmd *cobra.Command, g *globals, s *cluster.Session) error {
	p, err := g.printer(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	cl, err := s.StatusWithHashes(cmd.Context())
	if err != nil {
		return err
	}
	if err := p.Print(cl); err != nil {
		return err
	}
	if cl.Health != status.Healthy {
		return quietNo
	}
	return nil
}
