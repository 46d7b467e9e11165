package printer

import (
	"fmt"
	"io"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/repo"
)

func scanView(r *repo.Result) *view {
	return &view{layout: func(w io.Writer) error { return scanTable(w, r) }, rows: pinRows(r.Pins)[1:]}
}

func bumpView(r *repo.BumpResult) *view {
	vw := &view{layout: func(w io.Writer) error { return bumpTable(w, r) }}
	for _, c := range r.Changes {
		vw.rows = append(vw.rows, pinRows(c.Pins)[1:]...)
	}
	vw.tail = []string{bumpSummary(r)}
	return vw
}

func checkView(r *repo.CheckResult) *view {
	vw := &view{}
	for _, p := range r.Mismatches {
		vw.head = append(vw.head, fmt.Sprintf("%s:%d: %s pins %s, expected %s", p.File, p.Line, p.Kind, p.Text, r.Expect))
	}
	return vw
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
	rows := [][]string{{"FILE:LINE", "VERSION", "AS WRITTEN", "KIND", "AGREES"}}
	for _, p := range pins {
		agree := "yes"
		if p.Disagrees {
			agree = "NO"
		}
		if p.Kind == repo.KindMinimum {
			agree = "-"
		}
		kind := p.Kind
		if p.Module != "" {
			kind += " " + p.Module
		}
		rows = append(rows, []string{fmt.Sprintf("%s:%d", p.File, p.Line), p.Version, p.Text, kind, agree})
	}
	return rows
}

func scanTable(w io.Writer, r *repo.Result) error {
	if err := Table(w, pinRows(r.Pins)); err != nil {
		return err
	}
	verdict := "all pins agree"
	if !r.Agree {
		verdict = "pins DISAGREE (marked NO)"
	}
	fmt.Fprintf(w, "\n%d pins in %d files scanned; most common etcd version %s; %s\n", len(r.Pins), r.Files, dash(r.Version), verdict)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	return nil
}

func bumpTable(w io.Writer, r *repo.BumpResult) error {
	for _, c := range r.Changes {
		fmt.Fprint(w, c.Diff)
	}
	n := 0
	for _, c := range r.Changes {
		n += len(c.Pins)
	}
	if n > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, bumpSummary(r))
	for _, p := range r.Skipped {
		fmt.Fprintf(w, "not bumped: %s:%d %s %s (legacy module path; move to go.etcd.io/etcd/*/v3 by hand)\n", p.File, p.Line, p.Module, p.Text)
	}
	return nil
}

func bumpSummary(r *repo.BumpResult) string {
	n := 0
	for _, c := range r.Changes {
		n += len(c.Pins)
	}
	switch {
	case len(r.Changes) == 0:
		return fmt.Sprintf("every pin is already %s", r.To)
	case r.Written:
		return fmt.Sprintf("bumped %d pins in %d files to %s; a new scan finds no stale pin", n, len(r.Changes), r.To)
	}
	return fmt.Sprintf("dry run: %d pins in %d files would become %s; nothing was written", n, len(r.Changes), r.To)
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
	fmt.Fprintf(w, "\nsimulated upgrade %s -> %s (from etcd %s's go.mod files; nothing was changed)\n", from, sim.Target, sim.Target)
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
	if len(sim.New) > 0 {
		fmt.Fprintf(w, "  %d more modules become requirements (go mod tidy adds them)\n", len(sim.New))
	}
	for _, c := range sim.Conflicts {
		mark := "note"
		if c.Blocking {
			mark = "CONFLICT"
		}
		fmt.Fprintf(w, "  %s [%s] %s\n", mark, c.Kind, c.Message)
	}
	if a := sim.Applied; a != nil {
		fmt.Fprintf(w, "\napplied in a copy (%s):\n%s", a.Dir, a.Diff)
		if a.BuildOK {
			fmt.Fprintln(w, "go build ./...: ok")
		} else {
			fmt.Fprintf(w, "go build ./... FAILED:\n%s\n", a.Output)
		}
	}
	return nil
}
