package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/runtime"
)

// newSandboxProcCmd drives one sandbox member's process: stop, start (on a
// version), kill, pause, resume. Useful for fault drills, and as the hooks
// of the command runtime in tests.
func newSandboxProcCmd(g *globals) *cobra.Command {
	var name, ver string
	cmd := &cobra.Command{
		Use:   "proc stop|start|kill|pause|resume MEMBER",
		Short: "Stop, start (optionally on another version), kill -9, pause or resume one sandbox member's process",
		Example: `  etcdpilot sandbox proc kill m2 --name default
  etcdpilot sandbox proc start m2 --name default --version 3.6.17`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := g.openSandbox(name, g.progress(cmd))
			if err != nil {
				return err
			}
			ctx, member := cmd.Context(), args[1]
			if _, err := sb.Version(ctx, member); err != nil {
				return err
			}
			switch args[0] {
			case "stop":
				return sb.Stop(ctx, member)
			case "start":
				return sb.Start(ctx, member, runtime.StartOptions{Version: ver})
			case "kill":
				return sb.Kill(ctx, member)
			case "pause":
				return sb.Pause(ctx, member)
			case "resume":
				return sb.Resume(ctx, member)
			}
			return fmt.Errorf("unknown action %q: use stop, start, kill, pause or resume", args[0])
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	cmd.Flags().StringVar(&ver, "version", "", "start: the etcd version to run (default: the member's current one)")
	return cmd
}
