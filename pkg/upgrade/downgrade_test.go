package upgrade_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func allOn(t *testing.T, opts upgrade.Options, v, clusterVersion string) *status.Cluster {
	t.Helper()
	cl, vs := versions(t, opts)
	for name, got := range vs {
		if got != v {
			t.Errorf("%s runs %s, want %s", name, got, v)
		}
	}
	if cl.ClusterVersion != clusterVersion || cl.Downgrade != "" {
		t.Errorf("cluster version %s, downgrade %q; want %s and none", cl.ClusterVersion, cl.Downgrade, clusterVersion)
	}
	return cl
}

// TestDowngradeUnderProbe takes a 3.6.16 cluster to 3.5.35 with etcd's
// downgrade API while the probe writes and reads: one leader change, no
// acknowledged write lost, the history linearizable.
func TestDowngradeUnderProbe(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	opts := options(t, sb, "3.5")
	opts.Probe = true
	ctx := testutil.Context(t, 5*time.Minute)
	cl0, _ := opts.Session.Status(ctx)
	r, err := upgrade.Downgrade(ctx, opts)
	testutil.Must(t, err, "downgrade")
	allOn(t, opts, testutil.V35, "3.5.0")
	if r.State != engine.StateDone || r.Kind != "downgrade" || r.Target != testutil.V35 {
		t.Errorf("report %s %s %s", r.Kind, r.Target, r.State)
	}
	if rs := restarts(r); len(rs) != 3 || rs[2] != cl0.Leader {
		t.Errorf("restart order %v, leader was %s", rs, cl0.Leader)
	}
	p := r.Probe
	t.Logf("probe: %d writes, %d failed, longest gap %s, leader changes %d, took %s", p.Writes, p.FailedWrites, p.LongestGap, p.LeaderChanges, r.Took)
	if len(p.Lost) > 0 || !p.Linearizable || p.Writes == 0 || p.LeaderChanges != 1 || p.FailedWrites > 1 {
		t.Errorf("probe: lost %v, linearizable %v (%s), %d writes, %d failed %v, %d leader changes", p.Lost, p.Linearizable, p.CheckNote, p.Writes, p.FailedWrites, p.Errors, p.LeaderChanges)
	}
	// Over: nothing to cancel; a 3.5 cluster has no downgrade API.
	if _, err := upgrade.CancelDowngrade(ctx, opts); !errors.Is(err, upgrade.ErrNothingToCancel) {
		t.Errorf("cancel after the downgrade: %v", err)
	}
	opts.Target = "3.4"
	if _, err := upgrade.Downgrade(ctx, opts); err == nil || !strings.Contains(err.Error(), "snapshot restore") {
		t.Errorf("downgrade of 3.5: %v", err)
	}
}

// TestDowngradeCancelHalfWay: 3.7.3 → 3.6.16 stops after the first member
// (as if etcdpilot died), is cancelled — the downgraded member goes back
// to 3.7.3 and the cluster version to 3.7 — and then runs to the end under
// the probe.
func TestDowngradeCancelHalfWay(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V36)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V37}})
	opts := options(t, sb, "3.6")
	ctx := testutil.Context(t, 5*time.Minute)
	runCtx, stop := context.WithCancel(ctx)
	opts.Observers = onStep(func(e engine.Entry) {
		if e.Action == engine.Gates && e.Status == "done" {
			stop()
		}
	})
	if _, err := upgrade.Downgrade(runCtx, opts); err == nil {
		t.Fatal("the interrupted downgrade reported success")
	}
	cl, vs := versions(t, opts)
	down := 0
	for _, v := range vs {
		if v == testutil.V36 {
			down++
		}
	}
	if down != 1 || cl.Downgrade == "" || cl.ClusterVersion != "3.6.0" {
		t.Fatalf("after the interruption: %v, downgrade %q, cluster version %s", vs, cl.Downgrade, cl.ClusterVersion)
	}
	opts.Observers = nil
	r, err := upgrade.CancelDowngrade(ctx, opts)
	testutil.Must(t, err, "cancel")
	allOn(t, opts, testutil.V37, "3.7.0")
	if r.State != engine.StateRolledBack || len(r.RolledBack) != 1 {
		t.Errorf("cancel report: %s, rolled back %v", r.State, r.RolledBack)
	}
	if _, err := upgrade.CancelDowngrade(ctx, opts); !errors.Is(err, upgrade.ErrNothingToCancel) {
		t.Errorf("second cancel: %v", err)
	}
	opts.SkipSnapshot = true
	opts.Probe = true
	r, err = upgrade.Downgrade(ctx, opts)
	testutil.Must(t, err, "downgrade after the cancel")
	allOn(t, opts, testutil.V36, "3.6.0")
	p := r.Probe
	t.Logf("probe: %d writes, %d failed, longest gap %s, leader changes %d, took %s", p.Writes, p.FailedWrites, p.LongestGap, p.LeaderChanges, r.Took)
	if len(p.Lost) > 0 || !p.Linearizable || p.Writes == 0 || p.LeaderChanges != 1 || p.FailedWrites > 1 {
		t.Errorf("probe: lost %v, linearizable %v (%s), %d failed %v, %d leader changes", p.Lost, p.Linearizable, p.CheckNote, p.FailedWrites, p.Errors, p.LeaderChanges)
	}
}
