package printer

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func reportView(r *upgrade.Report) *view {
	vw := &view{layout: func(w io.Writer) error { return reportTable(w, r) }}
	vw.head = []string{fmt.Sprintf("upgrade to %s: %s in %s, cluster version %s", r.Target, r.State, r.Took.Round(time.Millisecond), dash(r.ClusterVersion))}
	for _, n := range sortedKeys(r.From) {
		vw.rows = append(vw.rows, []string{n, r.From[n], dash(r.To[n])})
	}
	if r.Error != "" {
		vw.tail = append(vw.tail, "error: "+r.Error)
	}
	return vw
}

func journalView(j *engine.Journal) *view {
	vw := &view{layout: func(w io.Writer) error { return journalTable(w, j) }}
	vw.head = []string{fmt.Sprintf("%s to %s of cluster %s: %s", kind(j), j.Target, j.ClusterID, j.State)}
	for _, e := range j.Entries {
		vw.rows = append(vw.rows, []string{e.At.Format(time.RFC3339Nano), e.Step, string(e.Status), e.Detail})
	}
	return vw
}

func kind(j *engine.Journal) string {
	if j.Kind == "" {
		return "upgrade"
	}
	return j.Kind
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func reportTable(w io.Writer, r *upgrade.Report) error {
	change := "upgrade"
	if r.Kind != "" {
		change = r.Kind
	}
	fmt.Fprintf(w, "%s to %s: %s in %s\n", strings.ToUpper(change[:1])+change[1:], r.Target, r.State, r.Took.Round(time.Millisecond))
	if r.Error != "" {
		fmt.Fprintf(w, "Error: %s\n", r.Error)
	}
	rows := [][]string{{"MEMBER", "BEFORE", "AFTER"}}
	for _, n := range sortedKeys(r.From) {
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
		fmt.Fprintf(w, "Pre-%s snapshot: %s\n", change, r.Snapshot)
	}
	if r.Journal != "" {
		fmt.Fprintf(w, "Journal: %s\n", r.Journal)
	}
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

func journalTable(w io.Writer, j *engine.Journal) error {
	what := fmt.Sprintf("%s to %s", strings.ToUpper(kind(j)[:1])+kind(j)[1:], j.Target)
	if kind(j) == "recover" {
		what = "Recovery " + j.Target
	}
	fmt.Fprintf(w, "%s of cluster %s: %s (started %s, updated %s)\n", what, dash(j.ClusterID), j.State,
		j.StartedAt.Format(time.RFC3339), j.UpdatedAt.Format(time.RFC3339))
	if j.Error != "" {
		fmt.Fprintf(w, "Error: %s\n", j.Error)
	}
	if j.Reason != "" {
		fmt.Fprintf(w, "Abandoned because: %s\n", j.Reason)
	}
	if j.Snapshot != "" {
		fmt.Fprintf(w, "Pre-%s snapshot: %s\n", kind(j), j.Snapshot)
	}
	fmt.Fprintln(w)
	rows := [][]string{{"TIME", "STEP", "STATUS", "DETAIL"}}
	for _, e := range j.Entries {
		rows = append(rows, []string{e.At.Format("15:04:05.000"), e.Step, string(e.Status), dash(e.Detail)})
	}
	if err := Table(w, rows); err != nil {
		return err
	}
	if len(j.Planned) > 0 && !engine.Finished(j.State) {
		fmt.Fprintln(w, "\nPlanned steps of the current hop:")
		for i, s := range j.Planned {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
	}
	return nil
}
