package printer

import (
	"fmt"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

func statusView(cl *status.Cluster) *view {
	hash := cl.Hash.Result
	if cl.Hash.Revision != 0 {
		hash += fmt.Sprintf(" at revision %d", cl.Hash.Revision)
	}
	if cl.Hash.Detail != "" {
		hash += " (" + cl.Hash.Detail + ")"
	}
	vw := &view{
		head: []string{fmt.Sprintf("cluster %s: %s, leader %s, %d/%d voting members reachable (quorum %d), cluster version %s, hashes %s",
			cl.ClusterID, strings.ToUpper(cl.Health), dash(cl.Leader), cl.ReachableVoters, cl.Voters, cl.Quorum, dash(cl.ClusterVersion), hash)},
		cols: []string{"NAME", "ID", "ENDPOINT", "VERSION", "CLUSTER", "STORAGE", "ROLE", "TERM", "INDEX", "APPLIED", "REVISION", "DB SIZE", "IN USE", "ALARMS", "ERROR"},
	}
	if cl.Downgrade != "" {
		vw.head = append(vw.head, fmt.Sprintf("  downgrade to %s enabled (etcdpilot downgrade apply finishes it, downgrade cancel undoes it)", cl.Downgrade))
	}
	for _, r := range cl.Reasons {
		vw.head = append(vw.head, "  ! "+r)
	}
	for _, m := range cl.Members {
		role := "follower"
		switch {
		case m.IsLearner:
			role = "learner"
		case !m.Reachable:
			role = "-"
		case m.IsLeader:
			role = "leader"
		}
		row := []string{dash(m.Name), m.ID, dash(m.Endpoint), dash(m.ServerVersion), dash(m.ClusterVersion), dash(m.StorageVersion), role}
		if m.Reachable {
			row = append(row, fmt.Sprint(m.RaftTerm), fmt.Sprint(m.RaftIndex), fmt.Sprint(m.AppliedIndex), fmt.Sprint(m.Revision), progress.Bytes(m.DBSize), progress.Bytes(m.DBSizeInUse))
		} else {
			row = append(row, "-", "-", "-", "-", "-", "-")
		}
		vw.rows = append(vw.rows, append(row, dash(strings.Join(m.Alarms, ",")), dash(m.Error)))
	}
	return vw
}
