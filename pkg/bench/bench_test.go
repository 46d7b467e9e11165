package bench_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

func TestMain(m *testing.M) {
	// The etcdpilot processes the benchmarks run keep their state (the
	// release catalog's cache) here, not in the user's state directory.
	state, err := os.MkdirTemp("", "etcdpilot-bench-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("ETCDPILOT_STATE_DIR", state)
	code := m.Run()
	testutil.CleanupEtcdpilot()
	os.RemoveAll(state)
	os.Exit(code)
}

// The benchmarks run here at a small scale on real members, to check that
// they measure and print; their figures come from the CLI (see README).

func TestSnapshotBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V36)
	dir := testutil.Root(t)
	r, err := bench.Snapshot(testutil.Context(t, 3*time.Minute), bench.SnapshotOptions{
		Version: testutil.V36, Size: 8 << 20, Runs: 1, Root: dir, Scratch: dir, Binaries: bins, Log: testutil.Logger(t)})
	testutil.Must(t, err)
	if len(r.EtcdctlSave) != 1 || len(r.PilotRestore) != 1 || r.SnapshotSize < 8<<20 {
		t.Fatalf("result %+v", r)
	}
	var b bytes.Buffer
	testutil.Must(t, r.Table(&b))
	if !strings.Contains(b.String(), "etcdctl") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestUpgradeBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V35, testutil.V36)
	cat, err := catalog.Default()
	testutil.Must(t, err)
	r, err := bench.Upgrade(testutil.Context(t, 5*time.Minute), bench.UpgradeOptions{
		From: testutil.V35, To: testutil.V36, Runs: 1, Keys: 100, Root: testutil.Root(t), Binaries: bins, Catalog: cat, Log: testutil.Logger(t)})
	testutil.Must(t, err)
	if len(r.Naive) != 1 || len(r.Pilot) != 1 {
		t.Fatalf("runs: %d naive, %d etcdpilot", len(r.Naive), len(r.Pilot))
	}
	for _, x := range append(r.Naive, r.Pilot...) {
		if x.Lost != 0 || !x.Linearizable {
			t.Errorf("run %+v: lost writes or not linearizable", x)
		}
	}
	if c := r.Pilot[0].LeaderChanges; c != 1 {
		t.Errorf("etcdpilot changed the leader %d times, want 1", c)
	}
	var b bytes.Buffer
	testutil.Must(t, r.Table(&b))
	t.Log(b.String())
	if !strings.Contains(b.String(), "runs with exactly 1 leader change") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestHandoffBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V36)
	r, err := bench.Handoffs(testutil.Context(t, 3*time.Minute), bench.HandoffOptions{
		Version: testutil.V36, Handoffs: 3, Rate: 100, Root: testutil.Root(t), Binaries: bins, Log: testutil.Logger(t)})
	testutil.Must(t, err)
	if len(r.Handoffs) != 3 || r.Writes == 0 {
		t.Fatalf("result %+v", r)
	}
	for _, h := range r.Handoffs {
		// The window comes from the members' logs: it must have been found.
		if h.Window <= 0 || h.Window > 5*time.Second || h.From == h.To {
			t.Errorf("hand-off %+v", h)
		}
	}
	var b bytes.Buffer
	testutil.Must(t, r.Table(&b))
	t.Log(b.String())
}

func TestRemoveLeaderBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V36)
	r, err := bench.RemoveLeader(testutil.Context(t, 5*time.Minute), bench.RemoveLeaderOptions{
		Version: testutil.V36, Runs: 1, Root: testutil.Root(t), Binaries: bins, Log: testutil.Logger(t)})
	testutil.Must(t, err)
	if len(r.Plain) != 1 || len(r.Pilot) != 1 {
		t.Fatalf("runs: %d etcdctl, %d etcdpilot", len(r.Plain), len(r.Pilot))
	}
	if c := r.Pilot[0].LeaderChanges; c != 1 {
		t.Errorf("etcdpilot's removal changed the leader %d times, want 1", c)
	}
	var b bytes.Buffer
	testutil.Must(t, r.Table(&b))
	t.Log(b.String())
}

func TestStatusBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V36)
	r, err := bench.Status(testutil.Context(t, 3*time.Minute), bench.StatusOptions{
		Version: testutil.V36, Members: 5, Runs: 2, Root: testutil.Root(t), Binaries: bins, Etcdpilot: testutil.Etcdpilot(t), Log: testutil.Logger(t)})
	testutil.Must(t, err)
	if len(r.Pilot) != 2 || len(r.Etcdctl) != 2 || r.Ratio() <= 0 {
		t.Fatalf("result %+v", r)
	}
	var b bytes.Buffer
	testutil.Must(t, r.Table(&b))
	t.Log(b.String())
}

// TestScaleBench: at 4 MiB, every command runs and is measured; the plan
// that reads the backends' pages makes the members send less than 1% of
// their databases and uses no scratch disk, the streaming one sends
// every member's database; apply's three restarts are read from its
// journal, and the time outside its steps is what is left.
func TestScaleBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V35, testutil.V36)
	r, err := bench.Scale(testutil.Context(t, 5*time.Minute), bench.ScaleOptions{From: testutil.V35, To: testutil.V36, Sizes: []int64{4 << 20},
		Members: 3, ValueSize: 64 << 10, Root: testutil.Root(t), Binaries: bins, Etcdpilot: testutil.Etcdpilot(t), Log: testutil.Logger(t)})
	testutil.Must(t, err)
	var b strings.Builder
	testutil.Must(t, r.Table(&b))
	t.Log("\n" + b.String())
	rows := map[string]bench.ScaleRow{}
	restarts := 0
	for _, x := range r.Rows {
		rows[x.Command] = x
		if strings.HasPrefix(x.Command, "  restart of ") {
			restarts++
		}
	}
	pages, streams := rows["etcdpilot upgrade plan (sandbox: pages)"], rows["etcdpilot upgrade plan (--endpoints: streams)"]
	if pages.Wall == 0 || pages.Sent*100 > pages.DBSize || pages.PeakTmp != 0 || pages.MaxRSS == 0 {
		t.Errorf("plan from pages: %+v", pages)
	}
	// Through --endpoints the pages are read from each member's stream as
	// it passes: some of each database, never more than its three streams
	// of each (the members' files differ in size: compaction reuses pages
	// on each its own way), and no file.
	if streams.Sent == 0 || streams.Sent > 3*streams.DBTotal+1<<20 || streams.PeakTmp != 0 {
		t.Errorf("plan from streams: %+v", streams)
	}
	apply := rows["etcdpilot upgrade apply"]
	if apply.Wall == 0 || restarts != 3 {
		t.Errorf("apply %+v, %d restarts", apply, restarts)
	}
	// What the steps leave of apply's time: its checks and the process.
	if out := rows["  outside the steps"]; out.Wall <= 0 || out.Wall >= apply.Wall {
		t.Errorf("outside the steps: %v of %v", out.Wall, apply.Wall)
	}
}

// TestPITRBench: every figure is measured on a small run, the rebuild
// at the newest revision is proven by the sandbox's HashKV, and the
// recovery point stays within a few flush intervals.
func TestPITRBench(t *testing.T) {
	t.Parallel()
	bins := testutil.Binaries(t, testutil.V36)
	r, err := bench.PITR(testutil.Context(t, 5*time.Minute), bench.PITROptions{Version: testutil.V36, Members: 3, Rate: 100, Duration: 4 * time.Second,
		Flush: 200 * time.Millisecond, BaseSize: 4 << 20, ValueSize: 64 << 10, Revisions: 2000, Root: testutil.Root(t), Binaries: bins, Log: testutil.Logger(t)})
	testutil.Must(t, err)
	var b strings.Builder
	testutil.Must(t, r.Table(&b))
	t.Log("\n" + b.String())
	if r.WriteP99Plain == 0 || r.WriteP99Record == 0 || r.RPOSamples < 10 || r.Segments == 0 || r.PlainRestore == 0 || r.Rebuild == 0 {
		t.Errorf("unmeasured figures: %+v", r)
	}
	if r.Proof != "proven" {
		t.Errorf("the rebuild's proof: %s", r.Proof)
	}
}
