package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/version"
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
  etcdpilot sandbox up --name mixed --version 3.5.35,3.5.35,3.6.16
  etcdpilot sandbox up --name secure --tls`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bins := g.binaries(cmd.ErrOrStderr())
			sb, err := sandbox.Create(cmd.Context(), g.root(), bins, sandbox.Options{
				Name: name, Members: members, Versions: versions, TLS: tls, ExtraFlags: extra,
			}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			st, err := sb.State()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sandbox %s is up; point etcdctl at it with: eval \"$(etcdpilot sandbox env --name %s)\"\n", sb.Name, sb.Name)
			return showStatus(cmd, g, st.Conn())
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	cmd.Flags().IntVar(&members, "members", 3, "number of members (1 to 15)")
	positive(cmd, "members")
	cmd.Flags().StringSliceVar(&versions, "version", []string{sandbox.DefaultVersion}, "etcd version, or one per member (3.5.35,3.5.35,3.6.16)")
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
		Args:  cobra.MaximumNArgs(1),
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
				sb, err := g.openSandbox(n, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if err := sb.Destroy(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sandbox %s removed\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	cmd.Flags().BoolVar(&all, "all", false, "remove every sandbox")
	return cmd
}

// sandboxRow is one line of "sandbox ls".
type sandboxRow struct {
	Name      string   `json:"name"`
	Members   int      `json:"members"`
	Running   int      `json:"running"`
	Versions  []string `json:"versions"`
	TLS       bool     `json:"tls"`
	Endpoints []string `json:"endpoints"`
	Dir       string   `json:"dir"`
	Error     string   `json:"error,omitempty"`
}

func newSandboxLsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List sandboxes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := sandbox.List(g.root())
			if err != nil {
				return err
			}
			rows := []sandboxRow{}
			for _, n := range names {
				sb, err := g.openSandbox(n, nil)
				if err != nil {
					return err
				}
				st, err := sb.State()
				if err != nil {
					// One broken sandbox does not hide the others.
					rows = append(rows, sandboxRow{Name: n, Dir: sb.Dir, Error: err.Error()})
					continue
				}
				r := sandboxRow{Name: n, Members: len(st.Members), TLS: st.TLS != nil, Endpoints: st.Endpoints(), Dir: sb.Dir}
				for _, m := range st.Members {
					r.Versions = append(r.Versions, version.Plain(m.Version))
					if m.Running() {
						r.Running++
					}
				}
				rows = append(rows, r)
			}
			if g.output == "json" {
				return printJSON(cmd, rows)
			}
			table := [][]string{{"NAME", "MEMBERS", "RUNNING", "VERSIONS", "TLS", "ENDPOINTS"}}
			for _, r := range rows {
				if r.Error != "" {
					table = append(table, []string{r.Name, "?", "?", "-", "-", "ERROR: " + r.Error})
					continue
				}
				table = append(table, []string{r.Name, fmt.Sprint(r.Members), fmt.Sprint(r.Running), strings.Join(r.Versions, ","), fmt.Sprint(r.TLS), strings.Join(r.Endpoints, ",")})
			}
			return printer.Table(cmd.OutOrStdout(), table)
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
			for _, kv := range st.Env() {
				fmt.Fprintf(cmd.OutOrStdout(), "export %s=%s\n", kv[0], shellQuote(kv[1]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "sandbox name")
	return cmd
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
