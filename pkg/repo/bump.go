package repo

import (
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
}

// FileChange is one file's rewrite.
type FileChange struct {
	File string `json:"file"`
	Pins []Pin  `json:"pins"`
	Diff string `json:"diff"`
	old  []byte
	new  []byte
}

// BumpResult is what a bump did (or would do).
type BumpResult struct {
	To      string       `json:"to"`
	Changes []FileChange `json:"changes"`
	Skipped []Pin        `json:"skipped,omitempty"` // legacy paths that cannot be bumped
	Written bool         `json:"written"`
	After   *Result      `json:"after,omitempty"` // the scan after writing
}

var suffixRe = regexp.MustCompile(`-\d+$`)

// Bump rewrites every pin under dir to the target version, keeping each
// pin's format (a "v" prefix, a build suffix), and proves afterwards by a
// new scan that no stale pin is left.
func Bump(dir, to string, o BumpOptions) (*BumpResult, error) {
	target, err := version.Canonical(to)
	if err != nil {
		return nil, fmt.Errorf("--to %q: %w", to, err)
	}
	target = version.Plain(target)
	if o.Catalog != nil && !o.Force {
		if !o.Catalog.Known(target) {
			return nil, fmt.Errorf("etcd %s is not in the release catalog; known versions near it: %s (or --force)", target, strings.Join(o.Catalog.Nearest(target, 5), ", "))
		}
	}
	if o.ImageSuffix == "" {
		o.ImageSuffix = "-0"
	}
	if !suffixRe.MatchString(o.ImageSuffix) {
		return nil, fmt.Errorf("--image-suffix %q: want a build suffix like -0", o.ImageSuffix)
	}
	scan, err := Scan(dir)
	if err != nil {
		return nil, err
	}
	if len(scan.Errors) > 0 {
		return nil, fmt.Errorf("some files could not be read, so a bump could leave stale pins; fix these first:\n  %s", strings.Join(scan.Errors, "\n  "))
	}
	res := &BumpResult{To: target, Changes: []FileChange{}}
	var pins []Pin
	for _, p := range scan.Pins {
		switch {
		case p.Kind == KindGoMod && o.SkipGoMod, p.Kind == KindMinimum:
		case p.Kind == KindGoMod && !lockstepModule(p.Module):
			res.Skipped = append(res.Skipped, p)
		default:
			pins = append(pins, p)
		}
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
		c, err := rewrite(dir, f, byFile[f], target, o.ImageSuffix)
		if err != nil {
			return nil, err
		}
		res.Changes = append(res.Changes, *c)
	}
	if o.DryRun {
		return res, nil
	}
	for _, c := range res.Changes {
		p := filepath.Join(dir, c.File)
		st, err := os.Stat(p)
		if err != nil {
			return res, err
		}
		if err := fsutil.WriteFile(p, c.new, st.Mode().Perm()); err != nil {
			return res, fmt.Errorf("write %s: %w", c.File, err)
		}
	}
	res.Written = true
	if res.After, err = Scan(dir); err != nil {
		return res, err
	}
	if stale := Mismatches(res.After, target, o.SkipGoMod); len(stale) > 0 {
		return res, fmt.Errorf("after the bump %d pins are still not %s: %s", len(stale), target, describe(stale))
	}
	return res, nil
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

// rewrite replaces the version text of the pins in one file.
func rewrite(dir, file string, pins []Pin, target, suffix string) (*FileChange, error) {
	old, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(old), "\n")
	newLines := append([]string(nil), lines...)
	// Right to left within a line, so that earlier offsets stay valid.
	sort.Slice(pins, func(i, j int) bool {
		if pins[i].Line != pins[j].Line {
			return pins[i].Line < pins[j].Line
		}
		return pins[i].Start > pins[j].Start
	})
	for _, p := range pins {
		l := newLines[p.Line-1]
		if l[p.Start:p.End] != p.Text {
			return nil, fmt.Errorf("%s:%d changed while etcdpilot was reading it; scan again", file, p.Line)
		}
		newLines[p.Line-1] = l[:p.Start] + newText(p, target, suffix) + l[p.End:]
	}
	nb := []byte(strings.Join(newLines, "\n"))
	return &FileChange{File: file, Pins: pins, Diff: unifiedDiff(file, lines, newLines), old: old, new: nb}, nil
}

// newText keeps the pin's format: v prefix, build suffix.
func newText(p Pin, target, suffix string) string {
	t := target
	if strings.HasPrefix(p.Text, "v") || p.Kind == KindGoMod {
		t = "v" + t
	}
	if suffixRe.MatchString(p.Text) {
		t += suffix
	}
	return t
}

// Mismatches lists pins that are not at version (go.mod's legacy paths
// excluded; go.mod entirely with skipGoMod).
// CheckResult is what repo check found.
type CheckResult struct {
	Expect     string `json:"expect"`
	Pins       int    `json:"pins"`
	Mismatches []Pin  `json:"mismatches"`
}

// Check scans dir and lists the pins that are not v.
func Check(dir, v string, skipGoMod bool) (*CheckResult, error) {
	r, err := Scan(dir)
	if err != nil {
		return nil, err
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("files could not be read, the check is incomplete:\n  %s", strings.Join(r.Errors, "\n  "))
	}
	return &CheckResult{Expect: v, Pins: len(r.Pins), Mismatches: append([]Pin{}, Mismatches(r, v, skipGoMod)...)}, nil
}

func Mismatches(r *Result, v string, skipGoMod bool) []Pin {
	var out []Pin
	for _, p := range r.Pins {
		if p.Kind == KindMinimum || p.Kind == KindGoMod && (skipGoMod || !lockstepModule(p.Module)) {
			continue
		}
		if p.Version != v {
			out = append(out, p)
		}
	}
	return out
}

func describe(pins []Pin) string {
	var parts []string
	for _, p := range pins {
		parts = append(parts, fmt.Sprintf("%s:%d %s (%s)", p.File, p.Line, p.Text, p.Kind))
	}
	return strings.Join(parts, ", ")
}

// unifiedDiff of two versions of a file with the same number of lines
// (a bump changes text within lines only), three lines of context.
func unifiedDiff(file string, a, b []string) string {
	var changed []int
	for i := range a {
		if a[i] != b[i] {
			changed = append(changed, i)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- a/%s\n+++ b/%s\n", file, file)
	for i := 0; i < len(changed); {
		start := max(0, changed[i]-3)
		end := min(len(a), changed[i]+4)
		j := i + 1
		for j < len(changed) && changed[j]-3 <= end {
			end = min(len(a), changed[j]+4)
			j++
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", start+1, end-start, start+1, end-start)
		for k := start; k < end; k++ {
			if a[k] == b[k] {
				sb.WriteString(" " + a[k] + "\n")
			} else {
				sb.WriteString("-" + a[k] + "\n+" + b[k] + "\n")
			}
		}
		i = j
	}
	return sb.String()
}
