package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcdpilot/etcdpilot/pkg/member"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

// completeValues registers, on every command of the tree, the values its
// flags take: output and log formats, runtimes, sandbox names, etcd
// versions from the catalog (as known offline: completion must answer at
// once), the defragmentation leader policies and the compressions.
func (g *globals) completeValues(root *cobra.Command) {
	fixed := func(vals ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp)
	}
	byFlag := map[string]cobra.CompletionFunc{
		"write-out":    fixed(strings.Split(printer.Formats, ", ")...),
		"log-format":   fixed("text", "json"),
		"log-level":    fixed("debug", "info", "warn", "error"),
		"runtime":      fixed(target.RuntimeNames...),
		"leader":       fixed("hand-off", "in-place"),
		"compress":     fixed("zstd"),
		"sandbox":      g.completeSandboxes,
		"to":           g.completeVersions,
		"from":         g.completeVersions,
		"version":      g.completeVersions,
		"etcd-version": g.completeVersions,
		"expect":       g.completeVersions,
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			f, ok := byFlag[fl.Name]
			if c.Parent() != nil && c.Parent().Name() == "sandbox" && fl.Name == "name" {
				f, ok = g.completeSandboxes, true
			}
			if c.CommandPath() == "etcdpilot member move" && fl.Name == "to" {
				return // the new member's name
			}
			if ok {
				// Registered once per flag: a persistent one on its owner.
				_ = c.RegisterFlagCompletionFunc(fl.Name, f)
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

func (g *globals) completeSandboxes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	names, err := sandbox.List(g.root())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeVersions offers the minors, newest first, then every release,
// newest first.
func (g *globals) completeVersions(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	g.offline = true
	cat, err := g.catalog()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for i := len(cat.Minors) - 1; i >= 0; i-- {
		out = append(out, cat.Minors[i].Minor)
	}
	vs := cat.Versions()
	slices.Reverse(vs)
	return append(out, vs...), cobra.ShellCompDirectiveNoFileComp
}

// completeMembers offers the names of the members of the cluster the
// target flags name (the sandbox, or the endpoints with their TLS flags),
// asked within a few seconds; no password is asked for.
func (g *globals) completeMembers(t *target.Flags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		g.completing = true
		if err := g.fromEnv(cmd); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tg, err := target.Open(ctx, *t, g.targetEnv(cmd), target.Connect)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		defer tg.Close()
		l, err := member.Get(ctx, tg.Session)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, m := range l.Members {
			if m.Name != "" {
				names = append(names, m.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
