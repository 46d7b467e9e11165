package cluster

import (
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// m is a member row: name, applied index, and flags in a string
// ("L" leader, "l" learner, "x" unreachable, "e" reporting an error).
func m(name string, applied uint64, flags string) status.Member {
	mb := status.Member{Name: name, ID: name + "-id", AppliedIndex: applied, Reachable: !strings.Contains(flags, "x"),
		IsLeader: strings.Contains(flags, "L"), IsLearner: strings.Contains(flags, "l"), ServerVersion: "3.5.36"}
	if strings.Contains(flags, "e") {
		mb.Errors = []string{"NOSPACE"}
	}
	return mb
}

// cl counts voters as status does.
func cl(members ...status.Member) *status.Cluster {
	c := &status.Cluster{Members: members}
	for _, mb := range members {
		if !mb.IsLearner {
			c.Voters++
			if mb.Reachable {
				c.ReachableVoters++
			}
		}
	}
	c.Quorum = status.Quorum(c.Voters)
	return c
}

func TestPickMember(t *testing.T) {
	onNew := func(mb *status.Member) bool { return mb.ServerVersion == "3.6.17" }
	newer := m("m3", 90, "")
	newer.ServerVersion = "3.6.17"
	for _, c := range []struct {
		name string
		cl   *status.Cluster
		pick Pick
		want string
	}{
		{"most caught up", cl(m("m1", 100, "L"), m("m2", 120, ""), m("m3", 110, "")), Pick{}, "m2"},
		{"a tie goes to the first", cl(m("m1", 100, ""), m("m2", 100, "")), Pick{}, "m1"},
		{"a tie spares the leader", cl(m("m1", 100, "L"), m("m2", 100, "")), Pick{SpareLeader: true}, "m2"},
		{"the leader when it is ahead", cl(m("m1", 101, "L"), m("m2", 100, "")), Pick{SpareLeader: true}, "m1"},
		{"never a learner", cl(m("m1", 100, ""), m("m4", 200, "l")), Pick{}, "m1"},
		{"never an unreachable member", cl(m("m1", 100, ""), m("m2", 200, "x")), Pick{}, "m1"},
		{"never a member reporting errors", cl(m("m1", 100, ""), m("m2", 200, "e")), Pick{}, "m1"},
		{"excluded by name", cl(m("m1", 100, "L"), m("m2", 200, "")), Pick{Exclude: []string{"m2"}}, "m1"},
		{"excluded by ID", cl(m("m1", 100, "L"), m("m2", 200, "")), Pick{Exclude: []string{"m2-id"}}, "m1"},
		// An upgrade hands leadership to a member already on the new
		// version, even one a little behind.
		{"hand-off prefers the new version", cl(m("m1", 100, "L"), m("m2", 120, ""), newer), Pick{Exclude: []string{"m1"}, Prefer: onNew}, "m3"},
		{"nobody", cl(m("m1", 100, "x"), m("m4", 100, "l")), Pick{}, ""},
	} {
		got := PickMember(c.cl, c.pick)
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != c.want {
			t.Errorf("%s: picked %q, want %q", c.name, name, c.want)
		}
	}
}

func TestQuorumChecks(t *testing.T) {
	three := cl(m("m1", 1, "L"), m("m2", 1, ""), m("m3", 1, ""))
	oneDown := cl(m("m1", 1, "L"), m("m2", 1, ""), m("m3", 1, "x"))
	twoDown := cl(m("m1", 1, "L"), m("m2", 1, "x"), m("m3", 1, "x"))
	withLearner := cl(m("m1", 1, "L"), m("m2", 1, ""), m("m3", 1, ""), m("m4", 1, "lx"))
	for _, c := range []struct {
		name string
		err  error
		want string // "" for nil
	}{
		{"stop a member of a healthy three", CheckStop(three, "m2"), ""},
		{"stop the down member itself", CheckStop(oneDown, "m3"), ""},
		{"stop another while one is down", CheckStop(oneDown, "m2"), "member m3 is down"},
		{"a down learner does not count", CheckStop(withLearner, "m2"), ""},
		{"remove from a healthy three", CheckRemove(three, "m3-id"), ""},
		{"remove the down member", CheckRemove(oneDown, "m3-id"), ""},
		{"remove a healthy member while one is down", CheckRemove(oneDown, "m2-id"), "only 1 of them are healthy"},
		{"remove a learner", CheckRemove(withLearner, "m4-id"), ""},
		{"remove an unknown ID", CheckRemove(twoDown, "ffff"), "only 1 of them are healthy"},
		{"add a voter to a healthy three", CheckAddVoter(three), ""},
		{"add a voter while one of three is down", CheckAddVoter(oneDown), "raises quorum to 3 but only 2"},
	} {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("%s: %v", c.name, c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
}

func TestFindAndLeader(t *testing.T) {
	c := cl(m("m1", 1, ""), m("m2", 1, "L"), m("", 1, ""))
	if f := Find(c, "m2-id"); f == nil || f.Name != "m2" {
		t.Errorf("find by ID: %v", f)
	}
	if f := Find(c, ""); f == nil || f.Name != "" {
		t.Errorf("an unnamed member (not started yet) is found by the empty name: %v", f)
	}
	if f := Find(c, "m9"); f != nil {
		t.Errorf("find unknown: %v", f)
	}
	if l := Leader(c); l == nil || l.Name != "m2" {
		t.Errorf("leader: %v", l)
	}
	c.Members[1].Reachable = false
	if l := Leader(c); l != nil {
		t.Errorf("an unreachable leader is no leader: %v", l)
	}
}

func TestVersionStates(t *testing.T) {
	c := cl(m("m1", 1, ""), m("m2", 1, ""))
	c.ClusterVersion, c.Downgrade = "3.6.0", "3.5.0"
	c.Members[0].StorageVersion, c.Members[1].StorageVersion = "3.5.0", ""
	if !OnMinor(c, "3.6") || OnMinor(c, "3.5") {
		t.Error("OnMinor")
	}
	if !DowngradeEnabled(c, "3.5") || DowngradeEnabled(c, "3.4") {
		t.Error("DowngradeEnabled")
	}
	if !StorageOn(c, "3.5") {
		t.Error("a member without a storage version (3.5) does not hold the migration back")
	}
	c.Members[1].StorageVersion = "3.6.0"
	if StorageOn(c, "3.5") {
		t.Error("a member still on 3.6 storage")
	}
	c.Members[1].Reachable = false
	c.Members[1].StorageVersion = ""
	if StorageOn(c, "3.5") {
		t.Error("an unreachable member's storage is unknown")
	}
}
