package upgrade_test

import (
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

// TestApplyThreeFiveToThreeSeven goes 3.5.35 → 3.6.16 → 3.7.3 in one
// apply under the probe. The entries 3.5 wrote are still in every member's
// WAL replay after the first hop, and 3.7 panics on them; each member
// takes a raft snapshot on 3.6 (a restart with --snapshot-count=1) before
// it starts on 3.7. One leader change per hop, nothing lost.
func TestApplyThreeFiveToThreeSeven(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36, testutil.V37)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V37)
	opts.Probe = true
	ctx := testutil.Context(t, 5*time.Minute)
	r, err := upgrade.Apply(ctx, opts)
	testutil.Must(t, err, "apply")
	allOn(t, opts, testutil.V37, "3.7.0")
	snaps := 0
	for _, e := range r.Entries {
		if e.Action == engine.RaftSnapshot && e.Status == "done" {
			snaps++
		}
	}
	if snaps != 3 {
		t.Errorf("%d raft snapshots taken, want one per member", snaps)
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		if n, ok, err := engine.V2Entries(ctx, sb, m); err != nil || !ok || n != 0 {
			t.Errorf("%s: %d v2 entries in its replay (%v, %v)", m, n, ok, err)
		}
	}
	p := r.Probe
	t.Logf("probe: %d writes, %d failed, longest gap %s, leader changes %d, took %s", p.Writes, p.FailedWrites, p.LongestGap, p.LeaderChanges, r.Took)
	if len(p.Lost) > 0 || !p.Linearizable || p.LeaderChanges != 2 || p.FailedWrites > 2 {
		t.Errorf("probe: lost %v, linearizable %v (%s), %d failed %v, %d leader changes", p.Lost, p.Linearizable, p.CheckNote, p.FailedWrites, p.Errors, p.LeaderChanges)
	}
}
