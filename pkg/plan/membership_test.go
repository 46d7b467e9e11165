package plan_test

import (
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
)

// TestMembershipFindings: a disagreement blocks the hop into 3.6 as
// membership-inconsistent; a member whose backend could not be read
// blocks it as membership-unchecked, naming the member and why, never a
// clean plan. A hop within 3.5 is not concerned.
func TestMembershipFindings(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	cl := plan.Cluster{Live: true, Members: []plan.Member{{Name: "m1", Version: "3.5.36", Reachable: true}, {Name: "m2", Version: "3.5.36", Reachable: true}, {Name: "m3", Version: "3.5.36", Reachable: true}}}
	fs := []membercheck.Finding{
		{Kind: membercheck.Learner, ID: "a1", Name: "m3", SeenIn: []string{"m1", "m3"}},
		membercheck.NotRead("m2", "b2", "read the stream at 1048576: unexpected EOF"),
	}
	p, err := plan.Make(cat, cl, plan.Options{Target: "3.6.17", Membership: fs})
	if err != nil {
		t.Fatal(err)
	}
	got := codes(p.Blockers)
	if got[plan.CodeMembership] != 1 || got[plan.CodeMembershipUnchecked] != 1 {
		t.Fatalf("blockers %+v", p.Blockers)
	}
	for _, b := range p.Blockers {
		if b.Code == plan.CodeMembershipUnchecked && (b.Member != "m2" || !strings.Contains(b.Message, "unexpected EOF") || !strings.Contains(b.Message, "incomplete") || !strings.Contains(b.Reason, "bring m2 back")) {
			t.Errorf("unchecked: %+v", b)
		}
	}
	p, _ = plan.Make(cat, cl, plan.Options{Target: "3.5.36", Membership: fs})
	if got := codes(p.Blockers); got[plan.CodeMembership]+got[plan.CodeMembershipUnchecked] != 0 {
		t.Errorf("within 3.5: %+v", p.Blockers)
	}
}
