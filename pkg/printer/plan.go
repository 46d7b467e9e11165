package printer

import (
	"fmt"
	"io"

	"github.com/etcdpilot/etcdpilot/pkg/plan"
)

func planView(p *plan.Plan) *view {
	vw := &view{layout: func(w io.Writer) error { return planTable(w, p) }}
	vw.head = []string{fmt.Sprintf("target %s (%s): %d steps, %d blockers, %d warnings", p.Target, p.Direction, len(p.Path), len(p.Blockers), len(p.Warnings))}
	for _, s := range p.Path {
		vw.rows = append(vw.rows, []string{"step", fmt.Sprint(s.Index), s.From, s.To, s.Kind})
	}
	for _, f := range p.Blockers {
		vw.rows = append(vw.rows, []string{"blocker", f.Code, wrap(f.Message)})
	}
	for _, f := range p.Warnings {
		vw.rows = append(vw.rows, []string{"warning", f.Code, wrap(f.Message)})
	}
	return vw
}

func planTable(w io.Writer, p *plan.Plan) error {
	src := "given with --from"
	if p.Current.Live {
		src = "live"
	}
	fmt.Fprintf(w, "Current state (%s)", src)
	if p.Current.ClusterVersion != "" {
		fmt.Fprintf(w, ": cluster version %s", p.Current.ClusterVersion)
	}
	if p.Current.Health != "" {
		fmt.Fprintf(w, ", %s", p.Current.Health)
	}
	fmt.Fprintln(w)
	rows := [][]string{{"  MEMBER", "SERVER", "STORAGE", "ROLE", "NOTE"}}
	for _, m := range p.Current.Members {
		role := "voter"
		if m.IsLearner {
			role = "learner"
		}
		rows = append(rows, []string{"  " + m.Name, dash(m.Version), dash(m.StorageVersion), role, dash(m.Error)})
	}
	if err := Table(w, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTarget %s (%s)\n", p.Target, p.Direction)
	if len(p.Path) > 0 {
		fmt.Fprintln(w, "\nPath")
		rows = [][]string{{"  #", "FROM", "TO", "KIND", "REQUIREMENT"}}
		for _, s := range p.Path {
			rows = append(rows, []string{fmt.Sprintf("  %d", s.Index), s.From, s.To, s.Kind, dash(s.Requirement)})
		}
		if err := Table(w, rows); err != nil {
			return err
		}
		for _, s := range p.Path {
			fmt.Fprintf(w, "  step %d: %s\n", s.Index, wrap(s.Reason))
			if s.Link != "" {
				fmt.Fprintf(w, "          see: %s\n", s.Link)
			}
		}
	} else if p.Direction == "none" {
		fmt.Fprintln(w, "Every member already runs the target: nothing to do.")
	}
	if d := p.Downgrade; d != nil {
		verdict := "possible"
		if !d.Possible {
			verdict = "NOT possible in place"
		}
		fmt.Fprintf(w, "\nDowngrade: %s (%s)\n  %s\n", verdict, d.Method, d.Reason)
		for i, s := range d.Steps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		if d.Link != "" {
			fmt.Fprintf(w, "  see %s\n", d.Link)
		}
	}
	findings(w, "Blockers", p.Blockers)
	findings(w, "Warnings", p.Warnings)
	if p.CVEsNotApplicable > 0 {
		fmt.Fprintf(w, "\n%d CVE(s) of the current versions are not listed: they need etcd's auth, which this cluster has off.\n", p.CVEsNotApplicable)
	}
	if p.Blocked() {
		fmt.Fprintf(w, "\n%d blocker(s): clear them before changing the cluster.\n", len(p.Blockers))
	}
	return nil
}

func findings(w io.Writer, title string, fs []plan.Finding) {
	fmt.Fprintf(w, "\n%s (%d)\n", title, len(fs))
	for _, f := range fs {
		fmt.Fprintf(w, "  [%s] %s\n", f.Code, f.Message)
		fmt.Fprintf(w, "      why: %s\n", wrap(f.Reason))
		if f.Link != "" {
			fmt.Fprintf(w, "      see: %s\n", f.Link)
		}
	}
}
