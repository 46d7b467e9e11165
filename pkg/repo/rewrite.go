package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// rewrite replaces the version text (and the digest) of the pins in one
// file.
func rewrite(dir, file string, pins []Pin, target, suffix string, digests map[string]string) (*FileChange, error) {
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
	for i := range pins {
		p := &pins[i]
		l := newLines[p.Line-1]
		if l[p.Start:p.End] != p.Text {
			return nil, fmt.Errorf("%s:%d changed while etcdpilot was reading it; scan again", file, p.Line)
		}
		tag := newText(*p, target, suffix)
		p.NewText = tag
		if p.Digest != "" {
			l = l[:p.DigestStart] + digests[tag] + l[p.DigestEnd:]
		}
		newLines[p.Line-1] = l[:p.Start] + tag + l[p.End:]
	}
	nb := []byte(strings.Join(newLines, "\n"))
	return &FileChange{File: file, Pins: pins, Diff: unifiedDiff(file, lines, newLines), old: old, new: nb}, nil
}

// MinorOf is the etcd line of a version: 3.6 for 3.6.9.
func MinorOf(v string) string { return version.Minor(v) }

// newText keeps the pin's format: v prefix, build suffix; client/v2's
// versions are v2.3XX.N.
func newText(p Pin, target, suffix string) string {
	if p.Kind == KindGoMod && p.Fork != "" {
		return forkVersion(p, target)
	}
	if p.Kind == KindGoMod {
		return targetVersion(p.Module, target)
	}
	t := target
	if strings.HasPrefix(p.Text, "v") {
		t = "v" + t
	}
	if suffixRe.MatchString(p.Text) {
		t += suffix
	}
	return t
}

// forkVersion is a fork's version of etcd release target in the form the
// pin has (forks publish client/v2 as v2.30M.P after etcd stopped); the
// fork's own suffix stays after the pin's text.
func forkVersion(p Pin, target string) string {
	if strings.HasPrefix(p.Text, "v2.3") {
		minor, patch, _ := strings.Cut(strings.TrimPrefix(target, "3."), ".")
		return "v2.30" + minor + "." + patch
	}
	return "v" + target
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
