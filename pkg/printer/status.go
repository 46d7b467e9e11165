package printer

import (
	"fmt"
	"io"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

func init() {
	renderers["*status.Cluster"] = func(w io.Writer, v any) error { return statusTable(w, v.(*status.Cluster)) }
}

func statusTable(w io.Writer, cl *status.Cluster) error {
	hash := cl.Hash.Result
	if cl.Hash.Revision != 0 {
		hash += fmt.Sprintf(" at revision %d", cl.Hash.Revision)
	}
	if cl.Hash.Detail != "" {
		hash += " (" + cl.Hash.Detail + ")"
	}
	fmt.Fprintf(w, "cluster %s: %s, leader %s, %d/%d voting members reachable (quorum %d), cluster version %s, hashes %s\n",
		cl.ClusterID, strings.ToUpper(cl.Health), dash(cl.Leader), cl.ReachableVoters, cl.Voters, cl.Quorum, dash(cl.ClusterVersion), hash)
	for _, r := range cl.Reasons {
		fmt.Fprintf(w, "  ! %s\n", r)
	}
	rows := [][]string{{"NAME", "ID", "ENDPOINT", "VERSION", "CLUSTER", "STORAGE", "ROLE", "TERM", "INDEX", "APPLIED", "REVISION", "DB SIZE", "IN USE", "ALARMS", "ERROR"}}
	for _, m := range cl.Members {
		role := "follower"
		switch {
		case !m.Reachable:
			role = "-"
		case m.IsLearner:
			role = "learner"
		case m.IsLeader:
			role = "leader"
		}
		if m.IsLearner && !m.Reachable {
			role = "learner"
		}
		row := []string{dash(m.Name), m.ID, dash(m.Endpoint), dash(m.ServerVersion), dash(m.ClusterVersion), dash(m.StorageVersion), role}
		if m.Reachable {
			row = append(row, fmt.Sprint(m.RaftTerm), fmt.Sprint(m.RaftIndex), fmt.Sprint(m.AppliedIndex), fmt.Sprint(m.Revision), progress.Bytes(m.DBSize), progress.Bytes(m.DBSizeInUse))
		} else {
			row = append(row, "-", "-", "-", "-", "-", "-")
		}
		row = append(row, dash(strings.Join(m.Alarms, ",")), dash(m.Error))
		rows = append(rows, row)
	}
	return Table(w, rows)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
