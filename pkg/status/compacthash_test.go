package status_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// TestHashAtCompaction: a look at the cluster compares the hashes etcd
// kept at its last compaction, and they still catch a member whose data
// differs. One member's copy of a value is changed on disk while it is
// stopped (as bit rot would). Before any compaction the comparison is at
// the head; after one (as kube-apiserver makes every 5 minutes) it is at
// the compaction's revision, every member answering with the hash it kept
// (its compact revision is the one before, not the compaction's: no
// scan), and the changed member stands apart. A member restarted since
// holds no such hash: the comparison goes back to the head, and a gate
// there (the head is the compaction's revision) still compares.
func TestHashAtCompaction(t *testing.T) {
	for _, v := range []string{testutil.V35, testutil.V36} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			hashAtCompaction(t, v)
		})
	}
}

func hashAtCompaction(t *testing.T, v string) {
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{v}})
	ctx := context.Background()
	st, _ := sb.State()
	c := st.Conn()
	put(t, c, 50)
	victim, other := st.Members[2].Name, st.Members[0].Name
	testutil.Must(t, sb.Stop(ctx, victim))
	dir, err := sb.DataDir(ctx, victim)
	testutil.Must(t, err)
	rewriteValue(t, filepath.Join(dir, "member", "snap", "db"), "/status-test/007", "x")
	testutil.Must(t, sb.Start(ctx, victim, runtime.StartOptions{}))
	testutil.Must(t, sb.WaitHealthy(ctx))
	p, err := conn.NewPool(c)
	testutil.Must(t, err)
	defer p.Close()
	compare := func() (status.Hash, []status.Member) {
		cl, err := status.CollectConfig(ctx, c, status.Options{SkipHash: true})
		testutil.Must(t, err)
		return status.CompareHashes(ctx, p, cl.Members), cl.Members
	}
	if h, _ := compare(); h.Result != status.HashMismatch || h.Compaction || !strings.Contains(h.Detail, victim+"=") {
		t.Fatalf("before any compaction: want a mismatch at the head naming %s, got %+v", victim, h)
	}

	head := testutil.CompactHead(t, c)
	var h status.Hash
	var members []status.Member
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if h, members = compare(); h.Compaction {
			break
		}
	}
	if !h.Compaction || h.Revision != head || h.Result != status.HashMismatch {
		t.Fatalf("after compacting at %d: want a mismatch at the compaction, got %+v", head, h)
	}
	if !strings.Contains(h.Detail, "compaction revision") || strings.Contains(h.Detail, ","+victim) || strings.Contains(h.Detail, victim+",") {
		t.Errorf("the changed member should stand apart: %s", h.Detail)
	}
	for _, m := range members {
		if m.Reachable && m.CompactRev >= head {
			t.Errorf("%s answered with compact revision %d: it hashed its data instead of answering with the kept hash", m.Name, m.CompactRev)
		}
	}
	t.Logf("at the compaction: %s", h.Detail)

	testutil.Must(t, sb.Stop(ctx, other))
	testutil.Must(t, sb.Start(ctx, other, runtime.StartOptions{}))
	testutil.Must(t, sb.WaitHealthy(ctx))
	if h, _ := compare(); h.Compaction || h.Result != status.HashMismatch {
		t.Fatalf("with %s restarted since the compaction: want a mismatch at the head, got %+v", other, h)
	}
	// A gate after that restart, as a change checks it: the head is the
	// compaction's revision, which the others answer with their kept hash;
	// the gate must still get comparable hashes, not "unknown" forever.
	cl, err := status.CollectConfig(ctx, c, status.Options{SkipHash: true})
	testutil.Must(t, err)
	var cache status.HashCache
	if h := status.CompareHashesCached(ctx, p, cl.Members, &cache, other); h.Result != status.HashMismatch || h.Revision != head {
		t.Fatalf("the gate after restarting %s at the compacted head: %+v", other, h)
	}
}

// rewriteValue changes the value of key's newest revision in a stopped
// member's backend, keeping the record valid.
func rewriteValue(t *testing.T, path, key, value string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	testutil.Must(t, err)
	defer db.Close()
	testutil.Must(t, db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		var rev, rec []byte
		b.ForEach(func(k, v []byte) error {
			var kv mvccpb.KeyValue
			if kv.Unmarshal(v) == nil && string(kv.Key) == key {
				rev, rec = append([]byte(nil), k...), append([]byte(nil), v...)
			}
			return nil
		})
		if rev == nil {
			t.Fatalf("%s not in %s", key, path)
		}
		var kv mvccpb.KeyValue
		testutil.Must(t, kv.Unmarshal(rec))
		kv.Value = []byte(value)
		out, err := kv.Marshal()
		testutil.Must(t, err)
		return b.Put(rev, out)
	}))
}
