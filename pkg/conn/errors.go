package conn

import "strings"

// ProposalDropped reports etcd's "raft proposal dropped": the member
// refused the request before it entered the raft log (a leader moving
// leadership, a follower that knows no leader), so sending it again cannot
// apply it twice.
func ProposalDropped(err error) bool {
	return err != nil && strings.Contains(err.Error(), "raft proposal dropped")
}
