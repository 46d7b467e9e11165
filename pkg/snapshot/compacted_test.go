package snapshot_test

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestSaveAtTheCompactedHead: a member compacted at its head answers
// HashKV at that revision with the hash it kept while compacting, which
// covers the history before the compaction and differs from the
// snapshot's. The save still compares the snapshot with the member's own
// hash of that revision (its head, hashed), so the member's hash is the
// snapshot's and a verified save is proven by it, not read back.
func TestSaveAtTheCompactedHead(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 2*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V35}})
	st, _ := sb.State()
	write(t, st.Conn(), "/k/", 200, 100)
	head := testutil.CompactHead(t, st.Conn())
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	kept, err := cli.HashKV(ctx, st.Members[0].Endpoint(), head)
	testutil.Must(t, err)
	sc, _, err := snapshot.Save(context.Background(), testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{CompareMember: true})
	testutil.Must(t, err)
	if sc.Revision != head || sc.CompactRevision != head {
		t.Fatalf("snapshot at revision %d compacted at %d; want both %d", sc.Revision, sc.CompactRevision, head)
	}
	if sc.HashKVMember != sc.HashKV {
		t.Fatalf("member's hash %d, the snapshot's %d (the kept hash was %d at compact revision %d)", sc.HashKVMember, sc.HashKV, kept.Hash, kept.CompactRevision)
	}
	t.Logf("kept hash %d (compact revision %d), the head's %d", kept.Hash, kept.CompactRevision, sc.HashKV)
}
