package membercheck

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	list := []Listed{{ID: 1, Name: "m1"}, {ID: 2, Name: "m2"}, {ID: 4, Name: "m4"}}
	consistent := &Backend{Members: map[uint64]Member{1: {ID: 1, Name: "m1"}, 2: {ID: 2, Name: "m2"}, 4: {ID: 4, Name: "m4"}}}
	if f := Compare(list, map[string]*Backend{"m1": consistent}); len(f) != 0 {
		t.Fatalf("consistent: %+v", f)
	}
	// m4 promoted on 3.5.19: a learner in every backend. m3 removed, still
	// in m2's backend (a zombie). m1's backend lost m2.
	promoted := func() *Backend {
		return &Backend{Members: map[uint64]Member{1: {ID: 1, Name: "m1"}, 2: {ID: 2, Name: "m2"}, 4: {ID: 4, Name: "m4", IsLearner: true}}}
	}
	b1, b2 := promoted(), promoted()
	delete(b1.Members, 2)
	b2.Members[3] = Member{ID: 3, Name: "m3"}
	got := Compare(list, map[string]*Backend{"m2": b2, "m1": b1})
	var s []string
	for _, f := range got {
		s = append(s, f.Kind+":"+f.ID+":"+strings.Join(f.SeenIn, "+"))
	}
	if strings.Join(s, " ") != "learner:4:m1+m2 missing:2:m1 zombie:3:m2" {
		t.Fatalf("findings: %v", s)
	}
	if m := got[0].Message(); !strings.Contains(m, "m4 (4) is a voter in the member list but a learner in the backends of m1, m2") || !strings.Contains(m, "#19557") {
		t.Errorf("message: %s", m)
	}
	if m := got[2].Message(); !strings.Contains(m, "zombie") || !strings.Contains(m, "m3 (3)") {
		t.Errorf("message: %s", m)
	}
}
