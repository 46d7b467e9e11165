package recovery_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/recovery"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

func options(t *testing.T, sb *sandbox.Sandbox) recovery.ApplyOptions {
	t.Helper()
	st, err := sb.State()
	testutil.Must(t, err)
	c := st.Conn()
	c.CommandTimeout = 2 * time.Second
	return recovery.ApplyOptions{
		Options:     recovery.Options{Session: testutil.Session(t, c), Runtime: sb, SnapshotDirs: []string{sb.Dir}},
		JournalPath: filepath.Join(sb.Dir, "journal.json"), LockDir: filepath.Join(sb.Dir, "locks"),
		GateTimeout: 30 * time.Second, Log: testutil.Logger(t),
		RestoreCluster: func(ctx context.Context, file string) error {
			_, err := snapshot.RestoreSandbox(ctx, sb, file, snapshot.RestoreOptions{})
			return err
		},
	}
}

// load writes n keys under prefix through the cluster.
func load(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, prefix string, n int) {
	t.Helper()
	st, _ := sb.State()
	testutil.Must(t, bench.Load(ctx, st.Conn(), bench.LoadOptions{Keys: n, ValueSize: 100, Prefix: prefix}, nil))
}

// caughtUp waits until every answering member applied the same index.
func caughtUp(t *testing.T, ctx context.Context, o recovery.ApplyOptions) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() error {
		cl, err := o.Session.Status(ctx)
		if err != nil {
			return err
		}
		applied := map[uint64]bool{}
		for _, m := range cl.Members {
			if m.Reachable {
				applied[m.AppliedIndex] = true
			}
		}
		if len(applied) != 1 {
			return errors.New("members apart")
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // the backends commit every 100 ms
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func count(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, prefix string) int64 {
	t.Helper()
	st, _ := sb.State()
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	testutil.Must(t, err)
	return resp.Count
}

// healthy checks the recovered cluster: every member up and voting,
// hashes agreeing, one revision.
func healthy(t *testing.T, ctx context.Context, o recovery.ApplyOptions, members int) *status.Cluster {
	t.Helper()
	cl, err := o.Session.StatusWithHashes(ctx)
	testutil.Must(t, err)
	revs := map[int64]bool{}
	for _, m := range cl.Members {
		revs[m.Revision] = true
	}
	if cl.Health != status.Healthy || cl.Voters != members || cl.ReachableVoters != members || cl.Hash.Result != status.HashAgree || len(revs) != 1 {
		t.Fatalf("after the recovery: %s, %d/%d voters, hashes %s, revisions %v", cl.Health, cl.ReachableVoters, cl.Voters, cl.Hash.Result, revs)
	}
	return cl
}

// TestRecoverThreeLoseTwo: 3 members, 2 killed with SIGKILL and the data
// of one moved away. The survivor's data is kept; 3 healthy members come
// back with every acknowledged key. While the quorum holds, and while
// another operator holds the lock, nothing is done. The survivor runs
// 3.7, whose --force-new-cluster can break a member whose backend is
// ahead of its WAL (fixed in 3.5.36 and 3.6.17, not yet in 3.7): the
// plan names it and a copy of the survivor's data directory is kept
// first.
func TestRecoverThreeLoseTwo(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V37}})
	o := options(t, sb)
	cat, err := catalog.Default()
	testutil.Must(t, err)
	o.Catalog = cat
	ctx := testutil.Context(t, 5*time.Minute)
	load(t, ctx, sb, "/keep/", 500)
	caughtUp(t, ctx, o)
	if _, err := recovery.Apply(ctx, o); err == nil || !strings.Contains(err.Error(), "member replace") {
		t.Fatalf("recovery while the quorum holds: %v", err)
	}
	st, _ := sb.State()
	for _, m := range []string{"m2", "m3"} {
		testutil.Must(t, sb.Kill(ctx, m))
	}
	m3 := st.Members[2].DataDir
	testutil.Must(t, os.Rename(m3, m3+".lost"))

	p, err := recovery.MakePlan(ctx, o.Options)
	testutil.Must(t, err)
	if p.Method != recovery.FromSurvivor || p.Survivor != "m1" || p.Lost != 0 || p.Members[1].Data != "present" || p.Members[2].Data != "missing" {
		t.Fatalf("plan: %+v", p)
	}
	if len(p.Hazards) != 1 || p.Hazards[0].ID != "force-new-cluster-backend-ahead-of-wal" || p.Hazards[0].FixedIn != "" || !strings.Contains(strings.Join(p.Steps, "\n"), "keep a copy of its data directory") {
		t.Fatalf("hazards %+v, steps %q", p.Hazards, p.Steps)
	}
	cl0, _ := o.Session.Status(ctx)
	lock, err := engine.Lock(o.LockDir, cl0.ClusterID)
	testutil.Must(t, err)
	if _, err := recovery.Apply(ctx, o); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Errorf("a second operator: %v", err)
	}
	lock.Unlock()

	r, err := recovery.Apply(ctx, o)
	testutil.Must(t, err, "recover")
	if r.State != engine.StateDone {
		t.Fatalf("report: %+v", r)
	}
	cl := healthy(t, ctx, o, 3)
	if cl.ClusterID != cl0.ClusterID {
		t.Errorf("cluster ID %s, was %s", cl.ClusterID, cl0.ClusterID)
	}
	if n := count(t, ctx, sb, "/keep/"); n != 500 {
		t.Errorf("%d of 500 acknowledged keys after the recovery", n)
	}
	if _, err := os.Stat(m3 + ".lost"); err != nil {
		t.Errorf("the moved data is gone: %v", err)
	}
	if aside, _ := filepath.Glob(st.Members[1].DataDir + ".removed-*"); len(aside) != 1 {
		t.Errorf("m2's data was not moved aside: %v", aside)
	}
	copies, _ := filepath.Glob(st.Members[0].DataDir + ".etcdpilot-before-force-new-cluster-*")
	if len(copies) != 1 {
		t.Fatalf("copies of the survivor's data kept: %v", copies)
	}
	if _, err := os.Stat(filepath.Join(copies[0], "member", "snap", "db")); err != nil {
		t.Errorf("the kept copy has no backend: %v", err)
	}
}

// TestRecoverFiveLoseThreeLaggingSurvivor: of 5 members, one follower
// lags (stopped during the first writes) and another lags less (stopped
// during the second); the other three, the leader among them, are killed.
// The plan picks the less lagging one, the most advanced member that
// answers, and says the 100 revisions the dead members' data holds beyond
// it are lost. 5 healthy members come back with its data.
func TestRecoverFiveLoseThreeLaggingSurvivor(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}, Members: 5})
	o := options(t, sb)
	ctx := testutil.Context(t, 5*time.Minute)
	// Stop followers only: a stopped leader would stall the writes.
	cl, err := o.Session.Status(ctx)
	testutil.Must(t, err)
	var followers, dead []string
	for _, m := range cl.Members {
		if m.IsLeader {
			dead = append(dead, m.Name)
		} else {
			followers = append(followers, m.Name)
		}
	}
	slow, survivor := followers[0], followers[1]
	dead = append(dead, followers[2:]...)
	// Stopped, not paused: a paused member would apply what its socket
	// buffered once resumed.
	testutil.Must(t, sb.Stop(ctx, slow))
	load(t, ctx, sb, "/a/", 100)
	testutil.Eventually(t, 30*time.Second, func() error {
		cl, err := o.Session.Status(ctx)
		if err != nil {
			return err
		}
		var l, s uint64
		for _, m := range cl.Members {
			if m.IsLeader {
				l = m.AppliedIndex
			}
			if m.Name == survivor {
				s = m.AppliedIndex
			}
		}
		if s < l {
			return errors.New(survivor + " behind")
		}
		return nil
	})
	testutil.Must(t, sb.Stop(ctx, survivor))
	load(t, ctx, sb, "/b/", 100)
	time.Sleep(300 * time.Millisecond)
	for _, m := range dead {
		testutil.Must(t, sb.Kill(ctx, m))
	}
	for _, m := range []string{survivor, slow} {
		testutil.Must(t, sb.Start(ctx, m, runtime.StartOptions{}))
	}

	p, err := recovery.MakePlan(ctx, o.Options)
	testutil.Must(t, err)
	if p.Method != recovery.FromSurvivor || p.Survivor != survivor || p.Lost != 100 || !strings.Contains(p.MaxSeenAt, "the data of m") {
		t.Fatalf("plan: survivor %s, lost %d (max %d at %s): %+v", p.Survivor, p.Lost, p.MaxSeen, p.MaxSeenAt, p.Members)
	}
	if !strings.Contains(p.Hint, strings.Join(sorted(dead), ", ")) {
		t.Errorf("hint: %q", p.Hint)
	}
	_, err = recovery.Apply(ctx, o)
	testutil.Must(t, err, "recover")
	healthy(t, ctx, o, 5)
	if a, b := count(t, ctx, sb, "/a/"), count(t, ctx, sb, "/b/"); a != 100 || b != 0 {
		t.Errorf("keys after the recovery: /a/ %d, /b/ %d", a, b)
	}
}

// TestRecoverFromSnapshot: every member killed and its data moved away;
// the plan finds the cluster's snapshot, and the recovery restores every
// member from it. A snapshot that fails verification is refused before
// anything stops.
func TestRecoverFromSnapshot(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	o := options(t, sb)
	ctx := testutil.Context(t, 5*time.Minute)
	load(t, ctx, sb, "/snap/", 200)
	_, file, err := snapshot.Save(ctx, o.Session, sb.Dir, snapshot.SaveOptions{})
	testutil.Must(t, err)
	load(t, ctx, sb, "/after/", 50)

	bad := filepath.Join(t.TempDir(), "bad.db")
	b, _ := os.ReadFile(file)
	os.WriteFile(bad, b[:len(b)/2], 0o600)
	bo := o
	bo.Snapshot = bad
	if _, err := recovery.Apply(ctx, bo); err == nil || !strings.Contains(err.Error(), "nothing was stopped") {
		t.Fatalf("a corrupt snapshot: %v", err)
	}
	if cl, _ := o.Session.Status(ctx); cl.ReachableVoters != 3 {
		t.Fatalf("a refused recovery stopped members: %d answer", cl.ReachableVoters)
	}

	st, _ := sb.State()
	for _, m := range st.Members {
		testutil.Must(t, sb.Kill(ctx, m.Name))
		testutil.Must(t, os.Rename(m.DataDir, m.DataDir+".lost"))
	}
	p, err := recovery.MakePlan(ctx, o.Options)
	testutil.Must(t, err)
	if p.Method != recovery.FromSnapshot || p.Snapshot == nil || p.Snapshot.Path != file || p.Refusal != "" {
		t.Fatalf("plan: %+v", p)
	}
	_, err = recovery.Apply(ctx, o)
	testutil.Must(t, err, "recover")
	healthy(t, ctx, o, 3)
	if a, b := count(t, ctx, sb, "/snap/"), count(t, ctx, sb, "/after/"); a != 200 || b != 0 {
		t.Errorf("keys after the recovery: /snap/ %d, /after/ %d", a, b)
	}
}

// TestRecoverRefusesAnotherClustersSnapshot (issue 27): sandbox A loses 2
// of 3 members; a snapshot of sandbox B, with its sidecar or as a bare
// file, is refused before anything stops, naming both cluster IDs. A's
// own bare snapshot is recognised by its members. With --other-cluster
// the plan says no revision of A is kept instead of comparing revisions
// across clusters.
func TestRecoverRefusesAnotherClustersSnapshot(t *testing.T) {
	t.Parallel()
	a := testutil.Sandbox(t, sandbox.Options{Name: "a", Versions: []string{testutil.V36}})
	b := testutil.Sandbox(t, sandbox.Options{Name: "b", Versions: []string{testutil.V36}, Members: 1})
	o := options(t, a)
	ctx := testutil.Context(t, 5*time.Minute)
	load(t, ctx, a, "/a/", 100)
	_, own, err := snapshot.Save(ctx, o.Session, a.Dir, snapshot.SaveOptions{})
	testutil.Must(t, err)
	bo := options(t, b)
	load(t, ctx, b, "/b/", 10)
	_, other, err := snapshot.Save(ctx, bo.Session, b.Dir, snapshot.SaveOptions{})
	testutil.Must(t, err)
	bare := func(file string) string {
		out := filepath.Join(t.TempDir(), filepath.Base(file))
		data, err := os.ReadFile(file)
		testutil.Must(t, err)
		testutil.Must(t, os.WriteFile(out, data, 0o600))
		return out
	}
	caughtUp(t, ctx, o)
	for _, m := range []string{"m2", "m3"} {
		testutil.Must(t, a.Kill(ctx, m))
	}
	cl, _ := o.Session.Status(ctx)
	bcl, _ := bo.Session.Status(ctx)
	for name, file := range map[string]string{"B with its sidecar": other, "B bare": bare(other)} {
		po := o.Options
		po.Snapshot = file
		_, err := recovery.MakePlan(ctx, po)
		if !errors.Is(err, snapshot.ErrOtherCluster) || !strings.Contains(err.Error(), cl.ClusterID) || !strings.Contains(err.Error(), bcl.ClusterID) || !strings.Contains(err.Error(), "--other-cluster") {
			t.Errorf("%s: want a refusal naming %s and %s, got %v", name, cl.ClusterID, bcl.ClusterID, err)
		}
		ao := o
		ao.Snapshot = file
		if _, err := recovery.Apply(ctx, ao); !errors.Is(err, snapshot.ErrOtherCluster) {
			t.Errorf("%s: apply: %v", name, err)
		}
	}
	po := o.Options
	po.Snapshot = bare(own)
	if _, err := recovery.MakePlan(ctx, po); err != nil {
		t.Errorf("A's own snapshot without a sidecar: %v", err)
	}
	po.Snapshot, po.OtherCluster, po.Force = other, true, true
	p, err := recovery.MakePlan(ctx, po)
	testutil.Must(t, err)
	if !p.OtherCluster || p.Lost != -1 {
		t.Errorf("--other-cluster plan: other %v, lost %d", p.OtherCluster, p.Lost)
	}
	// Nothing was stopped: the survivor still answers.
	if cl, err := o.Session.Status(ctx); err != nil || cl.ReachableVoters != 1 {
		t.Errorf("after the refusals: %v, %+v", err, cl)
	}
}
