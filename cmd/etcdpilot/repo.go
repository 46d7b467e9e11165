package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/repo"
	"github.com/etcdpilot/etcdpilot/pkg/version"
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
		Short: "List every pinned etcd version by line: Go constants, maps and struct literals, images, templates, shell, Helm values, Dockerfiles, Makefiles, CI, go.mod, dependencies.yaml",
		Example: `  etcdpilot repo scan ~/src/kubernetes
  etcdpilot repo scan . -w json`,
		Long: `Scan a repository (vendor/, node_modules/ and .git are skipped, and so are
binary files and files over 4 MiB) for pinned etcd versions, group them by
etcd minor line (a repository may carry several: kops pins 3.5, 3.6 and 3.7
at once) and mark the pins that disagree with their line's most common
version. go.mod's etcd modules are compared among themselves.

Marked, not compared: minimums (MinExternalEtcdVersion) and history
(release notes, CHANGELOGs, docs prose). Marked: images from staging
registries (k8s-staging-*, *-staging*, gcr.io/etcd-development), pins by
digest, test data. A zeitgeist dependencies.yaml (Kubernetes'
build/dependencies.yaml) adds the lines its etcd refPaths point at, and a
refPath whose pattern no longer matches is reported.

Exit status: 0 when each line agrees, 1 when a line disagrees, 2 on error
(including files that could not be read).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := repo.Scan(dirArg(args))
			if err != nil {
				return err
			}
			if cat, err := g.catalog(); err == nil {
				r.MarkUnreleased(cat.NotListed)
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
	var to, report, digestsFile, checksums string
	var digests []string
	cmd := &cobra.Command{
		Use:   "bump --to VERSION [--from VERSION|LINE ...] [DIR]",
		Short: "Move the etcd pins of one line (or those --from names) to a version, show the diff, and prove with a new scan that none is stale",
		Long: `Rewrite the pins of the target's etcd line (--to 3.6.17 moves the 3.6 pins),
or the pins --from selects: a version (--from 3.6.12) or a line (--from 3.5,
which moves a one-line repository across a minor). --from is repeatable.
Lines the repository carries that the bump leaves alone are named.

Only the version text changes, in each pin's format (a v prefix, a -N build
suffix: --image-suffix). Never rewritten, and listed with the reason:
minimums (MinExternalEtcdVersion), history (release notes, CHANGELOGs, docs
prose), pins newer than the target within its line, go.mod modules that do
not move with etcd (go.etcd.io/raft/v3, bbolt) or have no release for the
target (client/v2 after 3.5).

An image pinned by digest (registry.k8s.io/etcd:3.6.8-0@sha256:...) needs
the new tag's digest: --digest 3.6.9-0=sha256:... (repeatable) or --digests
images.yaml, the image promoter's file in kubernetes/k8s.io
(registry.k8s.io/images/k8s-staging-etcd/images.yaml). Without it the bump
names the pin and writes nothing. A checksum table keyed by release
(kubespray's etcd_binary_checksums) gets the target's entry from the
release's SHA256SUMS: --checksums FILE, or else downloaded from etcd's
release (not with --offline); where neither is at hand, each table is named
as left to do.

Refuses a downgrade, a minor skip or a version the release catalog does not
know, unless --force. Files are written atomically (temp file, fsync,
rename); then the tree is scanned again, and the closing line says what that
scan found. go.mod's etcd modules are bumped too, unless --skip-go-mod,
the way Go moves them: go get of the etcd modules the module requires
directly, then go mod tidy (on copies of go.mod and go.sum, written with the
rest), so go.sum and the requirements they raise are right. A fork that
replaces etcd (k3s-io/etcd) moves on its own version scheme. Offline
(--offline, ETCDPILOT_OFFLINE), or when the go command fails, go.mod holds
the text rewrite and go.sum is named as left to do; so is a module that
replaces a moved one by its directory (run go mod tidy there). Vendored
trees still need go mod vendor (Kubernetes: hack/update-vendor.sh).

--report md prints a Markdown report for the pull request instead: the lines
moved, the files and pins, the pins left and why, and for each hop the
catalog's notes (CVEs and known issues fixed, required minimums).

Exit status: 0 when every selected pin moved, 1 when some were left (listed
with the reason), 2 when nothing could be done (nothing was written).`,
		Example: `  etcdpilot repo bump --to 3.6.9 --dry-run ~/src/kubernetes
  etcdpilot repo bump --from 3.6.12 --to 3.6.17 ~/src/kops
  etcdpilot repo bump --from 3.5 --to 3.6.17 .
  etcdpilot repo bump --to 3.6.9 --digests ../k8s.io/registry.k8s.io/images/k8s-staging-etcd/images.yaml
  etcdpilot repo bump --to 3.6.9 --report md > pr-body.md`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("say which version: --to VERSION")
			}
			if report != "" && report != "md" {
				return fmt.Errorf("--report %q: the report format is md", report)
			}
			var err error
			if o.Digests, err = readDigests(digests, digestsFile); err != nil {
				return err
			}
			if checksums != "" {
				if o.Checksums, err = repo.ReadChecksums(checksums); err != nil {
					return err
				}
			}
			if cat, err := g.catalog(); err == nil {
				o.Catalog = cat
			}
			if !g.offline {
				o.Go = "go"
				o.Releases = binaries.DefaultMirror
			}
			r, err := repo.Bump(dirArg(args), to, o)
			if r != nil {
				if report == "md" {
					printer.BumpMarkdown(cmd.OutOrStdout(), r)
				} else if err := g.print(cmd, r); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
			if len(r.Left) > 0 || len(r.Pending) > 0 {
				return quietNo
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "etcd version to pin")
	cmd.Flags().StringSliceVar(&o.From, "from", nil, "what moves: a version (3.6.12) or a line (3.5); repeatable (default: the pins of --to's line)")
	cmd.Flags().StringArrayVar(&digests, "digest", nil, "the digest of a new tag, for pins by digest: TAG=sha256:... or IMAGE:TAG=sha256:... (repeatable)")
	cmd.Flags().StringVar(&digestsFile, "digests", "", "an image promoter images.yaml giving the new tags' digests")
	cmd.Flags().StringVar(&checksums, "checksums", "", "the release's SHA256SUMS: checksum tables keyed by release (kubespray's etcd_binary_checksums) get the target's entry")
	cmd.Flags().StringVar(&report, "report", "", "print a report for the pull request instead of the diff: md")
	cmd.Flags().StringVar(&o.ImageSuffix, "image-suffix", "-0", "build suffix for pins that carry one (registry.k8s.io/etcd:3.6.17-0)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "show the diff, write nothing")
	cmd.Flags().BoolVar(&o.Force, "force", false, "allow a downgrade, a minor skip or a version unknown to the catalog")
	cmd.Flags().BoolVar(&o.SkipGoMod, "skip-go-mod", false, "leave go.mod's etcd modules alone")
	return cmd
}

// readDigests merges --digests FILE and --digest flags (the flags win).
func readDigests(flags []string, file string) (map[string]string, error) {
	out := map[string]string{}
	if file != "" {
		m, err := repo.ReadDigests(file)
		if err != nil {
			return nil, err
		}
		out = m
	}
	for _, f := range flags {
		tag, d, err := repo.ParseDigest(f)
		if err != nil {
			return nil, err
		}
		out[tag] = d
	}
	return out, nil
}

func newRepoCheckCmd(g *globals) *cobra.Command {
	var expect []string
	var skipGoMod bool
	cmd := &cobra.Command{
		Use:   "check --expect VERSION [--expect VERSION ...] [DIR]",
		Short: "For CI: exit 1 when a pin of an expected version's line is not that version, a staging image is used outside tests, or dependencies.yaml is stale",
		Example: `  etcdpilot repo check --expect 3.6.17 .
  etcdpilot repo check --expect 3.5.36 --expect 3.6.17 --skip-go-mod ~/src/kops`,
		Long: `Fail (exit 1) when:
  - a pin of an expected version's line is another version (one --expect per
    line the repository carries: --expect 3.5.31 --expect 3.6.12);
  - an etcd image from a staging registry (k8s-staging-*, *-staging*,
    gcr.io/etcd-development) is used outside test paths; the promoted
    reference to use instead is named;
  - a refPath of etcd in a zeitgeist dependencies.yaml no longer matches.
Minimums and history are never checked.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(expect) == 0 {
				return fmt.Errorf("say which version: --expect VERSION (one per etcd line)")
			}
			want, err := repo.ParseExpect(expect)
			if err != nil {
				return err
			}
			o := repo.CheckOptions{SkipGoMod: skipGoMod}
			if cat, err := g.catalog(); err == nil {
				o.Unlisted = cat.NotListed
			}
			r, err := repo.Check(dirArg(args), want, o)
			if err != nil {
				return err
			}
			if err := g.print(cmd, r); err != nil {
				return err
			}
			if len(r.Missing) > 0 {
				return answerNo("no pin of line %s found (looked for every rewritable pin of %s in %d files%s): nothing was checked for it", strings.Join(lines(r.Missing), ", "), strings.Join(r.Missing, ", "), r.Files, skippedNote(r.Skipped))
			}
			if r.Failed() {
				return answerNo("%d pins off the expected version, %d staging images outside tests, %d stale refPaths", len(r.Mismatches), len(r.Staging), len(r.Inventory))
			}
			g.log.Info("all {pins} pins of the expected lines are at {expect}", "pins", r.Checked, "expect", strings.Join(want, ", "))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&expect, "expect", nil, "the etcd version every pin of its line must have; repeatable, one per line")
	cmd.Flags().BoolVar(&skipGoMod, "skip-go-mod", false, "do not check go.mod's etcd modules")
	return cmd
}

func lines(vs []string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, version.Minor(v))
	}
	return out
}

func skippedNote(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return "; not read: " + strings.Join(skipped, ", ")
}

func newDepsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deps",
		Short: "Check a Go module's (or a tree's) etcd dependencies, and simulate an etcd client upgrade",
	}
	var policy, to, out string
	var vuln, apply bool
	check := &cobra.Command{
		Use:   "check [go.mod|DIR] [--to VERSION [--apply [--out DIR]]]",
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
get, go mod tidy, the go.mod diff, go build ./...; when the copy builds and
nothing blocks, its go.mod and go.sum replace the module's (or, with --out
DIR, the moved module is written to the new directory DIR) and it is built
again there. When the copy does not build, nothing is written and the copy is
kept for reading.

Exit status: 0 without errors, 1 with error findings or a blocking conflict
(or a failed build with --apply), 2 when the check could not run.`,
		Example: `  etcdpilot deps check ~/src/kubernetes
  etcdpilot deps check go.mod --to 3.6.17
  etcdpilot deps check go.mod --to 3.6.17 --apply -w json
  etcdpilot deps check . --to 3.6.17 --apply --out /tmp/moved`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := repo.ParsePolicy(policy)
			if err != nil {
				return err
			}
			o := repo.DepsOptions{Policy: p, Govulncheck: vuln, Resolve: !g.offline}
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
			if out != "" && !apply {
				return fmt.Errorf("--out needs --apply (it is where the moved module is written)")
			}
			if out != "" {
				if err := repo.CheckOut(out); err != nil {
					return err // before the move, not after it
				}
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
				simErr = simulateTree(cmd, g, t, target, repo.SimulateOptions{Apply: apply, Out: out})
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
	check.Flags().BoolVar(&apply, "apply", false, "with --to: do the upgrade in a copy of the top module and build it; when it builds, write its go.mod and go.sum into the module")
	check.Flags().StringVar(&out, "out", "", "with --apply: write the moved module to this new directory instead of into the module")
	cmd.AddCommand(check)
	return cmd
}

// simulateTree simulates the upgrade for every module that uses etcd.
func simulateTree(cmd *cobra.Command, g *globals, t *repo.DepsTree, target string, so repo.SimulateOptions) error {
	return repo.SimulateTree(cmd.Context(), t, target, so, func(gomod string) {
		g.log.Info("simulating {gomod} at etcd {version} ...", "gomod", gomod, "version", target)
	})
}
