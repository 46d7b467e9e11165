package cluster

import (
	"sort"

	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Pick says which member a caller wants.
type Pick struct {
	// Exclude names members that must not be picked.
	Exclude []string
	// Prefer ranks members it accepts above the others (for a hand-off:
	// members already on the new version).
	Prefer func(*status.Member) bool
	// SpareLeader picks a follower over the leader when both are equally
	// caught up (a snapshot stream should not load the leader).
	SpareLeader bool
}

// PickMember returns the healthy voting member that is most caught up
// (highest applied index) among the preferred ones, or nil when there is
// none.
func PickMember(cl *status.Cluster, p Pick) *status.Member {
	var cands []*status.Member
	for i := range cl.Members {
		m := &cl.Members[i]
		if !m.Reachable || m.IsLearner || len(m.Errors) > 0 || excluded(m, p.Exclude) {
			continue
		}
		cands = append(cands, m)
	}
	if len(cands) == 0 {
		return nil
	}
	pref := func(m *status.Member) bool { return p.Prefer != nil && p.Prefer(m) }
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if pref(a) != pref(b) {
			return pref(a)
		}
		if a.AppliedIndex != b.AppliedIndex {
			return a.AppliedIndex > b.AppliedIndex
		}
		return p.SpareLeader && !a.IsLeader && b.IsLeader
	})
	return cands[0]
}

func excluded(m *status.Member, names []string) bool {
	for _, n := range names {
		if n == m.Name || n == m.ID {
			return true
		}
	}
	return false
}
