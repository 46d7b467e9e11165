package printer

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/repo"
)

func init() {
	renderers["*repo.Result"] = func(w io.Writer, v any) error { return scanTable(w, v.(*repo.Result)) }
	renderers["*repo.BumpResult"] = func(w io.Writer, v any) error { return bumpTable(w, v.(*repo.BumpResult)) }
	renderers["*repo.DepsReport"] = func(w io.Writer, v any) error { return depsTable(w, v.(*repo.DepsReport)) }
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
	switch {
	case len(r.Changes) == 0:
		fmt.Fprintf(w, "every pin is already %s\n", r.To)
	case r.Written:
		fmt.Fprintf(w, "\nbumped %d pins in %d files to %s; a new scan finds no stale pin\n", n, len(r.Changes), r.To)
	default:
		fmt.Fprintf(w, "\ndry run: %d pins in %d files would become %s; nothing was written\n", n, len(r.Changes), r.To)
	}
	for _, p := range r.Skipped {
		fmt.Fprintf(w, "not bumped: %s:%d %s %s (legacy module path; move to go.etcd.io/etcd/*/v3 by hand)\n", p.File, p.Line, p.Module, p.Text)
	}
	return nil
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
