package pitr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestHandOverResumeAndGap: new bases every 2 s leave no revision
// between chains; a restart resumes the newest chain; a restart after the
// cluster compacted past it records the gap and starts from a new base.
func TestHandOverResumeAndGap(t *testing.T) {
	ctx := testutil.Context(t, 3*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	st, _ := sb.State()
	s := testutil.Session(t, st.Conn())
	c, err := s.Pool().Cluster(ctx)
	testutil.Must(t, err, "client")
	dir := t.TempDir()
	store := snapshot.Dir{Path: dir}
	var mu sync.Mutex
	var gaps []pitr.Gap
	var bases int
	run := func(d time.Duration, writes int, fullEvery time.Duration) int64 {
		t.Helper()
		fctx, stop := context.WithCancel(ctx)
		f := &pitr.Follow{Session: s, Store: store, Location: dir, FullEvery: fullEvery, Log: testutil.Logger(t),
			Recorder: pitr.Recorder{Flush: 100 * time.Millisecond},
			NewBase:  func(*snapshot.Sidecar) { mu.Lock(); bases++; mu.Unlock() },
			Gap:      func(g pitr.Gap, why string) { mu.Lock(); gaps = append(gaps, g); mu.Unlock() }}
		done := make(chan error, 1)
		go func() { done <- f.Run(fctx) }()
		var last int64
		for i := range writes {
			resp, err := c.Put(ctx, fmt.Sprintf("/w/%d", i%50), fmt.Sprint(i))
			testutil.Must(t, err, "put")
			last = resp.Header.Revision
			time.Sleep(d / time.Duration(writes))
		}
		testutil.Eventually(t, 30*time.Second, func() error {
			chains, err := pitr.Chains(ctx, store, "")
			if err != nil || chains[len(chains)-1].Through < last {
				return fmt.Errorf("not through %d yet (%v)", last, err)
			}
			return nil
		})
		stop()
		testutil.Must(t, <-done, "follow")
		return last
	}
	// A second recorder of the same store is refused while the first runs.
	second := make(chan error, 1)
	go func() {
		time.Sleep(2 * time.Second)
		f := &pitr.Follow{Session: s, Store: store, Location: dir, Log: testutil.Logger(t)}
		second <- f.Run(ctx)
	}()
	last := run(7*time.Second, 300, 2*time.Second)
	if err := <-second; !errors.Is(err, pitr.ErrRecorded) || !strings.Contains(err.Error(), "held by ") {
		t.Fatalf("a second recorder of the store: %v", err)
	}
	chains, err := pitr.Chains(ctx, store, "")
	testutil.Must(t, err, "chains")
	if len(chains) < 3 || len(gaps) > 0 || len(pitr.Gaps(chains)) > 0 {
		t.Fatalf("%d chains, gaps %v / %v", len(chains), gaps, pitr.Gaps(chains))
	}
	for i := 1; i < len(chains); i++ {
		if chains[i-1].Through < chains[i].BaseRevision {
			t.Fatalf("chain %d ends at %d, the next base is %d", i-1, chains[i-1].Through, chains[i].BaseRevision)
		}
	}
	t.Logf("%d chains (bases %d) through %d", len(chains), bases, last)

	// A restart resumes: no new base when the next chain is not due
	// (a base an hour apart).
	mu.Lock()
	before := bases
	mu.Unlock()
	last = run(500*time.Millisecond, 20, time.Hour)
	mu.Lock()
	if bases != before {
		t.Fatalf("a restart took a new base instead of resuming (%d, %d)", bases, before)
	}
	mu.Unlock()

	// Writes while nothing records, then a compaction past them: the
	// next run finds its chain compacted away, records the gap and
	// starts over.
	var lost int64
	for i := range 30 {
		resp, err := c.Put(ctx, fmt.Sprintf("/unseen/%d", i), "x")
		testutil.Must(t, err, "put")
		lost = resp.Header.Revision
	}
	_, err = c.Compact(ctx, lost, clientv3.WithCompactPhysical())
	testutil.Must(t, err, "compact")
	run(500*time.Millisecond, 20, time.Hour)
	if len(gaps) != 1 || gaps[0].From != last+1 || gaps[0].To < lost {
		t.Fatalf("gaps %v; want one from %d through at least %d", gaps, last+1, lost)
	}
	chains, _ = pitr.Chains(ctx, store, "")
	if g := pitr.Gaps(chains); len(g) != 1 || g[0] != gaps[0] {
		t.Fatalf("the store's gaps %v; recorded %v", g, gaps)
	}
	if _, err := pitr.Pick(chains, lost); err == nil {
		t.Fatalf("revision %d in the gap is restorable", lost)
	}
}
