package printer

import (
	"fmt"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/member"
)

func memberListView(l *member.List) *view {
	vw := &view{cols: []string{"ID", "NAME", "ROLE", "STATUS", "PEER URLS", "CLIENT URLS"}}
	for _, m := range l.Members {
		role, st := "voter", "started"
		if m.IsLearner {
			role = "LEARNER"
		}
		if !m.Started {
			st = "unstarted"
		}
		vw.rows = append(vw.rows, []string{m.ID, dash(m.Name), role, st, strings.Join(m.PeerURLs, ","), dash(strings.Join(m.ClientURLs, ","))})
	}
	return vw
}

func kindOf(learner bool) string {
	if learner {
		return "learner"
	}
	return "voting member"
}

func memberAddView(r *member.AddResult) *view {
	m := r.Member
	msg := fmt.Sprintf("added %s as a %s (ID %s, peer URLs %s)", r.Name, kindOf(m.IsLearner), m.ID, strings.Join(m.PeerURLs, ","))
	if r.AlreadyPresent {
		msg = fmt.Sprintf("%s is already a member (%s, ID %s, peer URLs %s); nothing changed", r.Name, kindOf(m.IsLearner), m.ID, strings.Join(m.PeerURLs, ","))
	}
	vw := lines(msg, "", "start it with:", fmt.Sprintf("  --name=%s --initial-cluster=%s --initial-cluster-state=%s", r.Name, r.InitialCluster, r.InitialClusterState))
	if r.StartedByRuntime {
		vw.head = append(vw.head, "(the sandbox started it)")
	}
	if m.IsLearner {
		vw.head = append(vw.head, fmt.Sprintf("then, once it has caught up: etcdpilot member promote %s", r.Name))
	}
	for _, w := range r.Warnings {
		vw.head = append(vw.head, "warning: "+w)
	}
	return vw
}
