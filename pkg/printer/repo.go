package printer

import (
	"fmt"
	"io"
	"sort"
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

func depsView(r *repo.DepsReport) *view {
	vw := &view{layout: func(w io.Writer) error { return depsTable(w, r) }}
	for _, f := range r.Findings {
		vw.rows = append(vw.rows, []string{f.Severity, f.Code, f.Message})
	}
	for _, u := range r.Updates {
		vw.rows = append(vw.rows, []string{"update", u.From, u.To, u.Kind, u.Action})
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

func depsTable(w io.Writer, r *repo.DepsReport) error {
	fmt.Fprintf(w, "%s\n", r.GoMod)
	if len(r.EtcdModules) > 0 {
		var mods []string
		for m, v := range r.EtcdModules {
			mods = append(mods, m+" "+v)
		}
		fmt.Fprintf(w, "etcd modules: %s\n", strings.Join(sorted(mods), ", "))
	}
	fmt.Fprintln(w)
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
		fmt.Fprintln(w)
		rows := [][]string{{"UPDATE", "FROM", "TO", "KIND", "POLICY"}}
		for _, u := range r.Updates {
			rows = append(rows, []string{fmt.Sprintf("%d etcd modules", len(u.Modules)), u.From, u.To, u.Kind, u.Action})
		}
		return Table(w, rows)
	}
	return nil
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
