package plan

import (
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// CodeMembership blocks a hop into 3.6 while the members' backends
// disagree with the member list.
const CodeMembership = "membership-inconsistent"

// CodeMembershipUnchecked blocks it while a member's backend could not be
// read: the check is incomplete.
const CodeMembershipUnchecked = "membership-unchecked"

const membershipLink = "https://etcd.io/blog/2025/upgrade_from_3.5_to_3.6_issue/"

// membership: etcd 3.6 reads the membership from the backend (v3store),
// 3.5 from the v2store. Where a 3.5 bug left them apart, the hop into 3.6
// fails ("too many learner members") or brings removed members back.
func (pl *planner) membership() {
	into36 := false
	for _, s := range pl.p.Path {
		into36 = into36 || (s.Kind == "minor" && version.Minor(s.To) == "3.6")
	}
	if !into36 {
		return
	}
	for _, f := range pl.opts.Membership {
		code := CodeMembership
		if f.Kind == membercheck.Unread {
			code = CodeMembershipUnchecked
		}
		pl.block(Finding{Code: code, Member: f.Name, Message: f.Message(), Reason: f.Fix(), Link: membershipLink})
	}
}
