package bench

import (
	"testing"
	"time"
)

// TestScaleTargets judges made-up rows: the plan and apply are compared
// with the smallest size's, the plain tools' rows of the same size. A
// row with a note still counts; a failed one does not.
func TestScaleTargets(t *testing.T) {
	const small, big = 16 << 20, 4 << 30
	r := &ScaleResult{Rows: []ScaleRow{
		{Size: small, DBSize: small, Command: rowPlan, Wall: 50 * time.Millisecond, MaxRSS: 40 << 20},
		{Size: small, DBSize: small, Command: rowApply, Wall: 7 * time.Second, MaxRSS: 70 << 20},
		{Size: big, DBSize: big, Command: rowStatus, Wall: 50 * time.Millisecond},
		{Size: big, DBSize: big, Command: rowHashKV, Wall: 2 * time.Second},
		{Size: big, DBSize: big, Command: rowSave, Wall: 10 * time.Second},
		{Size: big, DBSize: big, Command: rowPlan, Wall: 900 * time.Millisecond, Sent: 2 << 10, MaxRSS: 40 << 20, Note: "hashes at the compaction, as etcd kept them"},
		{Size: big, DBSize: big, Command: rowPlan, Note: "failed: exit status 1"},
		{Size: big, DBSize: big, Command: rowStream, Wall: 9 * time.Second, Sent: 2 << 30, PeakTmp: 0, MaxRSS: 60 << 20},
		{Size: big, DBSize: big, Command: rowApply, Wall: 20 * time.Second, MaxRSS: 200 << 20},
		{Size: big, DBSize: big, Command: "  snapshot", Wall: 11 * time.Second},
		{Size: 8 << 30, Note: "skipped: 25.8 GiB free, 33.0 GiB needed"},
	}}
	for _, size := range []int64{small, big} {
		for _, m := range []string{"m1", "m2", "m3"} {
			d := time.Second
			if size == big {
				d = 1500 * time.Millisecond
			}
			r.Rows = append(r.Rows, ScaleRow{Size: size, DBSize: size, Command: "  restart of " + m, Wall: d})
		}
	}
	// In order: plan 2x (18x), plan within 2 s of status+hashkv, bytes
	// sent and scratch through the sandbox, then through --endpoints
	// (half the database: shown, not judged), the snapshot (11 s against 12 s), apply's work
	// (13 s against 12 s and the restarts' 1.5 s of growth), RSS (200 MiB).
	want := []bool{false, true, true, true, false, true, true, true, false}
	got := r.Targets()
	if len(got) != len(want) {
		t.Fatalf("%d targets: %+v", len(got), got)
	}
	for i, x := range got {
		t.Logf("%s: %s: %v", x.What, x.Got, x.Met)
		if x.Size != big || x.Met != want[i] {
			t.Errorf("%s of %d: met %v, want %v", x.What, x.Size, x.Met, want[i])
		}
		if (x.Unjudged != "") != (i == 4) {
			t.Errorf("%s: unjudged %q", x.What, x.Unjudged)
		}
	}
}
