package printer

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

func statusView(cl *status.Cluster) *view {
	hash := cl.Hash.Result
	switch {
	case cl.Hash.Compaction:
		hash += fmt.Sprintf(" at compaction revision %d", cl.Hash.Revision)
	case cl.Hash.Revision != 0:
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
	if len(cl.Alarms) > 0 {
		vw.head = append(vw.head, "  ! alarms: "+cl.Alarms.String())
	}
	vw.head = append(vw.head, certLines(cl.Certificates, time.Now())...)
	vw.head = append(vw.head, advisoryLines(cl)...)
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

// certLines sums the certificates up in one line, then one line for each
// that needs attention.
func certLines(cs []certs.Cert, now time.Time) []string {
	if len(cs) == 0 {
		return nil
	}
	var first *certs.Cert
	var out []string
	for i := range cs {
		c := &cs[i]
		if c.Verdict != certs.OK {
			what := c.Left(now)
			if c.Error != "" {
				what = "unreadable: " + c.Error
			}
			out = append(out, fmt.Sprintf("  ! %s (%s): %s", c.Describe(), dash(c.Subject), what))
		}
		if c.Error == "" && (first == nil || c.NotAfter.Before(first.NotAfter)) {
			first = c
		}
	}
	sum := fmt.Sprintf("  certificates: %d read", len(cs))
	if first != nil {
		sum += fmt.Sprintf(", the first to expire is %s on %s (%s)", first.Describe(), first.NotAfter.Format(time.DateOnly), first.Left(now))
	}
	return append([]string{sum}, out...)
}

// advisoryLines: per version run, what concerns it, or that nothing does.
func advisoryLines(cl *status.Cluster) []string {
	var out []string
	for _, a := range cl.Advisories {
		head := fmt.Sprintf("  etcd %s (%s):", a.Version, strings.Join(a.Members, ", "))
		if a.Newest != "" {
			head += " newest patch " + a.Newest + ";"
		}
		switch len(a.Items) {
		case 0:
			head += " no known issue or CVE applies"
		default:
			head += fmt.Sprintf(" %d known issue(s) and CVE(s) apply", len(a.Items))
		}
		if a.NotApplicable > 0 {
			head += fmt.Sprintf(" (%d more need etcd auth, which is %s)", a.NotApplicable, authWord(cl.Auth))
		}
		out = append(out, head)
		for _, it := range a.Items {
			out = append(out, "    "+it)
		}
	}
	return out
}

func authWord(a string) string {
	if a == "" {
		return "unknown"
	}
	return a
}
