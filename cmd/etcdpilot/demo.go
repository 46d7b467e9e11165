package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func newDemoCmd(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Bring up a local 3-member etcd sandbox and show its status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sb, err := g.openSandbox(name, cmd.ErrOrStderr()); err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "removing the previous demo sandbox %s\n", name)
				if err := sb.Destroy(cmd.Context()); err != nil {
					return err
				}
			}
			sb, err := sandbox.Create(cmd.Context(), g.root(), g.binaries(cmd.ErrOrStderr()), sandbox.Options{Name: name}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			st, err := sb.State()
			if err != nil {
				return err
			}
			return showStatus(cmd, g, st.Conn())
		},
	}
	cmd.Flags().StringVar(&name, "name", "demo", "sandbox name")
	return cmd
}
