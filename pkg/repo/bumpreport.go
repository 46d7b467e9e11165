package repo

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// describeLines records which lines moved and which the bump left alone.
func (r *BumpResult) describeLines(scan *Result, moved []Pin) {
	in := map[string]bool{}
	for _, p := range moved {
		if p.Version != r.To && !in[p.Minor] {
			in[p.Minor] = true
			r.Lines = append(r.Lines, p.Minor)
		}
	}
	sort.Strings(r.Lines)
	for _, l := range scan.Lines {
		if !in[l.Minor] && l.Minor != version.Minor(r.To) {
			r.Untouched = append(r.Untouched, l.Minor)
		}
	}
}

// stale lists the pins the fresh scan still finds selected, movable and
// not on the target.
func (r *BumpResult) stale(sel []selector, o BumpOptions) []Pin {
	left := map[string]bool{}
	for _, l := range append(r.Left, r.Reported...) {
		left[fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Start)] = true
	}
	var out []Pin
	for _, p := range r.After.Pins {
		if !selected(sel, p) || p.Version == r.To || left[fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Start)] || r.goKept[p.File+"\x00"+p.Module] {
			continue
		}
		if why, _ := leaveReason(p, r.To, o); why != "" {
			continue
		}
		out = append(out, p)
	}
	return out
}

// hopNotes lists the catalog's notes for each version the bump moves
// away from.
func hopNotes(cat *catalog.Catalog, pins []Pin, target string) []HopNote {
	if cat == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []HopNote
	for _, p := range pins {
		if p.Version == target || seen[p.Version] || !cat.Known(p.Version) {
			continue
		}
		seen[p.Version] = true
		n := HopNote{From: p.Version, To: target}
		fixed := map[string]bool{}
		for _, c := range cat.CVEsAffecting(target) {
			fixed[c.ID] = true
		}
		for _, c := range cat.CVEsAffecting(p.Version) {
			if !fixed[c.ID] {
				n.CVEsFixed = append(n.CVEsFixed, c.ID+" ("+c.Severity+"): "+c.Title)
			}
		}
		still := map[string]bool{}
		for _, is := range cat.IssuesAffecting(target) {
			still[is.ID] = true
		}
		for _, is := range cat.IssuesAffecting(p.Version) {
			if !still[is.ID] {
				n.IssuesFixed = append(n.IssuesFixed, is.ID+": "+is.Title)
			}
		}
		if version.Minor(p.Version) != version.Minor(target) {
			if h, ok := cat.HopInto(version.Minor(target)); ok {
				n.Minimum, n.MinimumMet = h.Minimum, version.Compare(p.Version, h.Minimum) >= 0
			}
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return version.Compare(out[i].From, out[j].From) < 0 })
	return out
}

// regenerateScript names the tree's script that regenerates expected test
// output (kops' hack/update-expected.sh) when the bump touched test data.
func regenerateScript(dir string, files []string) string {
	touched := false
	for _, f := range files {
		touched = touched || testPath(f)
	}
	for _, s := range []string{"hack/update-expected.sh"} {
		if _, err := os.Stat(filepath.Join(dir, s)); err == nil && touched {
			return s
		}
	}
	return ""
}

// Moved counts the pins of line minor the bump rewrites.
func (r *BumpResult) Moved(minor string) int { n, _ := r.count(minor); return n }

// Files counts the files with pins of line minor the bump rewrites.
func (r *BumpResult) Files(minor string) int { _, f := r.count(minor); return f }

func (r *BumpResult) count(minor string) (pins, files int) {
	for _, c := range r.Changes {
		n := 0
		for _, p := range c.Pins {
			if p.Minor == minor {
				n++
			}
		}
		pins += n
		if n > 0 {
			files++
		}
	}
	return pins, files
}

// Closing is the bump's last line. After a write it comes from the fresh
// scan, never from the plan.
func (r *BumpResult) Closing() string {
	n := 0
	for _, c := range r.Changes {
		n += len(c.Pins)
	}
	left := ""
	if len(r.Left) > 0 {
		left = fmt.Sprintf("; %d selected pins were NOT moved (listed above)", len(r.Left))
	}
	if len(r.Pending) > 0 {
		left += fmt.Sprintf("; NOT finished: %d things to do (listed above)", len(r.Pending))
	}
	if r.WriteError != "" {
		return fmt.Sprintf("%d pins in %d files were to become %s, but %s%s", n, len(r.Changes), r.To, r.WriteError, left)
	}
	if !r.Written {
		if n == 0 {
			return fmt.Sprintf("dry run: nothing to change, every selected pin is already %s%s", r.To, left)
		}
		return fmt.Sprintf("dry run: %d pins in %d files would become %s; nothing was written%s", n, len(r.Changes), r.To, left)
	}
	at := 0
	for _, p := range r.After.Pins {
		if p.Rewritable() && p.Version == r.To {
			at++
		}
	}
	if len(r.Stale) > 0 {
		return fmt.Sprintf("a new scan finds %d selected pins still not %s: %s", len(r.Stale), r.To, describe(r.Stale))
	}
	done := fmt.Sprintf("rewrote %d pins in %d files; ", n, len(r.Changes))
	if n == 0 {
		done = "nothing to change; "
	}
	return fmt.Sprintf("%sa new scan finds %d pins at %s and none of the selected pins it could move stale%s", done, at, r.To, left)
}

// pending lists what rewriting text cannot finish: the go.sum beside a
// go.mod whose etcd modules moved (its hashes come from the module
// proxy), and the fork releases a moved replace now names.
func pending(dir string, changes []FileChange, target string, byGo map[string]error) []string {
	var out []string
	for _, c := range changes {
		if filepath.Base(c.File) != "go.mod" {
			continue
		}
		mod := filepath.Dir(c.File)
		err, ran := byGo[mod]
		switch {
		case ran && err == nil:
			continue
		case ran:
			out = append(out, goModPending(mod, err))
		case exists(filepath.Join(dir, mod, "go.sum")):
			out = append(out, fmt.Sprintf("%s: the hashes of the new versions are not known without the module proxy: run go mod tidy in %s (or etcdpilot deps check %s --to %s --apply)", filepath.Join(mod, "go.sum"), mod, mod, target))
		}
		var so *sumOnly
		if errors.As(err, &so) && so.forks {
			continue // the fork's releases were downloaded: published
		}
		forks := map[string]bool{}
		for _, p := range c.Pins {
			if p.Fork != "" {
				forks[forkRepo(p.Fork)] = true
			}
		}
		for _, f := range slices.Sorted(maps.Keys(forks)) {
			out = append(out, fmt.Sprintf("%s: the replaces now name %s modules at %s with the fork's own suffix: that release of the fork is assumed, check it is published (go list -m -versions)", c.File, f, target))
		}
	}
	return out
}

// forkRepo is a fork's module path without etcd's module directory
// (github.com/k3s-io/etcd for github.com/k3s-io/etcd/api/v3).
func forkRepo(fork string) string {
	if i := strings.LastIndex(fork, "/etcd/"); i >= 0 {
		return fork[:i+len("/etcd")]
	}
	return path.Dir(fork)
}

// missingChecksums names the checksum tables that hold a selected release
// and not the target: the archive's SHA-256 comes from etcd's release
// (SHA256SUMS), which a text rewrite cannot know.
func missingChecksums(scan *Result, sel []selector, target string, filled map[string]bool) []string {
	type table struct{ file, name string }
	has, needs := map[table]bool{}, map[table]int{}
	for _, p := range scan.Pins {
		if p.Kind != KindChecksum {
			continue
		}
		t := table{p.File, p.Module}
		if p.Version == target {
			has[t] = true
		}
		if selected(sel, p) && needs[t] == 0 {
			needs[t] = p.Line
		}
	}
	var out []string
	for t, line := range needs {
		if !has[t] && !filled[t.file+"\x00"+t.name] {
			out = append(out, fmt.Sprintf("%s:%d: %s has no %s entry: add the SHA-256 of etcd v%s's archive (https://github.com/etcd-io/etcd/releases/download/v%s/SHA256SUMS; repo bump --checksums SHA256SUMS writes it)", t.file, line, t.name, target, target, target))
		}
	}
	sort.Strings(out)
	return out
}
