package printer

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/repo"
)

// BumpMarkdown writes a bump as a Markdown report for its pull request:
// the lines moved, the files and pins, the pins left and why, and the
// catalog's notes for each hop.
func BumpMarkdown(w io.Writer, r *repo.BumpResult) {
	fmt.Fprintf(w, "## etcd: move to %s\n\n", r.To)
	var from []string
	seen := map[string]bool{}
	goMod := false
	for _, c := range r.Changes {
		for _, p := range c.Pins {
			goMod = goMod || p.Kind == repo.KindGoMod
			if !seen[p.Version] && p.Version != r.To {
				seen[p.Version] = true
				from = append(from, p.Version)
			}
		}
	}
	sort.Strings(from)
	for _, l := range r.Lines {
		fmt.Fprintf(w, "- Line %s: %d pins in %d files move to %s.\n", l, r.Moved(l), r.Files(l), r.To)
	}
	if len(from) > 0 {
		fmt.Fprintf(w, "- From: %s.\n", strings.Join(from, ", "))
	}
	for _, l := range r.Untouched {
		fmt.Fprintf(w, "- Line %s is left as it is.\n", l)
	}
	fmt.Fprintf(w, "\n### Files and pins\n\n")
	if len(r.Changes) == 0 {
		fmt.Fprintln(w, "None: every selected pin is already at the target.")
	} else {
		fmt.Fprintln(w, "| File | Line | From | To | Kind |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, c := range r.Changes {
			for _, p := range c.Pins {
				fmt.Fprintf(w, "| `%s` | %d | `%s` | `%s` | %s |\n", c.File, p.Line, p.Text, p.NewText, kindName(p))
			}
		}
	}
	fmt.Fprintf(w, "\n### Pins left as they are\n\n")
	left := append(append([]repo.LeftPin{}, r.Left...), r.Reported...)
	if len(left) == 0 {
		fmt.Fprintln(w, "None.")
	} else {
		fmt.Fprintln(w, "| File | Line | Version | Why |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, p := range left {
			fmt.Fprintf(w, "| `%s` | %d | `%s` | %s |\n", p.File, p.Line, p.Text, p.Reason)
		}
	}
	if len(r.Pending) > 0 {
		fmt.Fprintf(w, "\n### Not finished by this change\n\n")
		for _, p := range r.Pending {
			fmt.Fprintf(w, "- [ ] %s\n", p)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n### Release notes for each hop (etcdpilot's catalog)\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "\n#### %s → %s\n\n", n.From, n.To)
			writeList(w, "CVEs fixed", n.CVEsFixed)
			writeList(w, "Known issues fixed", n.IssuesFixed)
			if n.Minimum != "" {
				met := "met"
				if !n.MinimumMet {
					met = "**not met**: upgrade running clusters to it first"
				}
				fmt.Fprintf(w, "- Clusters must run at least %s before they move to %s (%s).\n", n.Minimum, repo.MinorOf(n.To), met)
			}
			if len(n.CVEsFixed) == 0 && len(n.IssuesFixed) == 0 && n.Minimum == "" {
				fmt.Fprintln(w, "- No CVE or known issue in the catalog is fixed by this hop.")
			}
		}
	}
	fmt.Fprintf(w, "\n### After this change\n\n")
	if goMod {
		fmt.Fprintln(w, "- go.mod changed: run `go mod tidy` (Kubernetes: `hack/update-vendor.sh`).")
	}
	if r.Regenerate != "" {
		fmt.Fprintf(w, "- Test data changed: run `%s` to regenerate the expected output.\n", r.Regenerate)
	}
	fmt.Fprintf(w, "- %s.\n", strings.TrimSuffix(r.Closing(), "."))
}

func writeList(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "- %s:\n", title)
	for _, it := range items {
		fmt.Fprintf(w, "  - %s\n", it)
	}
}

func kindName(p repo.Pin) string {
	if p.Module != "" {
		return p.Kind + " `" + p.Module + "`"
	}
	return p.Kind
}
