package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestPruneKeepsExactlyThePolicy(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	// Every 20 minutes for three days: 216 snapshots.
	for i := 0; i < 216; i++ {
		at := base.Add(time.Duration(i) * 20 * time.Minute)
		name := filepath.Join(dir, at.Format("20060102T1504")+".db")
		os.WriteFile(name, []byte("x"), 0o600)
		if err := WriteSidecar(name, &Sidecar{CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	foreign := filepath.Join(dir, "manual.db") // no sidecar: never touched
	os.WriteFile(foreign, []byte("x"), 0o600)

	ds, err := Prune(context.Background(), Dir{Path: dir}, Policy{KeepLast: 4, KeepHourly: 6, KeepDaily: 3}, true)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, d := range ds {
		if d.Keep {
			kept = append(kept, filepath.Base(d.File))
		}
	}
	sort.Strings(kept)
	// Newest is 2026-11-22 23:40. Last 4: 22:40, 23:00, 23:20, 23:40.
	// Hourly (newest of each of the last 6 hours): 18:40 ... 23:40.
	// Daily (newest of each of the last 3 days): 20th 23:40, 21st 23:40, 22nd 23:40.
	want := []string{
		"20261120T2340.db", "20261121T2340.db",
		"20261122T1840.db", "20261122T1940.db", "20261122T2040.db", "20261122T2140.db",
		"20261122T2240.db", "20261122T2300.db", "20261122T2320.db", "20261122T2340.db",
		"manual.db",
	}
	if strings.Join(kept, " ") != strings.Join(want, " ") {
		t.Fatalf("kept %v\nwant %v", kept, want)
	}
	// The dry run deleted nothing; the real run deletes the rest.
	if n, _ := filepath.Glob(filepath.Join(dir, "*.db")); len(n) != 217 {
		t.Fatalf("dry run deleted files: %d left", len(n))
	}
	if _, err := Prune(context.Background(), Dir{Path: dir}, Policy{KeepLast: 4, KeepHourly: 6, KeepDaily: 3}, false); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	sidecars, _ := filepath.Glob(filepath.Join(dir, "*.db.json"))
	if len(left) != len(want) || len(sidecars) != len(want)-1 {
		t.Fatalf("%d snapshots and %d sidecars left", len(left), len(sidecars))
	}
	if _, err := Prune(context.Background(), Dir{Path: dir}, Policy{}, true); err == nil {
		t.Fatal("an empty policy was accepted")
	}
}

// TestPruneAndSegments: a base goes with its point-in-time segments, and
// the base of a cluster's newest chain stays whatever the policy says.
func TestPruneAndSegments(t *testing.T) {
	ctx := context.Background()
	st := Dir{Path: t.TempDir()}
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	snap := func(name string, rev int64, hours int) {
		p := st.File(name)
		os.WriteFile(p, []byte("x"), 0o600)
		if err := WriteSidecar(p, &Sidecar{ClusterID: "c1", CreatedAt: at.Add(time.Duration(hours) * time.Hour), Info: Info{Revision: rev}}); err != nil {
			t.Fatal(err)
		}
	}
	seg := func(base, first, last int64) string {
		n := SegmentName("c1", base, first, last) + ".zst"
		if err := st.PutObject(ctx, n, []byte("s")); err != nil {
			t.Fatal(err)
		}
		return n
	}
	snap("old.db", 10, 0)   // an old chain: 11..50
	snap("live.db", 100, 1) // the chain being recorded: 101..900
	snap("plain.db", 500, 2)
	seg(10, 11, 50)
	seg(100, 101, 400)
	seg(100, 401, 900)
	ds, err := Prune(ctx, st, Policy{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]string{}
	for _, d := range ds {
		if d.Keep {
			kept[d.Name] = strings.Join(d.Reason, ", ")
		}
	}
	if len(kept) != 2 || kept["live.db"] != "base of the newest point-in-time chain" || kept["plain.db"] == "" {
		t.Fatalf("kept %v", kept)
	}
	names, err := st.ListObjects(ctx, SegmentsRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], SegmentsPrefix("c1", 100)) {
		t.Fatalf("segments left %v: the old base's should be gone with it, the live chain's kept", names)
	}
	if c, b, f, l, ok := ParseSegmentName(names[1]); !ok || c != "c1" || b != 100 || f != 401 || l != 900 {
		t.Fatalf("%s parsed as %s %d %d-%d %v", names[1], c, b, f, l, ok)
	}
}
