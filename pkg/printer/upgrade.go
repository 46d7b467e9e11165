package printer

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func init() {
	renderers["*upgrade.Report"] = func(w io.Writer, v any) error { return reportTable(w, v.(*upgrade.Report)) }
	renderers["*upgrade.Journal"] = func(w io.Writer, v any) error { return journalTable(w, v.(*upgrade.Journal)) }
}

func reportTable(w io.Writer, r *upgrade.Report) error {
	fmt.Fprintf(w, "Upgrade to %s: %s in %s\n", r.Target, r.State, r.Took.Round(time.Millisecond))
	if r.Error != "" {
		fmt.Fprintf(w, "Error: %s\n", r.Error)
	}
	names := make([]string, 0, len(r.From))
	for n := range r.From {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := [][]string{{"MEMBER", "BEFORE", "AFTER"}}
	for _, n := range names {
		rows = append(rows, []string{n, r.From[n], dash(r.To[n])})
	}
	fmt.Fprintln(w)
	if err := Table(w, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCluster version: %s\n", dash(r.ClusterVersion))
	if len(r.RolledBack) > 0 {
		fmt.Fprintf(w, "Rolled back: %v\n", r.RolledBack)
	}
	if r.Snapshot != "" {
		fmt.Fprintf(w, "Pre-upgrade snapshot: %s\n", r.Snapshot)
	}
	fmt.Fprintf(w, "Journal: %s\n", r.Journal)
	if r.Probe != nil {
		fmt.Fprintln(w)
		probeTable(w, r.Probe)
	}
	return nil
}

func probeTable(w io.Writer, p *probe.Result) {
	lin := "yes"
	if !p.Linearizable {
		lin = "NO: " + p.CheckNote
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	Table(w, [][]string{
		{"AVAILABILITY PROBE", ""},
		{"writes", fmt.Sprintf("%d (%d failed, %d retried after a dropped proposal)", p.Writes, p.FailedWrites, p.RetriedWrites)},
		{"longest write stall", ms(p.LongestGap)},
		{"write latency", fmt.Sprintf("p50 %s, p99 %s, max %s", ms(p.P50), ms(p.P99), ms(p.Max))},
		{"reads", fmt.Sprint(p.Reads)},
		{"leader changes", fmt.Sprint(p.LeaderChanges)},
		{"lost acknowledged writes", fmt.Sprint(len(p.Lost))},
		{"linearizable", lin},
		{"total time", p.Duration.Round(time.Millisecond).String()},
	})
	for _, e := range p.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

func journalTable(w io.Writer, j *upgrade.Journal) error {
	fmt.Fprintf(w, "Upgrade to %s of cluster %s: %s (started %s, updated %s)\n", j.Target, j.ClusterID, j.State,
		j.StartedAt.Format(time.RFC3339), j.UpdatedAt.Format(time.RFC3339))
	if j.Error != "" {
		fmt.Fprintf(w, "Error: %s\n", j.Error)
	}
	if j.Snapshot != "" {
		fmt.Fprintf(w, "Pre-upgrade snapshot: %s\n", j.Snapshot)
	}
	fmt.Fprintln(w)
	rows := [][]string{{"TIME", "STEP", "STATUS", "DETAIL"}}
	for _, e := range j.Entries {
		rows = append(rows, []string{e.At.Format("15:04:05.000"), e.Step, e.Status, dash(e.Detail)})
	}
	return Table(w, rows)
}
