package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func newCatalogCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Show or validate the release catalog",
	}
	cmd.AddCommand(newCatalogShowCmd(g), newCatalogUpdateCmd(g), newCatalogValidateCmd(g))
	return cmd
}

func newCatalogUpdateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "update",
		Short: "Read etcd's release list from the Go module proxy now and cache it",
		Long: `Read every etcd release and its publication time from the Go module proxy
(GOPROXY, GONOPROXY and GOPRIVATE as the go command reads them) and keep
the list under the state directory. Other commands refresh it themselves
when it is older than 6 hours; --offline never asks the proxy.`,
		Example: "  etcdpilot catalog update\n  GOPROXY=https://goproxy.example.com etcdpilot catalog update",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.offline {
				return fmt.Errorf("catalog update asks the module proxy: drop --offline (or ETCDPILOT_OFFLINE)")
			}
			c, err := g.openCatalog(true)
			if err != nil {
				return err
			}
			g.cat = c
			return g.print(cmd, printer.Value{Name: "catalog", Value: "catalog: " + c.Fresh.Describe(time.Now())})
		},
	}
}

func newCatalogShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show [VERSION]",
		Short: "Show the catalog's minors, or what is known about one release",
		Example: `  etcdpilot catalog show
  etcdpilot catalog show 3.6.17
  etcdpilot catalog show 3.5 --offline -w json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				shown := *cat
				shown.Outdated = cat.NewerPatches(cachedVersions(g))
				return g.print(cmd, &shown)
			}
			info, err := cat.Info(args[0])
			if err != nil {
				return err
			}
			return g.print(cmd, info)
		},
	}
}

// cachedVersions are the etcd versions in the binary cache.
func cachedVersions(g *globals) map[string]string {
	out := map[string]string{}
	ins, err := g.binaries(nil).List()
	if err != nil {
		return out
	}
	for _, in := range ins {
		out[version.Plain(in.Version)] = "in the etcd binary cache"
	}
	return out
}

func newCatalogValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "validate FILE",
		Short:   "Check a catalog file; errors name the file and line",
		Example: `  etcdpilot catalog validate my-catalog.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := catalog.Load(args[0])
			if err != nil {
				return err
			}
			return g.print(cmd, printer.Value{Name: "valid", Value: fmt.Sprintf("%s: valid: %d releases (%s), %d issues, %d CVEs, %d flags", args[0], len(c.Releases), strings.Join([]string{c.Releases[0].Version, c.Releases[len(c.Releases)-1].Version}, " to "), len(c.Issues), len(c.CVEs), len(c.Flags))})
		},
	}
}
