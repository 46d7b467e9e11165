package printer

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/repo"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func scanView(r *repo.Result) *view {
	return &view{layout: func(w io.Writer) error { return scanTable(w, r) }, rows: pinRows(r.Pins)[1:]}
}

func bumpView(r *repo.BumpResult) *view {
	vw := &view{layout: func(w io.Writer) error { return bumpTable(w, r) }}
	for _, c := range r.Changes {
		vw.rows = append(vw.rows, pinRows(c.Pins)[1:]...)
	}
	vw.tail = bumpSummary(r)
	return vw
}

func checkView(r *repo.CheckResult) *view {
	vw := &view{}
	for _, p := range r.Mismatches {
		vw.head = append(vw.head, fmt.Sprintf("%s:%d: %s pins %s, expected %s", p.File, p.Line, p.Kind, p.Text+p.Build, expected(r.Expect, p.Minor)))
	}
	for _, p := range r.Staging {
		vw.head = append(vw.head, fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason))
	}
	for _, ref := range r.Inventory {
		vw.head = append(vw.head, fmt.Sprintf("%s (refPath of %s in dependencies.yaml): %s", ref.Path, ref.Dependency, ref.Problem))
	}
	for _, v := range r.Missing {
		vw.head = append(vw.head, fmt.Sprintf("no pin of line %s found: nothing was compared with %s", version.Minor(v), v))
	}
	for _, sk := range r.Skipped {
		vw.head = append(vw.head, "skipped: "+sk)
	}
	if len(r.Unreleased) > 0 {
		vs := map[string]int{}
		for _, p := range r.Unreleased {
			vs[p.Version]++
		}
		vw.tail = append(vw.tail, fmt.Sprintf("not compared: %d test and docs pins at versions the release catalog does not list (%s)", len(r.Unreleased), versionCounts(vs)))
	}
	return vw
}

// expected is the version of check's --expect list on line minor.
func expected(expect []string, minor string) string {
	for _, v := range expect {
		if strings.HasPrefix(v+".", minor+".") {
			return v
		}
	}
	return strings.Join(expect, " or ")
}

func depsView(t *repo.DepsTree) *view {
	vw := &view{layout: func(w io.Writer) error { return depsTreeTable(w, t) }}
	for _, m := range t.Modules {
		for _, f := range m.Findings {
			vw.rows = append(vw.rows, []string{m.GoMod, f.Severity, f.Code, f.Message})
		}
		for _, u := range m.Updates {
			vw.rows = append(vw.rows, []string{m.GoMod, "update", u.From, u.To, u.Kind, u.Action})
		}
		if sim := m.Simulation; sim != nil {
			for _, r := range sim.Raises {
				vw.rows = append(vw.rows, []string{m.GoMod, "raise", r.Path, r.From, r.To, r.Size})
			}
			for _, c := range sim.Conflicts {
				vw.rows = append(vw.rows, []string{m.GoMod, "conflict", c.Kind, c.Message})
			}
		}
	}
	for _, f := range t.Findings {
		vw.rows = append(vw.rows, []string{t.Root, f.Severity, f.Code, f.Message})
	}
	if len(vw.rows) == 0 {
		vw.head = []string{"no findings"}
	}
	return vw
}

func pinRows(pins []repo.Pin) [][]string {
	rows := [][]string{{"FILE:LINE", "VERSION", "AS WRITTEN", "KIND", "LINE", "AGREES", "NOTE"}}
	for _, p := range pins {
		agree := "yes"
		if p.Disagrees {
			agree = "NO"
		}
		if !p.Rewritable() {
			agree = "-"
		}
		kind := p.Kind
		if p.Module != "" {
			kind += " " + p.Module
		}
		rows = append(rows, []string{fmt.Sprintf("%s:%d", p.File, p.Line), p.Version, p.Text + p.Build, kind, p.Minor, agree, dash(pinNote(p))})
	}
	return rows
}

// pinNote says what is special about a pin: a staging image, a digest,
// history, test data.
func pinNote(p repo.Pin) string {
	var n []string
	if p.Staging {
		n = append(n, "STAGING image "+p.Image)
	}
	if p.Build != "" {
		n = append(n, "image build "+p.Build)
	}
	if p.Digest != "" {
		n = append(n, "digest "+shortDigest(p.Digest))
	}
	if p.History {
		n = append(n, "history")
	}
	if p.Example {
		n = append(n, "example")
	}
	if p.Unreleased {
		n = append(n, "not in catalog")
	}
	if p.Test {
		n = append(n, "test")
	}
	return strings.Join(n, ", ")
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "..."
	}
	return d
}

func scanTable(w io.Writer, r *repo.Result) error {
	// Checksum entries are counted by table, not listed: a table keyed by
	// release holds dozens (-w json lists them).
	var shown []repo.Pin
	tables := map[string]int{}
	for _, p := range r.Pins {
		if p.Kind == repo.KindChecksum {
			tables[p.File+": "+p.Module]++
			continue
		}
		shown = append(shown, p)
	}
	if err := Table(w, pinRows(shown)); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d pins in %d files scanned\n", len(shown), r.Files)
	for _, t := range slices.Sorted(maps.Keys(tables)) {
		fmt.Fprintf(w, "checksum table %s: %d releases (never renamed; a bump says which entry to add)\n", t, tables[t])
	}
	for _, sk := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", sk)
	}
	for _, l := range r.Lines {
		verdict := "agree"
		if !l.Agree {
			verdict = "DISAGREE (marked NO)"
		}
		fmt.Fprintf(w, "line %s: %d pins, %s; %s\n", l.Minor, l.Pins, versionCounts(l.Versions), verdict)
	}
	if len(r.Lines) > 1 {
		fmt.Fprintf(w, "the repository carries %d etcd lines; repo bump --to X moves X's line only\n", len(r.Lines))
	}
	var staging, deployed, digests, history, examples, unreleased int
	for _, p := range r.Pins {
		switch {
		case p.History:
			history++
		case p.Example:
			examples++
		case p.Unreleased:
			unreleased++
		}
		if p.Staging {
			staging++
			if p.StagingInUse() {
				deployed++
			}
		}
		if p.Digest != "" {
			digests++
		}
	}
	if staging > 0 {
		fmt.Fprintf(w, "%d pins name a STAGING image, %d of them outside tests and docs (repo check fails on those)\n", staging, deployed)
	}
	if digests > 0 {
		fmt.Fprintf(w, "%d pins pin by digest (repo bump needs the new tag's digest: --digest or --digests)\n", digests)
	}
	if history > 0 {
		fmt.Fprintf(w, "%d pins are history (release notes, CHANGELOGs, docs prose): reported, never bumped\n", history)
	}
	if examples > 0 {
		fmt.Fprintf(w, "%d versions are examples (comments, printed messages, Go tests' inputs): reported, never bumped\n", examples)
	}
	if unreleased > 0 {
		fmt.Fprintf(w, "%d test or docs pins are at versions the release catalog does not list: not compared, never bumped\n", unreleased)
	}
	for _, ref := range r.Inventory {
		if ref.Problem != "" {
			fmt.Fprintf(w, "dependencies.yaml: refPath %s of %s: %s\n", ref.Path, ref.Dependency, ref.Problem)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	return nil
}

// versionCounts reads "3.6.8 ×12, 3.6.4 ×1", the commonest first.
func versionCounts(vs map[string]int) string {
	type vc struct {
		v string
		n int
	}
	var l []vc
	for v, n := range vs {
		l = append(l, vc{v, n})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].n != l[j].n {
			return l[i].n > l[j].n
		}
		return l[i].v > l[j].v
	})
	var out []string
	for _, x := range l {
		out = append(out, fmt.Sprintf("%s ×%d", x.v, x.n))
	}
	return strings.Join(out, ", ")
}

func bumpTable(w io.Writer, r *repo.BumpResult) error {
	for _, c := range r.Changes {
		fmt.Fprint(w, c.Diff)
	}
	if len(r.Changes) > 0 {
		fmt.Fprintln(w)
	}
	for _, l := range bumpSummary(r) {
		fmt.Fprintln(w, l)
	}
	return nil
}

// bumpSummary says what moved, what was left and why, and closes with
// what the fresh scan found.
func bumpSummary(r *repo.BumpResult) []string {
	var out []string
	for _, l := range r.Lines {
		out = append(out, fmt.Sprintf("line %s: %d pins in %d files moved to %s", l, r.Moved(l), r.Files(l), r.To))
	}
	for _, l := range r.Untouched {
		out = append(out, fmt.Sprintf("line %s left alone (name it with --from %s to move it)", l, l))
	}
	for _, p := range r.Reported {
		out = append(out, fmt.Sprintf("reported, not rewritten: %s:%d %s: %s", p.File, p.Line, p.Text+p.Build, p.Reason))
	}
	for _, p := range r.Left {
		out = append(out, fmt.Sprintf("LEFT: %s:%d %s: %s", p.File, p.Line, p.Text+p.Build, p.Reason))
	}
	for _, p := range r.Pending {
		out = append(out, "TO DO: "+p)
	}
	if r.Regenerate != "" && len(r.Changes) > 0 {
		out = append(out, fmt.Sprintf("test data changed: run %s to regenerate the expected output (it holds more than pins)", r.Regenerate))
	}
	return append(out, r.Closing())
}

func depsTreeTable(w io.Writer, t *repo.DepsTree) error {
	for i, m := range t.Modules {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := depsTable(w, m); err != nil {
			return err
		}
	}
	if len(t.Modules) > 1 {
		fmt.Fprintln(w)
		for _, f := range t.Findings {
			fmt.Fprintf(w, "%s: %s\n", strings.ToUpper(f.Severity), f.Message)
		}
		using := 0
		for _, m := range t.Modules {
			if m.Etcd != "" {
				using++
			}
		}
		if len(t.Findings) == 0 && t.Etcd != "" {
			fmt.Fprintf(w, "%d modules, %d of them on etcd: all at %s\n", len(t.Modules), using, t.Etcd)
		}
	}
	return nil
}

func depsTable(w io.Writer, r *repo.DepsReport) error {
	fmt.Fprintf(w, "%s (%s, go %s)", r.GoMod, dash(r.Module), dash(r.Go))
	if r.Etcd != "" {
		fmt.Fprintf(w, ": etcd %s", r.Etcd)
	}
	fmt.Fprintln(w)
	if len(r.EtcdModules) > 0 {
		rows := [][]string{{"  ETCD MODULE", "VERSION", "SET", "IS"}}
		for _, m := range r.EtcdModules {
			rows = append(rows, []string{"  " + m.Path, m.Version, m.Set, m.Describe()})
		}
		if err := Table(w, rows); err != nil {
			return err
		}
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "no findings")
	} else {
		rows := [][]string{{"SEVERITY", "CODE", "FINDING", "LINK"}}
		for _, f := range r.Findings {
			rows = append(rows, []string{strings.ToUpper(f.Severity), f.Code, f.Message, dash(f.Link)})
		}
		if err := Table(w, rows); err != nil {
			return err
		}
	}
	if len(r.Updates) > 0 {
		rows := [][]string{{"UPDATE", "FROM", "TO", "KIND", "POLICY"}}
		for _, u := range r.Updates {
			rows = append(rows, []string{fmt.Sprintf("%d etcd modules", len(u.Modules)), u.From, u.To, u.Kind, u.Action})
		}
		if err := Table(w, rows); err != nil {
			return err
		}
	}
	if sim := r.Simulation; sim != nil {
		return simulationTable(w, r.Etcd, sim)
	}
	return nil
}

func simulationTable(w io.Writer, from string, sim *repo.Simulation) error {
	how := fmt.Sprintf("from etcd %s's go.mod files", sim.Target)
	if len(sim.Commands) > 0 {
		how = "the go command in a copy: " + strings.Join(sim.Commands, "; ")
	}
	changed := "nothing was changed"
	if sim.Applied != nil && len(sim.Applied.Written) > 0 {
		changed = "applied: see below"
	}
	if from == "" {
		fmt.Fprintf(w, "\nthis module does not use etcd, but moving the tree to etcd %s changes it (%s; %s)\n", sim.Target, how, changed)
	} else {
		fmt.Fprintf(w, "\nsimulated upgrade %s -> %s (%s; %s)\n", from, sim.Target, how, changed)
	}
	if sim.GoTo != sim.GoFrom {
		fmt.Fprintf(w, "  go directive: %s -> %s\n", dash(sim.GoFrom), sim.GoTo)
	}
	if len(sim.Raises) > 0 {
		rows := [][]string{{"  RAISED", "FROM", "TO", "SIZE"}}
		for _, r := range sim.Raises {
			rows = append(rows, []string{"  " + r.Path, r.From, r.To, r.Size})
		}
		if err := Table(w, rows); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "  no requirement rises")
	}
	if len(sim.Commands) == 0 && len(sim.New) > 0 {
		fmt.Fprintf(w, "  %d more modules become requirements (go mod tidy adds them)\n", len(sim.New))
	}
	if len(sim.Commands) > 0 && len(sim.New)+len(sim.Removed) > 0 {
		rows := [][]string{{"  ADDED/REMOVED", "VERSION"}}
		for _, r := range sim.New {
			rows = append(rows, []string{"  + " + r.Path, r.To})
		}
		for _, r := range sim.Removed {
			rows = append(rows, []string{"  - " + r.Path, r.From})
		}
		if err := Table(w, rows); err != nil {
			return err
		}
	}
	for _, c := range sim.Conflicts {
		mark := "note"
		if c.Blocking {
			mark = "CONFLICT"
		}
		fmt.Fprintf(w, "  %s [%s] %s\n", mark, c.Kind, c.Message)
	}
	if a := sim.Applied; a != nil {
		fmt.Fprintf(w, "\napplied:\n%s", a.Diff)
		if len(a.Written) > 0 {
			fmt.Fprintf(w, "written: %s\n", strings.Join(a.Written, ", "))
		} else {
			fmt.Fprintf(w, "nothing written; the moved copy is %s\n", a.Dir)
		}
		if a.BuildOK {
			fmt.Fprintf(w, "go build ./... in %s: ok\n", a.Dir)
		} else {
			fmt.Fprintf(w, "go build ./... in %s FAILED:\n%s\n", a.Dir, a.Output)
		}
		for _, n := range a.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	return nil
}
