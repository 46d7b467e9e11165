package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
)

func newCatalogCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Show or validate the release catalog",
	}
	cmd.AddCommand(newCatalogShowCmd(g), newCatalogValidateCmd(g))
	return cmd
}

func newCatalogShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show [VERSION]",
		Short: "Show the catalog's minors, or what is known about one release",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return g.print(cmd, cat)
			}
			info, err := cat.Info(args[0])
			if err != nil {
				return err
			}
			return g.print(cmd, info)
		},
	}
}

func newCatalogValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a catalog file; errors name the file and line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := catalog.Load(args[0])
			if err != nil {
				return err
			}
			return g.print(cmd, printer.Value{Name: "valid", Value: fmt.Sprintf("%s: valid: %d releases (%s), %d issues, %d CVEs, %d flags", args[0], len(c.Releases), strings.Join([]string{c.Releases[0].Version, c.Releases[len(c.Releases)-1].Version}, " to "), len(c.Issues), len(c.CVEs), len(c.Flags))})
		},
	}
}
