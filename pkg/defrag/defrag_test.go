package defrag

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// overwrite writes n values of size bytes over the same 10 keys (history
// that a compaction frees), stopping at the first error, which it returns.
func overwrite(ctx context.Context, c *clientv3.Client, n, size int) (int, error) {
	val := strings.Repeat("x", size)
	for i := 0; i < n; i++ {
		if _, err := c.Put(ctx, "/fill/"+string(rune('a'+i%10)), val); err != nil {
			return i, err
		}
	}
	return n, nil
}

func applyOptions(t *testing.T, sb *sandbox.Sandbox, o Options) ApplyOptions {
	st, err := sb.State()
	testutil.Must(t, err)
	o.Session = testutil.Session(t, st.Conn())
	cat, err := catalog.Default()
	testutil.Must(t, err)
	o.Catalog = cat
	return ApplyOptions{Options: o, Runtime: sb, JournalPath: filepath.Join(sb.Dir, "journal.json"), LockDir: filepath.Join(sb.Dir, "locks"), Log: testutil.Logger(t)}
}

// TestSpaceRecover fills a sandbox with a 16 MiB quota until NOSPACE by
// overwriting the same keys: defrag refuses and points to space recover,
// which compacts, defragments every member, disarms the alarm and checks
// that a write is accepted.
func TestSpaceRecover(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}, ExtraFlags: []string{"--quota-backend-bytes=16777216"}})
	ctx := testutil.Context(t, 3*time.Minute)
	o := applyOptions(t, sb, Options{})
	c, err := o.Session.Pool().Cluster(ctx)
	testutil.Must(t, err)
	n, err := overwrite(ctx, c, 2000, 64<<10)
	if !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("after %d writes: %v, want NOSPACE", n, err)
	}
	t.Logf("NOSPACE after %d writes of 64 KiB", n)
	alarms, err := Alarms(ctx, o.Session, false, false)
	testutil.Must(t, err)
	if len(alarms) == 0 || alarms[0].Alarm != "NOSPACE" {
		t.Fatalf("alarms: %+v", alarms)
	}

	if _, err := Apply(ctx, o); err == nil || !strings.Contains(err.Error(), "space recover") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("defrag under NOSPACE: %v", err)
	}

	o.Space = true
	rep, err := Apply(ctx, o)
	testutil.Must(t, err, "space recover")
	for _, m := range rep.After {
		if m.DBSize > 4<<20 {
			t.Errorf("%s still holds %s after the recovery", m.Name, Bytes(m.DBSize))
		}
	}
	if alarms, _ := Alarms(ctx, o.Session, false, false); len(alarms) != 0 {
		t.Errorf("alarms left: %+v", alarms)
	}
	if err := engine.CheckWrite(ctx, o.Session); err != nil {
		t.Error(err)
	}
	cl, err := o.Session.StatusWithHashes(ctx)
	testutil.Must(t, err)
	if cl.Health != "healthy" || cl.Hash.Result != "agree" {
		t.Errorf("after the recovery: %s, hashes %s", cl.Health, cl.Hash.Result)
	}
}

// TestRollingDefrag: a fragmented 3-member cluster under the availability
// probe is defragmented follower by follower, the leader last after one
// hand-off: no lost write, one leader change, at most the one failed write
// a hand-off may cost. Thresholds that no
// member meets skip them all, with the reason; a member down refuses.
func TestRollingDefrag(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	st, _ := sb.State()
	ctx := testutil.Context(t, 3*time.Minute)
	o := applyOptions(t, sb, Options{})
	c, err := o.Session.Pool().Cluster(ctx)
	testutil.Must(t, err)
	_, err = overwrite(ctx, c, 400, 64<<10)
	testutil.Must(t, err)

	// Over the thresholds of nobody: nothing runs.
	o.IfFree = 1 << 30
	rep, err := Apply(ctx, o)
	testutil.Must(t, err)
	if len(rep.Plan.Chosen()) != 0 || !strings.Contains(rep.Plan.Members[0].Reason, "under --if-free 1.0GiB") {
		t.Fatalf("--if-free 1GiB chose %+v", rep.Plan.Members)
	}

	p, err := probe.Start(ctx, st.Conn(), probe.Options{})
	testutil.Must(t, err)
	time.Sleep(time.Second)
	o.IfFree, o.IfFragmented, o.Compact = 0, 45, true
	rep, err = Apply(ctx, o)
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	testutil.Must(t, err, "defrag")
	t.Logf("probe: %d writes, %d failed, longest gap %s (ended %s), leader changes %d", pr.Writes, pr.FailedWrites, pr.LongestGap, pr.LongestGapEnd.Format("15:04:05.000"), pr.LeaderChanges)
	// One write may be caught in the hand-off (its proposal dropped by the
	// old leader, answered after etcd's request timeout), as in upgrades.
	if pr.FailedWrites > 1 || len(pr.Lost) > 0 || !pr.Linearizable || pr.LeaderChanges != 1 {
		t.Errorf("%d failed writes (%v), lost %v, linearizable %v, %d leader changes", pr.FailedWrites, pr.Errors, pr.Lost, pr.Linearizable, pr.LeaderChanges)
	}
	for _, e := range pr.Errors {
		if !strings.Contains(e, "request timed out") && !strings.Contains(e, "leader") {
			t.Errorf("a write failed for another reason than the hand-off: %s", e)
		}
	}
	var order []string
	for _, e := range rep.Entries {
		if e.Action == engine.Defrag && e.Status == "done" {
			order = append(order, e.Member)
		}
	}
	leader := rep.Plan.Members[len(rep.Plan.Members)-1]
	if len(order) != 3 || order[2] != leader.Name || !leader.Leader {
		t.Errorf("defragmented %v; the leader was %s", order, leader.Name)
	}
	for _, m := range rep.After {
		if m.DBSize > 8<<20 {
			t.Errorf("%s holds %s after compaction and defragmentation", m.Name, Bytes(m.DBSize))
		}
	}

	// A member down: refused, nothing changed.
	testutil.Must(t, sb.Stop(ctx, "m2"))
	before, _ := engine.LoadJournal(o.JournalPath)
	if _, err := Apply(ctx, o); err == nil || !strings.Contains(err.Error(), "member m2 does not answer") {
		t.Errorf("defrag with m2 down: %v", err)
	}
	if after, _ := engine.LoadJournal(o.JournalPath); len(after.Entries) != len(before.Entries) {
		t.Error("a refused defrag wrote its journal")
	}
}

// TestDefragBuggyVersion: 3.5.20 has the defrag/applySnapshot race
// (fixed in 3.5.23): refused, with the issue; --force runs.
func TestDefragBuggyVersion(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V35Old}})
	ctx := testutil.Context(t, 2*time.Minute)
	o := applyOptions(t, sb, Options{})
	if _, err := Apply(ctx, o); err == nil || !strings.Contains(err.Error(), "3.5.23") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("defrag on %s: %v", testutil.V35Old, err)
	}
	o.Force = true
	if _, err := Apply(ctx, o); err != nil {
		t.Fatalf("--force: %v", err)
	}
}
