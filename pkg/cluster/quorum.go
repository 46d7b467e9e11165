package cluster

import (
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// CheckStop refuses to take a member down for a restart while another
// voting member is down: on three members that would leave one, and the
// cluster without quorum.
func CheckStop(cl *status.Cluster, name string) error {
	for _, o := range cl.Members {
		if o.Name == name || o.IsLearner || o.Reachable {
			continue
		}
		return fmt.Errorf("member %s is down (%s): taking %s down now would leave %d of %d voting members (quorum %d); bring %s back first",
			label(o), o.Error, name, cl.ReachableVoters-1, cl.Voters, cl.Quorum, label(o))
	}
	return nil
}

// CheckRemove returns why removing the member (by ID) would leave fewer
// healthy voters than the smaller cluster's quorum, or nil.
func CheckRemove(cl *status.Cluster, id string) error {
	var m *status.Member
	for i := range cl.Members {
		if cl.Members[i].ID == id {
			m = &cl.Members[i]
		}
	}
	if m != nil && m.IsLearner {
		return nil // learners do not vote
	}
	healthyAfter := cl.ReachableVoters
	if m != nil && m.Reachable {
		healthyAfter--
	}
	votersAfter := cl.Voters - 1
	if q := status.Quorum(votersAfter); healthyAfter < q {
		return fmt.Errorf("removing %s leaves %d voting members with quorum %d, but only %d of them are healthy now", id, votersAfter, q, healthyAfter)
	}
	return nil
}

// CheckAddVoter returns why a new voting member would raise quorum beyond
// the voters healthy now, or nil.
func CheckAddVoter(cl *status.Cluster) error {
	if q := status.Quorum(cl.Voters + 1); cl.ReachableVoters < q {
		return fmt.Errorf("a new voter raises quorum to %d but only %d voting members are healthy; it would be lost if the new member does not start (add it as a learner instead)", q, cl.ReachableVoters)
	}
	return nil
}

func label(m status.Member) string {
	if m.Name != "" {
		return m.Name
	}
	return m.ID
}
