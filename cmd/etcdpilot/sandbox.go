package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newSandboxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run local etcd clusters of any version from real etcd binaries",
	}
	cmd.AddCommand(newSandboxUpCmd(g), newSandboxDownCmd(g), newSandboxLsCmd(g), newSandboxEnvCmd(g), newSandboxProcCmd(g))
	return cmd
}

func newSandboxUpCmd(g *globals) *cobra.Command {
	var name string
	var members int
	var versions []string
	var tls bool
	var extra []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local sandbox cluster and show its status",
		Example: `  etcdpilot sandbox up                                   # 3 members of etcd ` + sandbox.DefaultVersion + `
  etcdpilot sandbox up --name mixed --version 3.5.36,3.5.36,3.6.17
  etcdpilot sandbox up --name secure --tls`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bins := g.binaries(g.progress(cmd))
			sb, err := sandbox.Create(cmd.Context(), g.root(), bins, sandbox.Options{
				Name: name, Members: members, Versions: versions, TLS: tls, ExtraFlags: extra,
			}, g.log)
			if err != nil {
				return err
			}
			g.log.Info("sandbox {sandbox} is up; point etcdctl at it with: eval \"$(etcdpilot sandbox env --name {sandbox})\"", "sandbox", sb.Name)
			t, err := g.open(cmd, target.Flags{Sandbox: sb.Name}, target.Connect)
			if err != nil {
				return err
			}
			defer t.Close()
			s := t.Session
			// Just after an election the members may briefly disagree on
			// the leader: the status shown is the settled one.
			if _, err := s.WaitHealthy(cmd.Context(), 30*time.Second); err != nil {
				g.log.Warn("sandbox {sandbox} is not healthy yet: {error}", "sandbox", sb.Name, "error", err)
			}
			return showStatus(cmd, g, s, nil)
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	cmd.Flags().IntVar(&members, "members", 3, "number of members (1 to 15)")
	positive(cmd, "members")
	cmd.Flags().StringSliceVar(&versions, "version", []string{sandbox.DefaultVersion}, "etcd version, or one per member (3.5.36,3.5.36,3.6.17)")
	cmd.Flags().BoolVar(&tls, "tls", false, "generate a CA and certificates; require client certificates")
	cmd.Flags().StringArrayVar(&extra, "etcd-flag", nil, "extra flag for every member (repeatable), e.g. --etcd-flag=--snapshot-count=1000")
	return cmd
}

func newSandboxDownCmd(g *globals) *cobra.Command {
	var name string
	var all bool
	cmd := &cobra.Command{
		Use:   "down [NAME]",
		Short: "Stop a sandbox's members and remove its directory",
		Example: `  etcdpilot sandbox down demo
  etcdpilot sandbox down --all`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			names := []string{name}
			if len(args) == 1 {
				names = args
			}
			if all {
				var err error
				if names, err = sandbox.List(g.root()); err != nil {
					return err
				}
			}
			for _, n := range names {
				sb, err := g.openSandbox(n, g.progress(cmd))
				if err != nil {
					return err
				}
				if err := sb.Destroy(cmd.Context()); err != nil {
					return err
				}
				if err := g.print(cmd, &sandbox.Removed{Name: n}); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	cmd.Flags().BoolVar(&all, "all", false, "remove every sandbox")
	return cmd
}

func newSandboxLsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List sandboxes (one that cannot be read is listed with its error)",
		Example: `  etcdpilot sandbox ls
  etcdpilot sandbox ls -w json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := sandbox.Summaries(g.root())
			if err != nil {
				return err
			}
			return g.print(cmd, l)
		},
	}
}

func newSandboxEnvCmd(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "env",
		Short:   "Print ETCDCTL_* variables for a sandbox (eval \"$(etcdpilot sandbox env)\")",
		Args:    cobra.NoArgs,
		Example: `  eval "$(etcdpilot sandbox env --name default)"; etcdctl member list -w table`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := g.openSandbox(name, nil)
			if err != nil {
				return err
			}
			st, err := sb.State()
			if err != nil {
				return err
			}
			return g.print(cmd, st.Env())
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	return cmd
}
