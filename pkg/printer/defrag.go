package printer

import (
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/defrag"
)

func defragPlanView(p *defrag.Plan) *view {
	vw := &view{cols: []string{"MEMBER", "VERSION", "ROLE", "DB SIZE", "IN USE", "FREE", "FRAGMENTED", "DEFRAG", "REASON"}}
	vw.head = append(vw.head, fmt.Sprintf("cluster %s: leader %s", p.ClusterID, leaderPolicy(p.Leader)))
	if p.Compact {
		vw.head = append(vw.head, fmt.Sprintf("compact first, keeping %d revisions", p.Keep))
	}
	vw.rows = defragRows(p.Members, true)
	if p.Refusal != "" {
		vw.tail = append(vw.tail, "REFUSED: "+p.Refusal)
	} else if len(p.Chosen()) == 0 {
		vw.tail = append(vw.tail, "Nothing to defragment.")
	}
	return vw
}

func leaderPolicy(p string) string {
	if p == defrag.LeaderInPlace {
		return "defragmented in place, last"
	}
	return "defragmented last, after a hand-off"
}

func defragRows(ms []defrag.Member, decision bool) [][]string {
	var rows [][]string
	for _, m := range ms {
		role := "follower"
		if m.Leader {
			role = "leader"
		}
		row := []string{m.Name, dash(m.Version), role, defrag.Bytes(m.DBSize), defrag.Bytes(m.InUse), defrag.Bytes(m.Free), fmt.Sprintf("%.0f%%", m.Fragmented)}
		if decision {
			yes := "no"
			if m.Defrag {
				yes = "yes"
			}
			row = append(row, yes, m.Reason)
		}
		rows = append(rows, row)
	}
	return rows
}

func defragReportView(r *defrag.Report) *view {
	title := "Defragmentation"
	if r.Kind == "space-recover" {
		title = "NOSPACE recovery"
	}
	vw := &view{head: []string{fmt.Sprintf("%s: %s in %s", title, r.State, r.Took.Round(time.Millisecond))}}
	if r.Error != "" {
		vw.head = append(vw.head, "Error: "+r.Error)
	}
	vw.cols = []string{"MEMBER", "BEFORE", "AFTER", "IN USE", "DEFRAGMENTED", "REASON"}
	after := map[string]defrag.Member{}
	for _, m := range r.After {
		after[m.Name] = m
	}
	for _, m := range r.Before {
		a, ok := after[m.Name]
		size := "-"
		if ok {
			size = defrag.Bytes(a.DBSize)
		}
		done := "no"
		for _, e := range r.Entries {
			if e.Member == m.Name && e.Status == "done" {
				done = "yes (" + e.Detail + ")"
			}
		}
		vw.rows = append(vw.rows, []string{m.Name, defrag.Bytes(m.DBSize), size, defrag.Bytes(a.InUse), done, m.Reason})
	}
	if len(r.Alarms) > 0 {
		vw.tail = append(vw.tail, "Alarms raised: "+r.Alarms.String())
	} else if r.Kind == "space-recover" && r.State == "done" {
		vw.tail = append(vw.tail, "No alarm raised; a write was accepted.")
	}
	vw.tail = append(vw.tail, "Journal: "+r.Journal)
	return vw
}

func alarmsView(a defrag.AlarmList) *view {
	vw := &view{cols: []string{"MEMBER", "ID", "ALARM", "STATE"}}
	for _, x := range a {
		vw.rows = append(vw.rows, []string{dash(x.Member), x.ID, x.Alarm, x.State})
	}
	if len(a) == 0 {
		return lines("no alarm raised")
	}
	return vw
}
