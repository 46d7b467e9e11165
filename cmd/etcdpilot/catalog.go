package main

import (
	"fmt"
	"strings"

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
	cmd.AddCommand(newCatalogShowCmd(g), newCatalogValidateCmd())
	return cmd
}

// releaseInfo is what "catalog show VERSION" tells about one release.
type releaseInfo struct {
	Version     string          `json:"version"`
	Date        string          `json:"date,omitempty"`
	Minor       *catalog.Minor  `json:"minor"`
	LatestPatch string          `json:"latestPatch"`
	NextHop     *catalog.Hop    `json:"nextHop,omitempty"`
	Issues      []catalog.Issue `json:"issues"`
	CVEs        []catalog.CVE   `json:"cves"`
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
				if g.output == "json" {
					return printJSON(cmd, cat)
				}
				rows := [][]string{{"MINOR", "RELEASED", "EOL", "LATEST", "UPGRADE FROM", "RELEASES"}}
				for _, m := range cat.Minors {
					from := "-"
					if h, ok := cat.HopInto(m.Minor); ok {
						from = h.From + " >= " + h.Minimum
					}
					n := 0
					for _, r := range cat.Releases {
						if version.Minor(r.Version) == m.Minor {
							n++
						}
					}
					rows = append(rows, []string{m.Minor, m.Released, dash(m.EOL), m.Latest, from, fmt.Sprint(n)})
				}
				return printer.Table(cmd.OutOrStdout(), rows)
			}
			v, err := cat.Resolve(args[0])
			if err != nil {
				return err
			}
			r, _ := cat.Release(v)
			mi, _ := cat.Minor(version.Minor(v))
			info := releaseInfo{Version: v, Date: r.Date, Minor: mi, LatestPatch: mi.Latest, Issues: cat.IssuesAffecting(v), CVEs: cat.CVEsAffecting(v)}
			if h, ok := cat.HopInto(version.NextMinor(mi.Minor)); ok {
				info.NextHop = h
			}
			if g.output == "json" {
				return printJSON(cmd, info)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "etcd %s, released %s; minor %s (latest %s, end of life %s)\n", v, dash(r.Date), mi.Minor, mi.Latest, dash(mi.EOL))
			if h := info.NextHop; h != nil {
				met := "met"
				if version.Compare(v, h.Minimum) < 0 {
					met = "NOT met: upgrade to " + mi.Latest + " first"
				}
				fmt.Fprintf(w, "upgrading to %s needs every member on %s or later (%s)\n", h.To, h.Minimum, met)
			}
			fmt.Fprintf(w, "known issues affecting it: %d\n", len(info.Issues))
			for _, is := range info.Issues {
				fmt.Fprintf(w, "  %s [%s] %s (fixed in %s) %s\n", is.ID, is.Severity, is.Title, dash(catalog.FixedIn(is.Affected, v)), is.Link)
			}
			fmt.Fprintf(w, "CVEs affecting it: %d\n", len(info.CVEs))
			for _, c := range info.CVEs {
				fmt.Fprintf(w, "  %s [%s, %s] %s (fixed in %s) %s\n", c.ID, c.Severity, c.Component, c.Title, dash(catalog.FixedIn(c.Affected, v)), c.Link)
			}
			return nil
		},
	}
}

func newCatalogValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a catalog file; errors name the file and line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := catalog.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid: %d releases (%s), %d issues, %d CVEs, %d flags\n", args[0], len(c.Releases), strings.Join([]string{c.Releases[0].Version, c.Releases[len(c.Releases)-1].Version}, " to "), len(c.Issues), len(c.CVEs), len(c.Flags))
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
