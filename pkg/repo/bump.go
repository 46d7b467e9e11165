package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// BumpOptions say how to bump.
type BumpOptions struct {
	// From selects what moves: versions ("3.6.12") or lines ("3.5").
	// Empty: the pins of the target's own line.
	From []string
	// ImageSuffix replaces the build suffix of pins that carry one
	// (3.5.21-0 → 3.6.16-0); default "-0".
	ImageSuffix string
	DryRun      bool
	// Force allows a downgrade, a minor skip or a version the catalog
	// does not know.
	Force bool
	// SkipGoMod leaves go.mod's etcd modules alone (client libraries often
	// follow their own schedule).
	SkipGoMod bool
	Catalog   *catalog.Catalog
	// Digests maps an image tag ("3.6.9-0", "v3.6.9") to its digest, for
	// pins that pin by digest (--digest, --digests).
	Digests map[string]string
	// Checksums are the SHA-256 of etcd's Linux archives ("3.6.10 amd64"),
	// from a release's SHA256SUMS (--checksums): a checksum table that
	// lacks the target gets its entry.
	Checksums map[string]string
	// Releases, when Checksums is nil, is where the target's SHA256SUMS
	// is downloaded from for a checksum table that lacks it (etcd's
	// releases: binaries.DefaultMirror; empty: offline, the table is named as
	// left to do). A download that fails says so among the things left.
	Releases string
	// Go is the go command that moves a go.mod's etcd modules as Go does
	// (go get, go mod tidy: go.sum and the raised requirements with them);
	// empty: the text rewrite only, and go.sum is named as left to do.
	Go string
}

// FileChange is one file's rewrite.
type FileChange struct {
	File string `json:"file"`
	Pins []Pin  `json:"pins"`
	Diff string `json:"diff"`
	old  []byte
	new  []byte
}

// LeftPin is a pin a bump did not rewrite, and why.
type LeftPin struct {
	Pin
	Reason string `json:"reason"`
}

// HopNote is what the catalog says about moving from one version to the
// target: the CVEs and known issues it fixes, the minimum it requires.
type HopNote struct {
	From        string   `json:"from"`
	To          string   `json:"to"`
	CVEsFixed   []string `json:"cvesFixed,omitempty"`
	IssuesFixed []string `json:"issuesFixed,omitempty"`
	Minimum     string   `json:"minimum,omitempty"`
	MinimumMet  bool     `json:"minimumMet,omitempty"`
}

// BumpResult is what a bump did (or would do).
type BumpResult struct {
	To string `json:"to"`
	// From are the selectors; Lines the lines whose pins moved; Untouched
	// the lines the repository carries that the bump left alone.
	From      []string     `json:"from"`
	Lines     []string     `json:"lines"`
	Untouched []string     `json:"untouched,omitempty"`
	Changes   []FileChange `json:"changes"`
	// Left are pins the bump selected but did not move (the exit status
	// is not zero then); Reported are pins never rewritten (minimums,
	// history).
	Left     []LeftPin `json:"left,omitempty"`
	Reported []LeftPin `json:"reported,omitempty"`
	Written  bool      `json:"written"`
	// DryRun: nothing was to be written.
	DryRun bool `json:"dryRun,omitempty"`
	// WriteError says why nothing was written although it was asked for.
	WriteError string `json:"writeError,omitempty"`
	// After is the scan after writing; Stale the selected pins it still
	// finds off the target (none, or the bump failed).
	After *Result   `json:"after,omitempty"`
	Stale []Pin     `json:"stale,omitempty"`
	Notes []HopNote `json:"notes,omitempty"`
	// Pending is what the bump could not finish by rewriting text: a
	// go.sum's hashes, a fork's release assumed (the exit status is not
	// zero then).
	Pending []string `json:"pending,omitempty"`
	// goKept are the go.mod requirements (file and module) that go get
	// left where they were: not stale.
	goKept map[string]bool
	// Regenerate names the script that regenerates expected test output,
	// when the tree has one and the bump touched test data.
	Regenerate string `json:"regenerate,omitempty"`
}

var (
	suffixRe = regexp.MustCompile(`-\d+$`)
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// CheckDigest refuses a digest that is not sha256: and 64 hex digits.
func CheckDigest(d string) error {
	if !digestRe.MatchString(d) {
		return fmt.Errorf("digest %q: want sha256: followed by 64 lower-case hex digits", d)
	}
	return nil
}

// selector is one --from: a version or a line.
type selector struct{ version, minor string }

func (s selector) matches(p Pin) bool {
	if s.minor != "" {
		return p.Minor == s.minor
	}
	return p.Version == s.version
}

func parseSelectors(from []string, target string) ([]selector, error) {
	if len(from) == 0 {
		return []selector{{minor: version.Minor(target)}}, nil
	}
	var out []selector
	for _, f := range from {
		f = strings.TrimPrefix(strings.TrimSpace(f), "v")
		if version.IsMinor(f) {
			out = append(out, selector{minor: version.Minor(f + ".0")})
			continue
		}
		v, err := version.Canonical(f)
		if err != nil {
			return nil, fmt.Errorf("--from %q: want a version (3.6.12) or a line (3.6)", f)
		}
		out = append(out, selector{version: version.Plain(v)})
	}
	return out, nil
}

func selected(sel []selector, p Pin) bool {
	for _, s := range sel {
		if s.matches(p) {
			return true
		}
	}
	return false
}

// Bump rewrites the pins of the target's line (or those --from selects) to
// the target, keeping each pin's format (a "v" prefix, a build suffix),
// and proves afterwards with a new scan that no selected pin is stale.
// Pins it will not move are listed with the reason.
func Bump(dir, to string, o BumpOptions) (*BumpResult, error) {
	target, err := version.Canonical(to)
	if err != nil {
		return nil, fmt.Errorf("--to %q: %w", to, err)
	}
	target = version.Plain(target)
	if !strings.HasPrefix(target, "3.") {
		return nil, fmt.Errorf("--to %s: etcdpilot bumps etcd 3 pins; another major is refused", target)
	}
	if o.Catalog != nil && !o.Force && !o.Catalog.Known(target) {
		return nil, fmt.Errorf("etcd %s is not in the release catalog; known versions near it: %s (or --force)", target, strings.Join(o.Catalog.Nearest(target, 5), ", "))
	}
	if o.ImageSuffix == "" {
		o.ImageSuffix = "-0"
	}
	if !suffixRe.MatchString(o.ImageSuffix) {
		return nil, fmt.Errorf("--image-suffix %q: want a build suffix like -0", o.ImageSuffix)
	}
	for tag, d := range o.Digests {
		if err := CheckDigest(d); err != nil {
			return nil, fmt.Errorf("digest for %s: %w", tag, err)
		}
	}
	sel, err := parseSelectors(o.From, target)
	if err != nil {
		return nil, err
	}
	if !o.DryRun {
		// One bump of a tree at a time: from the scan to the last write.
		lock, err := fsutil.TryLockDir(dir)
		if errors.Is(err, fsutil.ErrLocked) {
			return nil, fmt.Errorf("another repo bump is working on %s: nothing was written; bump again when it is done", dir)
		}
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	scan, err := Scan(dir)
	if err != nil {
		return nil, err
	}
	if len(scan.Errors) > 0 {
		return nil, fmt.Errorf("some files could not be read, so a bump could leave stale pins; fix these first:\n  %s", strings.Join(scan.Errors, "\n  "))
	}
	if o.Catalog != nil {
		scan.MarkUnreleased(o.Catalog.NotListed)
	}
	res := &BumpResult{To: target, From: selectorNames(sel), Changes: []FileChange{}}
	var pins []Pin
	var noDigest []string
	for _, p := range scan.Pins {
		if !selected(sel, p) {
			continue
		}
		if why := listCrossing(scan, p, target); why != "" && p.Rewritable() {
			res.Left = append(res.Left, LeftPin{p, why})
			continue
		}
		if why, report := leaveReason(p, target, o); why != "" {
			if report {
				res.Reported = append(res.Reported, LeftPin{p, why})
			} else {
				res.Left = append(res.Left, LeftPin{p, why})
			}
			continue
		}
		if p.Digest != "" && p.Version != target {
			tag := newText(p, target, o.ImageSuffix)
			if o.Digests[tag] == "" {
				noDigest = append(noDigest, fmt.Sprintf("%s:%d %s:%s@%s needs the digest of %s:%s", p.File, p.Line, p.Image, p.Text, p.Digest[:19]+"...", p.Image, tag))
				continue
			}
		}
		pins = append(pins, p)
	}
	if len(pins) == 0 && len(res.Left) == 0 && len(res.Reported) == 0 && len(noDigest) == 0 {
		return nil, noMatch(scan, sel, o.From)
	}
	if len(noDigest) > 0 {
		return nil, fmt.Errorf("these pins pin the image by digest, and a new tag beside the old digest would keep running the old image; nothing was written: give each new tag's digest with --digest TAG=sha256:... or --digests images.yaml:\n  %s", strings.Join(noDigest, "\n  "))
	}
	if err := checkDirection(pins, target, o.Force); err != nil {
		return nil, err
	}
	byFile := map[string][]Pin{}
	for _, p := range pins {
		if p.Version != target || (suffixRe.MatchString(p.Text) && !strings.HasSuffix(p.Text, o.ImageSuffix)) {
			byFile[p.File] = append(byFile[p.File], p)
		}
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		c, err := rewrite(dir, f, byFile[f], target, o.ImageSuffix, o.Digests)
		if err != nil {
			return nil, err
		}
		res.Changes = append(res.Changes, *c)
	}
	res.describeLines(scan, pins)
	res.Notes = hopNotes(o.Catalog, pins, target)
	byGo := res.moveGoMods(dir, target, o.Go)
	res.dependentSums(dir, o.Go)
	res.Pending = append(pending(dir, res.Changes, target, byGo), dependents(dir, res.Changes)...)
	sums := o.Checksums
	if sums == nil && o.Releases != "" && needsChecksums(scan, sel, target) {
		var err error
		if sums, err = FetchChecksums(context.Background(), o.Releases, target); err != nil {
			res.Pending = append(res.Pending, fmt.Sprintf("the release's checksums: %v (give the file with --checksums)", err))
		}
	}
	filled, err := res.addChecksums(dir, checksumEntries(dir, scan, sel, target, sums))
	if err != nil {
		return nil, err
	}
	res.Pending = append(res.Pending, missingChecksums(scan, sel, target, filled)...)
	res.Regenerate = regenerateScript(dir, files)
	if o.DryRun {
		res.DryRun = true
		return res, nil
	}
	if err := writeAll(dir, res.Changes); err != nil {
		res.WriteError = err.Error()
		return res, err
	}
	res.Written = true
	if res.After, err = Scan(dir); err != nil {
		return res, err
	}
	if o.Catalog != nil {
		res.After.MarkUnreleased(o.Catalog.NotListed)
	}
	res.Stale = res.stale(sel, o)
	if len(res.Stale) > 0 {
		return res, fmt.Errorf("after the bump %d selected pins are still not %s: %s", len(res.Stale), target, describe(res.Stale))
	}
	return res, nil
}

// leaveReason says why a selected pin stays as it is ("" when it moves),
// and whether that is by design (report: minimums, history, examples,
// newer pins, --skip-go-mod) or a pin left behind that needs a person
// (a legacy module path, a module with no release for the target).
func leaveReason(p Pin, target string, o BumpOptions) (why string, report bool) {
	switch {
	case p.Kind == KindChecksum:
		return "a checksum of a release archive, in a table keyed by release: the new release gets an entry of its own (listed under TO DO), the old one stays", true
	case p.Kind == KindMinimum:
		return "a minimum (a floor the code enforces), not a pin: raise it on purpose", true
	case p.History:
		return "history (release notes, a CHANGELOG, docs prose): it says what was", true
	case p.Example && strings.HasSuffix(p.File, "_test.go"):
		return "a Go test's input: tests choose their versions", true
	case p.Example:
		return "an example in a comment or a printed message", true
	case p.Unreleased:
		return fmt.Sprintf("%s is not in the release catalog: a test's or a doc's own version", p.Version), true
	case p.Build != "" && p.Version != target:
		return fmt.Sprintf("the tag carries a build of the image's own (%s): the tag built for %s is not known here; write it by hand from the image's repository", p.Build, target), false
	case p.Kind == KindGoMod && o.SkipGoMod:
		return "go.mod left alone (--skip-go-mod)", true
	case version.Compare(p.Version, target) > 0 && p.Minor == version.Minor(target) && !o.Force:
		return fmt.Sprintf("newer than %s within its line: never moved back (--force if you mean it)", target), true
	case p.Kind == KindGoMod && !lockstepModule(p.Module):
		return "a legacy module path: move to go.etcd.io/etcd/*/v3 by hand", false
	case p.Kind == KindGoMod && p.Fork == "" && targetVersion(p.Module, target) == "":
		return fmt.Sprintf("%s has no release for etcd %s: %s", p.Module, target, moved[p.Module]), false
	}
	return "", false
}

// listCrossing refuses to move a version in a list (bundled versions)
// onto a line the list already holds: that would list the line twice, and
// dropping a line from a list is a decision for a person.
func listCrossing(scan *Result, p Pin, target string) string {
	if p.Kind != KindList || p.Minor == version.Minor(target) {
		return ""
	}
	for _, q := range scan.Pins {
		if q.File == p.File && q.Line == p.Line && q.Minor == version.Minor(target) {
			return fmt.Sprintf("the list also holds line %s (%s): moving %s there would list it twice; edit the list by hand", q.Minor, q.Text, p.Text)
		}
	}
	return ""
}

// noMatch explains a selection that matches no pin.
func noMatch(scan *Result, sel []selector, from []string) error {
	var carried []string
	for _, l := range scan.Lines {
		var vs []string
		for v, n := range l.Versions {
			vs = append(vs, fmt.Sprintf("%s (%d)", v, n))
		}
		sort.Strings(vs)
		carried = append(carried, fmt.Sprintf("%s: %s", l.Minor, strings.Join(vs, ", ")))
	}
	have := "no etcd pins at all"
	if len(carried) > 0 {
		have = "its pins are " + strings.Join(carried, "; ")
	}
	if len(from) > 0 {
		return fmt.Errorf("--from %s matches no pin in the repository (%s); nothing was written", strings.Join(from, ","), have)
	}
	return fmt.Errorf("the repository pins nothing of line %s (%s): to move a line across a minor, name it with --from (for example --from %s); nothing was written", sel[0].minor, have, firstMinor(scan))
}

func firstMinor(scan *Result) string {
	if len(scan.Lines) > 0 {
		return scan.Lines[len(scan.Lines)-1].Minor
	}
	return "3.5"
}

func selectorNames(sel []selector) []string {
	var out []string
	for _, s := range sel {
		if s.minor != "" {
			out = append(out, s.minor)
		} else {
			out = append(out, s.version)
		}
	}
	return out
}

// checkDirection refuses a downgrade or a minor skip from any pin.
func checkDirection(pins []Pin, target string, force bool) error {
	if force {
		return nil
	}
	for _, p := range pins {
		if version.Compare(target, p.Version) < 0 {
			return fmt.Errorf("%s:%d pins %s, newer than %s: that would be a downgrade (use --force if you mean it)", p.File, p.Line, p.Text, target)
		}
		if version.MinorIndex(target)-version.MinorIndex(p.Version) > 1 {
			return fmt.Errorf("%s:%d pins %s: going to %s skips a minor, which etcd does not support (bump to %s first, or --force)", p.File, p.Line, p.Text, target, version.NextMinor(version.Minor(p.Version)))
		}
	}
	return nil
}

// writeAll writes every changed file or none: each file is checked
// writable, then staged beside itself, then every stage renamed into
// place; a rename that fails puts the files already replaced back.
func writeAll(dir string, changes []FileChange) error {
	type staged struct {
		path, tmp string
		old       []byte
		mode      os.FileMode
	}
	var stages []staged
	abort := func() {
		for _, s := range stages {
			os.Remove(s.tmp)
		}
	}
	for _, c := range changes {
		p := filepath.Join(dir, c.File)
		st, err := os.Stat(p)
		if err != nil {
			abort()
			return fmt.Errorf("nothing was written: %s: %w", c.File, err)
		}
		// An immutable or read-only file refuses this open; nothing is
		// changed by it.
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			abort()
			return fmt.Errorf("nothing was written: %s cannot be written (%v): make it writable, then bump again", c.File, err)
		}
		f.Close()
		tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".etcdpilot-*")
		if err != nil {
			abort()
			return fmt.Errorf("nothing was written: staging %s: %w", c.File, err)
		}
		stages = append(stages, staged{path: p, tmp: tmp.Name(), old: c.old, mode: st.Mode().Perm()})
		_, werr := tmp.Write(c.new)
		if werr == nil {
			werr = tmp.Sync()
		}
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), st.Mode().Perm())
		}
		if werr != nil {
			abort()
			return fmt.Errorf("nothing was written: staging %s: %w", c.File, werr)
		}
	}
	for i, s := range stages {
		if err := os.Rename(s.tmp, s.path); err != nil {
			for _, done := range stages[:i] {
				fsutil.WriteFile(done.path, done.old, done.mode)
			}
			abort()
			return fmt.Errorf("nothing was written: replacing %s failed (%v); the %d files replaced before it were put back", s.path, err, i)
		}
	}
	for _, s := range stages {
		fsutil.SyncDir(filepath.Dir(s.path))
	}
	return nil
}
