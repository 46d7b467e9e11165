package repo

import (
	"fmt"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// CheckResult is what repo check found.
type CheckResult struct {
	Expect []string `json:"expect"`
	Pins   int      `json:"pins"`
	// Checked counts the pins of the expected lines that were compared.
	Checked    int   `json:"checked"`
	Mismatches []Pin `json:"mismatches"`
	// Staging are staging images outside test paths, with the promoted
	// reference to use instead.
	Staging []LeftPin `json:"staging,omitempty"`
	// Inventory are dependencies.yaml refPaths that no longer match.
	Inventory []RefPath `json:"inventory,omitempty"`
	// Unreleased are test and docs pins at versions the release catalog
	// does not list (kops tests a custom image as 3.6.99): not compared.
	Unreleased []Pin `json:"unreleased,omitempty"`
	// Missing are the expected versions whose line has no pin at all:
	// the check looked for them and found nothing to compare.
	Missing []string `json:"missing,omitempty"`
	// Skipped are the files the scan did not read (too big); Files counts
	// those it read.
	Skipped []string `json:"skipped,omitempty"`
	Files   int      `json:"filesScanned"`
}

// CheckOptions say what a check compares.
type CheckOptions struct {
	// SkipGoMod leaves go.mod's etcd modules out.
	SkipGoMod bool
	// Unlisted says whether the release catalog covers a version's line
	// but does not list it; test and docs pins at such versions are not
	// compared.
	Unlisted func(v string) bool
}

// Failed says whether the check fails.
func (c *CheckResult) Failed() bool {
	return len(c.Mismatches) > 0 || len(c.Staging) > 0 || len(c.Inventory) > 0 || len(c.Missing) > 0
}

// Check scans dir and lists the pins of each expected version's line that
// are not that version, staging images outside test paths, and stale
// dependencies.yaml refPaths.
func Check(dir string, expect []string, o CheckOptions) (*CheckResult, error) {
	r, err := Scan(dir)
	if err != nil {
		return nil, err
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("files could not be read, the check is incomplete:\n  %s", strings.Join(r.Errors, "\n  "))
	}
	c := &CheckResult{Expect: expect, Pins: len(r.Pins), Mismatches: []Pin{}, Skipped: r.Skipped, Files: r.Files}
	if o.Unlisted != nil {
		r.MarkUnreleased(o.Unlisted)
		for _, p := range r.Pins {
			if p.Unreleased {
				c.Unreleased = append(c.Unreleased, p)
			}
		}
	}
	for _, v := range expect {
		checked := linePins(r, v, o.SkipGoMod)
		c.Checked += len(checked)
		if len(checked) == 0 {
			c.Missing = append(c.Missing, v)
		}
		for _, p := range checked {
			if p.Version != v {
				c.Mismatches = append(c.Mismatches, p)
			}
		}
	}
	for _, p := range r.Pins {
		if p.StagingInUse() {
			c.Staging = append(c.Staging, LeftPin{p, fmt.Sprintf("%s is a staging image; use the promoted %s", p.Image+":"+p.Text, StableImage(p.Text))})
		}
	}
	for _, ref := range r.Inventory {
		if ref.Problem != "" {
			c.Inventory = append(c.Inventory, ref)
		}
	}
	return c, nil
}

// Mismatches lists the pins of v's line that are not v (minimums and
// history excepted; go.mod's legacy paths too, and go.mod entirely with
// skipGoMod).
func Mismatches(r *Result, v string, skipGoMod bool) []Pin {
	var out []Pin
	for _, p := range linePins(r, v, skipGoMod) {
		if p.Version != v {
			out = append(out, p)
		}
	}
	return out
}

// linePins are the pins a check of v compares: v's line, rewritable,
// go.mod's lockstep modules unless skipped.
func linePins(r *Result, v string, skipGoMod bool) []Pin {
	var out []Pin
	for _, p := range r.Pins {
		if !p.Rewritable() || p.Minor != version.Minor(v) || p.Kind == KindGoMod && (skipGoMod || !lockstepModule(p.Module)) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// ParseExpect reads check's --expect versions (v3.6.12, 3.6.12-0 and
// 3.6.12 are one), at most one per line.
func ParseExpect(expect []string) ([]string, error) {
	var out []string
	lines := map[string]string{}
	for _, e := range expect {
		v, err := version.Canonical(strings.TrimPrefix(suffixRe.ReplaceAllString(strings.TrimSpace(e), ""), "v"))
		if err != nil {
			return nil, fmt.Errorf("--expect %q: want an etcd version such as 3.6.12", e)
		}
		v = version.Plain(v)
		m := version.Minor(v)
		if other, ok := lines[m]; ok && other != v {
			return nil, fmt.Errorf("--expect %s and %s are both on line %s: give one version per line", other, v, m)
		}
		lines[m] = v
		out = append(out, v)
	}
	return out, nil
}
