package pitr_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// load writes a history with every kind of change a revision can hold:
// puts, overwrites, deletes, multi-key transactions, keys on a long lease
// and keys on a short one that expires (its deletes come from the
// lessor, not a client). It returns revisions to restore to.
func load(t *testing.T, ctx context.Context, c *clientv3.Client, rounds int) []int64 {
	t.Helper()
	long, err := c.Grant(ctx, 600)
	testutil.Must(t, err, "grant")
	var points []int64
	for i := range rounds {
		_, err := c.Put(ctx, fmt.Sprintf("/k/%03d", i%40), fmt.Sprintf("v%d", i))
		testutil.Must(t, err, "put")
		if i%5 == 2 {
			_, err = c.Delete(ctx, fmt.Sprintf("/k/%03d", (i+17)%40))
			testutil.Must(t, err, "delete")
		}
		if i%7 == 3 {
			_, err = c.Txn(ctx).Then(
				clientv3.OpPut(fmt.Sprintf("/t/%d/a", i), "a"),
				clientv3.OpPut(fmt.Sprintf("/t/%d/b", i), "b"),
				clientv3.OpDelete("/k/0", clientv3.WithPrefix()),
				clientv3.OpPut(fmt.Sprintf("/t/%d/c", i), "c"),
			).Commit()
			testutil.Must(t, err, "txn")
		}
		if i%11 == 5 {
			_, err = c.Put(ctx, fmt.Sprintf("/lease/long/%d", i), "x", clientv3.WithLease(long.ID))
			testutil.Must(t, err, "put on lease")
			short, err := c.Grant(ctx, 2)
			testutil.Must(t, err, "grant")
			_, err = c.Put(ctx, fmt.Sprintf("/lease/short/%d", i), "x", clientv3.WithLease(short.ID))
			testutil.Must(t, err, "put on lease")
		}
		if i%25 == 24 {
			resp, err := c.Get(ctx, "/")
			testutil.Must(t, err, "get")
			points = append(points, resp.Header.Revision)
			time.Sleep(300 * time.Millisecond)
		}
	}
	return points
}

func TestRecordAndRebuild(t *testing.T) {
	for _, v := range []string{testutil.V35, testutil.V36, testutil.V37} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 4*time.Minute)
			sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{v}})
			st, _ := sb.State()
			s := testutil.Session(t, st.Conn())
			c, err := s.Pool().Cluster(ctx)
			testutil.Must(t, err, "client")
			for i := range 30 {
				_, err := c.Put(ctx, fmt.Sprintf("/before/%d", i), "b")
				testutil.Must(t, err, "put")
			}
			dir := t.TempDir()
			store := snapshot.Dir{Path: dir}
			fctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			var ferr error
			f := &pitr.Follow{Session: s, Store: store, Location: dir, Log: testutil.Logger(t),
				Recorder: pitr.Recorder{Flush: 200 * time.Millisecond, Encoding: snapshot.Encoding{Compress: true}}}
			wg.Add(1)
			go func() { defer wg.Done(); ferr = f.Run(fctx) }()
			var base int64
			testutil.Eventually(t, time.Minute, func() error {
				chains, err := pitr.Chains(ctx, store, "")
				if err != nil || len(chains) == 0 || chains[0].Base == nil {
					if err == nil {
						// a chain appears with its first segment
						_, err = c.Put(ctx, "/tick", "t")
					}
					return fmt.Errorf("no chain yet (%v)", err)
				}
				base = chains[0].BaseRevision
				return nil
			})
			points := append([]int64{base}, load(t, ctx, c, 200)...)
			last := points[len(points)-1]
			testutil.Eventually(t, 30*time.Second, func() error {
				chains, err := pitr.Chains(ctx, store, "")
				if err != nil || chains[len(chains)-1].Through < last {
					return fmt.Errorf("chain not through %d yet: %v", last, err)
				}
				return nil
			})
			stop()
			wg.Wait()
			testutil.Must(t, ferr, "follow")
			chains, err := pitr.Chains(ctx, store, "")
			testutil.Must(t, err, "chains")
			if len(chains) != 1 || len(chains[0].Holes) != 0 {
				t.Fatalf("chains %+v", chains)
			}
			t.Logf("%s: base %d, %d segments through %d", v, base, len(chains[0].Segments), chains[0].Through)

			// Every point rebuilt hashes as the source does at it.
			rebuild := func(rev, compact int64, strict bool, ch *pitr.Chain) (*pitr.Result, error) {
				out := filepath.Join(t.TempDir(), fmt.Sprintf("at-%d.db", rev))
				rb := &pitr.Rebuild{Store: store, Chain: ch, Revision: rev, CompactTo: compact, Strict: strict, Out: out}
				return rb.Run(ctx)
			}
			prove := func(rev int64) *pitr.Result {
				t.Helper()
				sh, err := pitr.HashAt(ctx, s, rev)
				testutil.Must(t, err, "source hash")
				ch, err := pitr.Pick(chains, rev)
				testutil.Must(t, err, "pick")
				res, err := rebuild(rev, sh.CompactRevision, false, ch)
				testutil.Must(t, err, "rebuild")
				if res.Revision != rev || res.Hash != sh.Hash || res.CompactRevision != sh.CompactRevision {
					t.Fatalf("rebuild at %d: revision %d hash %d (compacted %d); the source's HashKV at %d is %d (compacted %d)",
						rev, res.Revision, res.Hash, res.CompactRevision, rev, sh.Hash, sh.CompactRevision)
				}
				if fi, _ := os.Stat(res.File); fi.Mode().Perm() != 0o600 {
					t.Fatalf("mode %v", fi.Mode())
				}
				return res
			}
			seen := map[int64]time.Time{}
			for _, p := range points {
				seen[p] = prove(p).Seen
			}
			// A time, with no source to ask: the newest revision seen at or
			// before it (the load waits 300 ms after each point).
			at := points[1]
			for _, when := range []time.Time{seen[at], seen[at].Add(100 * time.Millisecond)} {
				out := filepath.Join(t.TempDir(), "at-time.db")
				pt, err := pitr.Rebuilt(ctx, pitr.Request{Store: store, Time: when, Out: out})
				testutil.Must(t, err, "rebuild at a time")
				if pt.Revision != at {
					t.Fatalf("at %s: revision %d, want %d", when, pt.Revision, at)
				}
			}
			// After the source compacts, a rebuild compacted alike still
			// hashes as it does; below the compaction, no proof.
			mid := points[len(points)/2]
			_, err = c.Compact(ctx, mid, clientv3.WithCompactPhysical())
			testutil.Must(t, err, "compact")
			res := prove(last)
			if _, err := pitr.HashAt(ctx, s, points[1]); !errors.Is(err, pitr.ErrSourceCompacted) {
				t.Fatalf("hash below the compaction: %v", err)
			}
			t.Logf("%s: %d points proven by HashKV; last %d from %d segments, %d revisions, %d events",
				v, len(points)+1, last, res.Segments, res.Revisions, res.Events)

			// The rebuilt snapshot restores into a real member: its keys and
			// HashKV are the source's, and the long lease is there.
			want, err := c.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithRev(last))
			testutil.Must(t, err, "get")
			dst := testutil.Sandbox(t, sandbox.Options{Name: "dst", Members: 1, Versions: []string{v}})
			_, err = snapshot.RestoreSandbox(ctx, dst, res.File, snapshot.RestoreOptions{EtcdVersion: v, OtherCluster: true})
			testutil.Must(t, err, "restore")
			dstate, _ := dst.State()
			d := testutil.Session(t, dstate.Conn())
			dc, err := d.Pool().Cluster(ctx)
			testutil.Must(t, err, "client")
			got, err := dc.Get(ctx, "", clientv3.WithPrefix())
			testutil.Must(t, err, "get")
			if got.Header.Revision != last || len(got.Kvs) != len(want.Kvs) {
				t.Fatalf("restored: %d keys at %d; source %d keys at %d", len(got.Kvs), got.Header.Revision, len(want.Kvs), last)
			}
			for i, kv := range got.Kvs {
				if w := want.Kvs[i]; kv.String() != w.String() {
					t.Fatalf("restored %v, source %v", kv, w)
				}
			}
			sh, _ := pitr.HashAt(ctx, s, last)
			dh, err := pitr.HashAt(ctx, d, last)
			testutil.Must(t, err, "restored hash")
			if dh.Hash != sh.Hash {
				t.Fatalf("restored member's HashKV %d, source's %d", dh.Hash, sh.Hash)
			}
			leases, err := dc.Leases(ctx)
			testutil.Must(t, err, "leases")
			var long int64
			for _, l := range leases.Leases {
				ttl, err := dc.TimeToLive(ctx, l.ID, clientv3.WithAttachedKeys())
				testutil.Must(t, err, "ttl")
				if ttl.GrantedTTL == 600 && len(ttl.Keys) > 0 {
					long = ttl.GrantedTTL
				}
			}
			if long != 600 {
				t.Fatalf("the long lease with its keys is not in the restore (%d leases)", len(leases.Leases))
			}

			// A truncated segment: the rebuild stops before it and says
			// so, or refuses with Strict.
			segs := chains[0].Segments
			broken := segs[len(segs)/2]
			p := filepath.Join(dir, filepath.FromSlash(broken.Name))
			data, _ := os.ReadFile(p)
			testutil.Must(t, os.WriteFile(p, data[:len(data)/2], 0o600))
			res, err = rebuild(last, 0, false, chains[0])
			testutil.Must(t, err, "rebuild past a broken segment")
			if res.Revision != broken.First-1 || res.Broken == "" {
				t.Fatalf("stopped at %d (%q); want %d and the reason", res.Revision, res.Broken, broken.First-1)
			}
			if _, err := rebuild(last, 0, true, chains[0]); err == nil {
				t.Fatal("strict rebuild past a broken segment succeeded")
			}
			// A segment missing: the chain stops before it, and a revision
			// after it is refused, naming the hole.
			testutil.Must(t, os.Remove(p))
			holed, err := pitr.Chains(ctx, store, "")
			testutil.Must(t, err)
			if h := holed[0].Holes; len(h) != 1 || h[0].From != broken.First || holed[0].Through != broken.First-1 {
				t.Fatalf("holes %v, through %d; want one from %d", h, holed[0].Through, broken.First)
			}
			if _, err := pitr.Pick(holed, last); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("segments missing for %d..", broken.First)) {
				t.Fatalf("a revision after the hole: %v", err)
			}
			// The output is never replaced.
			out := filepath.Join(t.TempDir(), "x.db")
			testutil.Must(t, os.WriteFile(out, []byte("mine"), 0o600))
			rb := &pitr.Rebuild{Store: store, Chain: chains[0], Revision: base, Out: out}
			if _, err := rb.Run(ctx); !errors.Is(err, fsutil.ErrExists) {
				t.Fatalf("rebuild over an existing file: %v", err)
			}
		})
	}
}
