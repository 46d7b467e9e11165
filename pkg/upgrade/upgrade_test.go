package upgrade_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

// options returns upgrade options for a sandbox, journal in a temp dir.
func options(t *testing.T, sb *sandbox.Sandbox, target string) upgrade.Options {
	t.Helper()
	st, err := sb.State()
	testutil.Must(t, err)
	cat, err := catalog.Default()
	testutil.Must(t, err)
	c := st.Conn()
	c.CommandTimeout = 3 * time.Second
	dir := t.TempDir()
	return upgrade.Options{
		Target: target, Session: testutil.Session(t, c), Runtime: sb, Catalog: cat,
		JournalPath: filepath.Join(dir, "journal.json"), LockDir: filepath.Join(dir, "locks"),
		Snapshots:   snapshot.PreChange{Dest: dir, Log: testutil.Logger(t)},
		GateTimeout: 30 * time.Second, Log: testutil.Logger(t),
	}
}

// onStep calls fn with every journal entry.
func onStep(fn func(e engine.Entry)) []engine.Observer {
	return []engine.Observer{engine.ObserverFunc(fn)}
}

func versions(t *testing.T, opts upgrade.Options) (*status.Cluster, map[string]string) {
	t.Helper()
	cl, err := opts.Session.Status(context.Background())
	testutil.Must(t, err, "status")
	out := map[string]string{}
	for _, m := range cl.Members {
		out[m.Name] = m.ServerVersion
	}
	return cl, out
}

func restarts(r *upgrade.Report) []string {
	var out []string
	for _, e := range r.Entries {
		if e.Action == engine.Restart && e.Status == "done" {
			out = append(out, e.Member)
		}
	}
	return out
}

// TestApplyUnderLoad upgrades a loaded 3-member 3.5.35 cluster to 3.6.16
// with the availability probe on, then runs the same upgrade again (which
// must change nothing) and asks for a rollback (which must be refused now
// that the cluster version moved).
func TestApplyUnderLoad(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V36)
	opts.Probe = true
	ctx := testutil.Context(t, 5*time.Minute)
	_, before := versions(t, opts)
	cl0, _ := opts.Session.Status(ctx)
	r, err := upgrade.Apply(ctx, opts)
	testutil.Must(t, err, "apply")
	cl, after := versions(t, opts)
	for name := range before {
		if after[name] != testutil.V36 {
			t.Errorf("%s runs %s after the upgrade", name, after[name])
		}
	}
	if cl.ClusterVersion != "3.6.0" || r.ClusterVersion != "3.6.0" || r.State != engine.StateDone {
		t.Errorf("cluster version %s, report %s/%s", cl.ClusterVersion, r.ClusterVersion, r.State)
	}
	// The leader restarts last, after handing off.
	rs := restarts(r)
	if len(rs) != 3 || rs[2] != cl0.Leader {
		t.Errorf("restart order %v, leader was %s", rs, cl0.Leader)
	}
	p := r.Probe
	t.Logf("probe: %d writes, %d failed, %d retried, longest gap %s, p50 %s, p99 %s, leader changes %d, took %s",
		p.Writes, p.FailedWrites, p.RetriedWrites, p.LongestGap, p.P50, p.P99, p.LeaderChanges, r.Took)
	if len(p.Lost) > 0 || !p.Linearizable || p.Writes == 0 {
		t.Errorf("probe: lost %v, linearizable %v (%s), %d writes", p.Lost, p.Linearizable, p.CheckNote, p.Writes)
	}
	// One leader change (the hand-off) and at most one write caught in it:
	// a leader drops proposals while it transfers leadership, and a
	// follower that forwarded one waits for it until etcd's request
	// timeout ("request timed out", with "possibly due to previous leader
	// failure" when etcd connects it to the election). Nothing else may
	// fail.
	if p.LeaderChanges != 1 || p.FailedWrites > 1 {
		t.Errorf("%d leader changes, %d writes failed during the upgrade: %v", p.LeaderChanges, p.FailedWrites, p.Errors)
	}
	for _, e := range p.Errors {
		if !strings.Contains(e, "leader") && !strings.Contains(e, "request timed out") {
			t.Errorf("write failed for another reason than the hand-off: %s", e)
		}
	}
	if _, err := os.Stat(r.Snapshot); err != nil {
		t.Errorf("pre-upgrade snapshot: %v", err)
	}

	// The cluster version moved: no in-place rollback.
	_, err = upgrade.Rollback(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "downgrade") {
		t.Errorf("rollback after the cluster version moved: %v", err)
	}

	// Again: nothing to do, said so; no snapshot, no journal, no restart.
	opts.Probe = false
	journal, _ := engine.LoadJournal(opts.JournalPath)
	r2, err := upgrade.Apply(ctx, opts)
	if !errors.Is(err, upgrade.ErrNothingToDo) || r2 != nil {
		t.Fatalf("second apply: %v %+v", err, r2)
	}
	if after, _ := engine.LoadJournal(opts.JournalPath); len(after.Entries) != len(journal.Entries) {
		t.Errorf("the second apply wrote to the journal")
	}
}

// TestApplyMultiHop goes 3.5.20 → 3.5.35 → 3.6.16 hop by hop.
func TestApplyMultiHop(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35Old}})
	opts := options(t, sb, testutil.V36)
	ctx := testutil.Context(t, 5*time.Minute)
	r, err := upgrade.Apply(ctx, opts)
	testutil.Must(t, err, "apply")
	if rs := restarts(r); len(rs) != 6 {
		t.Errorf("restarts %v, want 3 per hop", rs)
	}
	var hops []string
	for _, e := range r.Entries {
		if e.Action == engine.Restart && e.Status == "done" && (len(hops) == 0 || hops[len(hops)-1] != e.Version) {
			hops = append(hops, e.Version)
		}
	}
	if fmt.Sprint(hops) != fmt.Sprint([]string{testutil.V35, testutil.V36}) {
		t.Errorf("hops %v", hops)
	}
	if r.ClusterVersion != "3.6.0" {
		t.Errorf("cluster version %s", r.ClusterVersion)
	}
}

// brokenBinaries returns a binary manager whose 3.6.16 is a script that
// says it is 3.6.16 when asked for --version and otherwise runs body, with
// $ETCD set to the real 3.5.35 binary.
func brokenBinaries(t *testing.T, body string) *binaries.Manager {
	real := testutil.Binaries(t, testutil.V35)
	in, err := real.Get(testutil.V35)
	testutil.Must(t, err)
	etcd, _ := in.Bin("etcd")
	fake := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'etcd Version: %s'; exit 0; fi\nETCD=%s\n%s\n", testutil.V36, etcd, body)
	testutil.Must(t, os.WriteFile(filepath.Join(fake, "etcd"), []byte(script), 0o755))
	etcdctl, _ := in.Bin("etcdctl")
	testutil.Must(t, os.Symlink(etcdctl, filepath.Join(fake, "etcdctl")))
	m := &binaries.Manager{CacheDir: t.TempDir(), Known: real.Known}
	ctx := testutil.Context(t, time.Minute)
	_, err = m.Install(ctx, testutil.V35, binaries.Options{Source: binaries.SourceDir, Dir: in.Dir})
	testutil.Must(t, err)
	_, err = m.Install(ctx, testutil.V36, binaries.Options{Source: binaries.SourceDir, Dir: fake})
	testutil.Must(t, err)
	return m
}

// TestApplyRollsBackAFailingMember: the first member restarted on a broken
// 3.6.16 fails its gates, goes back to 3.5.35, and the upgrade stops. The
// broken binary either starts but is really 3.5.35 (wrong version at the
// gate) or exits at once, as etcd does on a flag it no longer accepts.
func TestApplyRollsBackAFailingMember(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"wrong version":  `exec $ETCD "$@"`,
		"exits at start": `echo "{\"level\":\"fatal\",\"msg\":\"unknown flag: --experimental-gone\"}" >&2; exit 2`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
			sb.Binaries = brokenBinaries(t, body)
			opts := options(t, sb, testutil.V36)
			opts.GateTimeout = 5 * time.Second
			opts.SkipSnapshot = true
			ctx := testutil.Context(t, 3*time.Minute)
			r, err := upgrade.Apply(ctx, opts)
			oneRolledBack(t, opts, r, err, "rolled back")
			j, err := engine.LoadJournal(opts.JournalPath)
			testutil.Must(t, err)
			if j.State != engine.StateRolledBack {
				t.Errorf("journal state %s", j.State)
			}
		})
	}
}

// pausedOnStart is the sandbox runtime, except that a member started on
// version v is paused (SIGSTOP) as soon as it listens: it never answers,
// and its process is still there.
type pausedOnStart struct {
	*sandbox.Sandbox
	v string
}

func (p pausedOnStart) Start(ctx context.Context, name string, opts runtime.StartOptions) error {
	if err := p.Sandbox.Start(ctx, name, opts); err != nil || opts.Version != p.v {
		return err
	}
	return p.Sandbox.Pause(ctx, name)
}

// TestApplyRollsBackAMemberThatNeverAnswers: the first member restarted
// on the new version listens but never answers. Its restart fails as its
// own once the gate timeout has passed (not a second one at its gate), it
// goes back to the old version, and the upgrade stops.
func TestApplyRollsBackAMemberThatNeverAnswers(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V36)
	opts.Runtime = pausedOnStart{sb, testutil.V36}
	opts.GateTimeout = 5 * time.Second
	opts.SkipSnapshot = true
	r, err := upgrade.Apply(testutil.Context(t, 3*time.Minute), opts)
	oneRolledBack(t, opts, r, err, "did not answer within 5s of its start", "rolled back")
}

// oneRolledBack checks an apply that failed with every one of want in its
// error, rolled one member back, and left every member on 3.5, healthy.
func oneRolledBack(t *testing.T, opts upgrade.Options, r *upgrade.Report, err error, want ...string) {
	t.Helper()
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Fatalf("apply: %v; want an error with %q", err, w)
		}
	}
	t.Logf("apply: %v", err)
	if r.State != engine.StateRolledBack || len(r.RolledBack) != 1 {
		t.Fatalf("report: state %s, rolled back %v", r.State, r.RolledBack)
	}
	cl, vs := versions(t, opts)
	for name, v := range vs {
		if v != testutil.V35 {
			t.Errorf("%s runs %s", name, v)
		}
	}
	if cl.Health != status.Healthy {
		t.Errorf("cluster %s: %v", cl.Health, cl.Reasons)
	}
}

// TestApplyStopsWhenAnotherMemberDies: a member not yet upgraded is killed
// right after the first member passes its gates; the upgrade must not
// restart another member (quorum) and must not roll anything back.
func TestApplyStopsWhenAnotherMemberDies(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V36)
	opts.SkipSnapshot = true
	ctx := testutil.Context(t, 3*time.Minute)
	cl0, _ := versions(t, opts)
	var first, victim string
	opts.Observers = onStep(func(e engine.Entry) {
		if first == "" && strings.HasPrefix(e.Step, "gates for ") && e.Status == "done" {
			// The leader restarts last: killing it leaves the next
			// follower's restart one member short of safe.
			first, victim = strings.TrimPrefix(e.Step, "gates for "), cl0.Leader
			testutil.Must(t, sb.Kill(ctx, victim), "kill")
		}
	})
	r, err := upgrade.Apply(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "left the cluster as it is") {
		t.Fatalf("apply with a dead member: %v", err)
	}
	if r.State != engine.StateFailed || len(r.RolledBack) != 0 {
		t.Errorf("report: %s, rolled back %v", r.State, r.RolledBack)
	}
	_, vs := versions(t, opts)
	upgraded := 0
	for _, v := range vs {
		if v == testutil.V36 {
			upgraded++
		}
	}
	if upgraded != 1 || vs[first] != testutil.V36 {
		t.Errorf("versions after the stop: %v (first %s, killed %s)", vs, first, victim)
	}
}

// TestRollbackOnDemand: an upgrade interrupted after its first member
// leaves a mixed cluster; upgrade rollback returns it to 3.5.35.
func TestRollbackOnDemand(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V36)
	opts.SkipSnapshot = true
	ctx := testutil.Context(t, 3*time.Minute)
	actx, cancel := context.WithCancel(ctx)
	opts.Observers = onStep(func(e engine.Entry) {
		if strings.HasPrefix(e.Step, "gates for ") && e.Status == "done" {
			cancel()
		}
	})
	_, err := upgrade.Apply(actx, opts)
	if err == nil || !strings.Contains(err.Error(), "left the cluster as it is") {
		t.Fatalf("interrupted apply: %v", err)
	}
	_, vs := versions(t, opts)
	t.Logf("mixed: %v", vs)
	opts.Observers = nil
	r, err := upgrade.Rollback(ctx, opts)
	testutil.Must(t, err, "rollback")
	if len(r.RolledBack) != 1 || r.State != engine.StateRolledBack {
		t.Errorf("report: %s, rolled back %v", r.State, r.RolledBack)
	}
	cl, vs := versions(t, opts)
	for name, v := range vs {
		if v != testutil.V35 {
			t.Errorf("%s runs %s after the rollback", name, v)
		}
	}
	if cl.ClusterVersion != "3.5.0" || cl.Health != status.Healthy {
		t.Errorf("cluster %s %s %v", cl.ClusterVersion, cl.Health, cl.Reasons)
	}
}

// TestRefusedPlansAndAbandon: a refused plan (a target below the cluster,
// a dead member) leaves no running journal; an interrupted upgrade blocks
// one to another target until it is abandoned with a reason; then a new
// upgrade runs (and skips what the first one did).
func TestRefusedPlansAndAbandon(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V35Old)
	opts.SkipSnapshot = true
	ctx := testutil.Context(t, 5*time.Minute)

	_, err := upgrade.Apply(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "older than the cluster") {
		t.Fatalf("apply to an older version: %v", err)
	}
	if _, err := engine.LoadJournal(opts.JournalPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused plan left a journal: %v", err)
	}

	// Interrupt an upgrade to 3.6.16 after its first member.
	opts.Target = testutil.V36
	actx, cancel := context.WithCancel(ctx)
	opts.Observers = onStep(func(e engine.Entry) {
		if strings.HasPrefix(e.Step, "gates for ") && e.Status == "done" {
			cancel()
		}
	})
	if _, err := upgrade.Apply(actx, opts); err == nil {
		t.Fatal("interrupted apply succeeded")
	}
	opts.Observers = nil
	j, err := engine.LoadJournal(opts.JournalPath)
	testutil.Must(t, err)
	if engine.Finished(j.State) {
		t.Fatalf("interrupted upgrade's journal is %s", j.State)
	}

	// Another target is refused while it is unfinished, and says how out.
	opts.Target = testutil.V37
	_, err = upgrade.Apply(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "unfinished") || !strings.Contains(err.Error(), "upgrade abandon") {
		t.Fatalf("apply to another target: %v", err)
	}
	_, _, err = engine.Abandon(opts.JournalPath, "decided to go to 3.6.16 next week")
	testutil.Must(t, err, "abandon")

	// A dead member blocks the next plan; the abandoned journal stays as it is.
	testutil.Must(t, sb.Kill(ctx, "m3"))
	opts.Target = testutil.V36
	_, err = upgrade.Apply(ctx, opts)
	if !errors.Is(err, upgrade.ErrBlocked) {
		t.Fatalf("apply with a dead member: %v", err)
	}
	if j, err := engine.LoadJournal(opts.JournalPath); err != nil || j.State != engine.StateAbandoned {
		t.Fatalf("after a blocked plan the journal is %v %v", j, err)
	}
	testutil.Must(t, sb.Start(ctx, "m3", runtime.StartOptions{}))
	testutil.Must(t, sb.WaitHealthy(ctx))

	r, err := upgrade.Apply(ctx, opts)
	testutil.Must(t, err, "apply after abandon")
	if rs := restarts(r); len(rs) != 2 {
		t.Errorf("restarts %v: the member upgraded before the abandon must be skipped", rs)
	}
	if archived, _ := filepath.Glob(opts.JournalPath + ".*"); len(archived) != 1 {
		t.Errorf("the abandoned journal was not archived: %v", archived)
	}
}

// TestLockIsPerCluster: while one change holds the cluster's lock, an
// apply or rollback with another journal is refused before it touches
// anything.
func TestLockIsPerCluster(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V35}})
	opts := options(t, sb, testutil.V36)
	ctx := testutil.Context(t, time.Minute)
	cl, err := opts.Session.Status(ctx)
	testutil.Must(t, err)
	lock, err := engine.Lock(opts.LockDir, cl.ClusterID)
	testutil.Must(t, err)
	defer lock.Unlock()
	opts.JournalPath = filepath.Join(t.TempDir(), "other-journal.json")
	if _, err := upgrade.Apply(ctx, opts); err == nil || !strings.Contains(err.Error(), "another etcdpilot change") {
		t.Fatalf("apply while locked: %v", err)
	}
	if _, err := upgrade.Rollback(ctx, opts); err == nil || !strings.Contains(err.Error(), "another etcdpilot change") {
		t.Fatalf("rollback while locked: %v", err)
	}
	if _, err := os.Stat(opts.JournalPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused apply wrote a journal: %v", err)
	}
}
