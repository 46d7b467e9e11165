package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/repo"
)

func newRepoCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Find, bump and check the etcd versions a repository pins",
	}
	cmd.AddCommand(newRepoScanCmd(g), newRepoBumpCmd(g), newRepoCheckCmd(g))
	return cmd
}

func dirArg(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

func newRepoScanCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "scan [DIR]",
		Short: "List every pinned etcd version: Go constants and maps, images, Helm values, Dockerfiles, Makefiles, CI, go.mod, dependencies.yaml",
		Long: `Scan a repository (vendor/, node_modules/ and .git are skipped, and so are
binary files and files over 4 MiB) for pinned etcd versions, and mark pins
that disagree with the most common one. go.mod's etcd modules are compared
among themselves; minimums (MinExternalEtcdVersion) are listed, not compared.

Exit status: 0 when all pins agree, 1 when they disagree, 2 on error
(including files that could not be read).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := repo.Scan(dirArg(args))
			if err != nil {
				return err
			}
			if err := g.print(cmd, r); err != nil {
				return err
			}
			if len(r.Errors) > 0 {
				return fmt.Errorf("%d files could not be read; the scan is incomplete", len(r.Errors))
			}
			if !r.Agree {
				return quietNo
			}
			return nil
		},
	}
}

func newRepoBumpCmd(g *globals) *cobra.Command {
	var o repo.BumpOptions
	var to string
	cmd := &cobra.Command{
		Use:   "bump --to VERSION [DIR]",
		Short: "Rewrite every etcd pin to one version, show the diff, and prove no stale pin is left",
		Long: `Rewrite every pin found by repo scan to --to, changing only the version text
and keeping each pin's format (a v prefix, a -N build suffix: --image-suffix).
Refuses a downgrade, a minor skip or a version the release catalog does not
know, unless --force. Files are written atomically (temp file, fsync, rename);
then the tree is scanned again and any pin that is still stale is an error.
go.mod's etcd modules are bumped too (run go mod tidy afterwards), unless
--skip-go-mod.`,
		Example: `  etcdpilot repo bump --to 3.6.16 --dry-run
  etcdpilot repo bump --to 3.6.16 --image-suffix -0 ./kubernetes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("say which version: --to VERSION")
			}
			if cat, err := g.catalog(); err == nil {
				o.Catalog = cat
			}
			r, err := repo.Bump(dirArg(args), to, o)
			if r != nil {
				if err := g.print(cmd, r); err != nil {
					return err
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "etcd version to pin")
	cmd.Flags().StringVar(&o.ImageSuffix, "image-suffix", "-0", "build suffix for pins that carry one (registry.k8s.io/etcd:3.6.16-0)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "show the diff, write nothing")
	cmd.Flags().BoolVar(&o.Force, "force", false, "allow a downgrade, a minor skip or a version unknown to the catalog")
	cmd.Flags().BoolVar(&o.SkipGoMod, "skip-go-mod", false, "leave go.mod's etcd modules alone")
	return cmd
}

func newRepoCheckCmd(g *globals) *cobra.Command {
	var expect string
	var skipGoMod bool
	cmd := &cobra.Command{
		Use:   "check --expect VERSION [DIR]",
		Short: "For CI: exit 1 when any etcd pin is not the expected version, listing each",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expect == "" {
				return fmt.Errorf("say which version: --expect VERSION")
			}
			want := strings.TrimPrefix(expect, "v")
			if i := strings.IndexByte(want, '-'); i >= 0 {
				want = want[:i]
			}
			r, err := repo.Check(dirArg(args), want, skipGoMod)
			if err != nil {
				return err
			}
			if err := g.print(cmd, r); err != nil {
				return err
			}
			if len(r.Mismatches) > 0 {
				return answerNo("%d of %d pins are not %s", len(r.Mismatches), r.Pins, want)
			}
			g.log.Info(fmt.Sprintf("all %d pins are %s", r.Pins, want))
			return nil
		},
	}
	cmd.Flags().StringVar(&expect, "expect", "", "the etcd version every pin must have")
	cmd.Flags().BoolVar(&skipGoMod, "skip-go-mod", false, "do not check go.mod's etcd modules")
	return cmd
}

func newDepsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deps",
		Short: "Check a Go module's (or a tree's) etcd dependencies, and simulate an etcd client upgrade",
	}
	var policy, to string
	var vuln, apply bool
	check := &cobra.Command{
		Use:   "check [go.mod|DIR] [--to VERSION [--apply]]",
		Short: "etcd modules out of lockstep, legacy paths, grpc/OpenTelemetry/genproto breakages, CVEs, updates by policy; --to simulates the upgrade",
		Long: `Read a go.mod, or every go.mod in a tree (vendor/ and testdata/ skipped, the
modules of a go.work included), and report: etcd's modules out of lockstep
(client/v2's v2.305.N is 3.5.N; go.etcd.io/raft/v3 and bbolt have releases of
their own); legacy github.com/coreos/etcd and go.etcd.io/etcd paths, pseudo-
versions named by their commit; modules replaced by a local directory
(reported, not checked); known grpc, OpenTelemetry and genproto
incompatibilities; the catalog's CVEs; govulncheck's findings when it is
installed; the newer etcd releases, classified by --policy; and, for a tree,
whether every module requires the same etcd release.

--to VERSION simulates moving the etcd modules there without touching the
tree: etcd's own go.mod files come from the module proxy (go mod download),
and minimum version selection decides which of the project's requirements
rise (grpc, protobuf, OpenTelemetry, genproto, golang.org/x, the go
directive), by how much, and what collides: a replace or exclude below what
the release needs, a go directive below its own, a module it no longer
publishes. --apply then does it for real in a copy of the (top) module: go
get, go mod tidy, the go.mod diff, go build ./....

Exit status: 0 without errors, 1 with error findings or a blocking conflict
(or a failed build with --apply), 2 when the check could not run.`,
		Example: `  etcdpilot deps check ~/src/kubernetes
  etcdpilot deps check go.mod --to 3.6.16
  etcdpilot deps check go.mod --to 3.6.16 --apply -w json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := repo.ParsePolicy(policy)
			if err != nil {
				return err
			}
			o := repo.DepsOptions{Policy: p, Govulncheck: vuln}
			if o.Catalog, err = g.catalog(); err != nil {
				return err
			}
			target := ""
			if to != "" {
				if target, err = o.Catalog.Resolve(to); err != nil {
					return err
				}
			} else if apply {
				return fmt.Errorf("--apply needs --to VERSION")
			}
			path := "go.mod"
			if len(args) == 1 {
				path = args[0]
			}
			t, err := repo.CheckTree(cmd.Context(), path, o)
			if err != nil {
				return err
			}
			var simErr error
			if target != "" {
				simErr = simulateTree(cmd, g, t, target, apply)
			}
			if err := g.print(cmd, t); err != nil {
				return err
			}
			if simErr != nil {
				return simErr
			}
			if t.Failed() {
				return quietNo
			}
			return nil
		},
	}
	check.Flags().StringVar(&policy, "policy", "patch=auto,minor=review,major=block", "what to do with each kind of etcd update")
	check.Flags().BoolVar(&vuln, "govulncheck", true, "run govulncheck -json when it is installed")
	check.Flags().StringVar(&to, "to", "", "simulate moving the etcd modules to this release (needs the module proxy)")
	check.Flags().BoolVar(&apply, "apply", false, "with --to: do the upgrade in a copy of the top module, diff its go.mod and build it")
	cmd.AddCommand(check)
	return cmd
}

// simulateTree simulates the upgrade for every module that uses etcd; the
// top one is also applied in a copy when asked.
func simulateTree(cmd *cobra.Command, g *globals, t *repo.DepsTree, target string, apply bool) error {
	first := true
	for _, m := range t.Modules {
		if m.Etcd == "" {
			continue
		}
		g.log.Info(fmt.Sprintf("simulating %s at etcd %s ...", m.GoMod, target))
		sim, err := repo.Simulate(cmd.Context(), m, target, repo.SimulateOptions{Apply: apply && first})
		if err != nil {
			return err
		}
		first = false
		m.Simulation = sim
	}
	return nil
}
