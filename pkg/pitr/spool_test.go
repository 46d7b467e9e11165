package pitr_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestSpoolWhileTheStoreIsDown: the S3 server (versitygw) is killed with
// SIGKILL while the cluster takes writes. The segments wait in the spool
// on this machine's disk and no revision is claimed stored meanwhile;
// once the server is back the spool is sent in order, the chain has no
// hole, and its rebuild hashes as the cluster does. With a spool too
// small for the outage the chain ends, and the gap recorded is exactly
// what the store lacks once the spool is sent.
func TestSpoolWhileTheStoreIsDown(t *testing.T) {
	testutil.S3Env(t)
	srv := testutil.StartS3(t, "pitr")
	ctx := testutil.Context(t, 3*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	st, _ := sb.State()
	s := testutil.Session(t, st.Conn())
	c, err := s.Pool().Cluster(ctx)
	testutil.Must(t, err, "client")
	const loc = "s3://pitr/etcd/"
	stores := snapshot.Stores{S3: snapshot.S3Options{Endpoint: srv.Endpoint, PathStyle: true}}
	store, err := stores.Open(ctx, loc, true)
	testutil.Must(t, err, "store")
	spoolDir := t.TempDir()

	var mu sync.Mutex
	var covered int64
	var gaps []pitr.Gap
	follow := func(limit int64) (stop func()) {
		fctx, cancel := context.WithCancel(ctx)
		f := &pitr.Follow{Session: s, Store: store, Location: loc, Save: snapshot.SaveOptions{Stores: stores}, Log: testutil.Logger(t),
			Recorder: pitr.Recorder{Flush: 200 * time.Millisecond, Log: testutil.Logger(t), Spool: &pitr.Spool{Dir: spoolDir, Max: limit}, MaxBuffer: 16 << 10,
				Covered: func(rev int64, _ time.Time) { mu.Lock(); covered = max(covered, rev); mu.Unlock() }},
			Gap: func(g pitr.Gap, _ string) { mu.Lock(); gaps = append(gaps, g); mu.Unlock() }}
		done := make(chan error, 1)
		go func() { done <- f.Run(fctx) }()
		return func() { cancel(); testutil.Must(t, <-done, "follow") }
	}
	value := strings.Repeat("v", 1024)
	write := func(n int) int64 {
		var last int64
		for i := range n {
			resp, err := c.Put(ctx, fmt.Sprintf("/w/%d", i%100), value)
			testutil.Must(t, err, "put")
			last = resp.Header.Revision
			time.Sleep(10 * time.Millisecond)
		}
		return last
	}
	through := func(rev int64) {
		t.Helper()
		testutil.Eventually(t, time.Minute, func() error {
			chains, err := pitr.Chains(ctx, store, "")
			if err != nil || len(chains) == 0 || chains[len(chains)-1].Through < rev {
				return fmt.Errorf("the store is not through %d yet (%v)", rev, err)
			}
			return nil
		})
	}

	stop := follow(pitr.DefaultSpoolSize)
	atKill := write(100)
	through(atKill)
	srv.Kill()
	last := write(300)
	// A segment goes to the spool once the store refused it: after the S3
	// client's own retries, which can take up to the write's 30 s bound.
	var n int
	var bytes int64
	testutil.Eventually(t, 45*time.Second, func() error {
		if n, bytes = heldOnDisk(t, spoolDir); n == 0 {
			return fmt.Errorf("nothing in the spool while the store is down")
		}
		return nil
	})
	mu.Lock()
	after := covered
	mu.Unlock()
	if after > atKill {
		t.Fatalf("revision %d claimed stored while the store was down (the cluster was at %d when it went)", after, atKill)
	}
	t.Logf("store down: %d segments, %d bytes in the spool; stored through %d, the cluster at %d", n, bytes, after, last)
	srv.Start()
	through(last)
	if n, _ := heldOnDisk(t, spoolDir); n != 0 {
		t.Fatalf("%d segments left in the spool", n)
	}
	stop()
	chains, err := pitr.Chains(ctx, store, "")
	testutil.Must(t, err, "chains")
	if len(chains) != 1 || len(chains[0].Holes) > 0 || len(gaps) > 0 {
		t.Fatalf("chains %+v, gaps %v", chains, gaps)
	}
	pt, err := pitr.Rebuilt(ctx, pitr.Request{Store: store, Revision: last, Out: t.TempDir() + "/at.db", Source: s})
	testutil.Must(t, err, "rebuild")
	if pt.Proof == nil || pt.Proof.State != "proven" {
		t.Fatalf("proof %+v", pt.Proof)
	}

	// A spool of 32 KiB for an outage of about 300 KiB: the chain ends.
	stop = follow(32 << 10)
	through(write(20))
	srv.Kill()
	last = write(300)
	// The store stays down until it has refused a segment (after the S3
	// client's retries) and the spool took what followed: a store back
	// before that takes the whole outage from the watch, and no chain ends.
	testutil.Eventually(t, 45*time.Second, func() error {
		if n, _ := heldOnDisk(t, spoolDir); n == 0 {
			return fmt.Errorf("nothing in the spool yet")
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	srv.Start()
	testutil.Eventually(t, time.Minute, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(gaps) == 0 {
			return fmt.Errorf("no gap recorded yet")
		}
		return nil
	})
	through(write(20))
	stop()
	chains, err = pitr.Chains(ctx, store, "")
	testutil.Must(t, err, "chains")
	g := pitr.Gaps(chains)
	if len(gaps) != 1 || len(g) != 1 || g[0] != gaps[0] || g[0].To+1 < last || len(chains[0].Holes) > 0 {
		t.Fatalf("recorded gaps %v, the store's %v, the cluster at %d when the store came back (the new base is at or after it)", gaps, g, last)
	}
	if n, _ := heldOnDisk(t, spoolDir); n != 0 {
		t.Fatalf("%d segments left in the spool", n)
	}
	t.Logf("spool bound reached: gap %d..%d (the spool held through %d)", g[0].From, g[0].To, g[0].From-1)
}

// heldOnDisk counts the spool's segments as its directory holds them.
func heldOnDisk(t *testing.T, dir string) (int, int64) {
	t.Helper()
	names, err := snapshot.Dir{Path: dir}.ListObjects(context.Background(), pitr.Prefix)
	testutil.Must(t, err, "spool")
	var bytes int64
	for _, n := range names {
		data, err := snapshot.Dir{Path: dir}.GetObject(context.Background(), n)
		testutil.Must(t, err)
		bytes += int64(len(data))
	}
	return len(names), bytes
}
