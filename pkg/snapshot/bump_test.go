package snapshot_test

import (
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

func TestCheckBump(t *testing.T) {
	for _, c := range []struct {
		opts snapshot.RestoreOptions
		want string
	}{
		{snapshot.RestoreOptions{}, ""},
		{snapshot.RestoreOptions{RevisionBump: 10, MarkCompacted: true}, ""},
		{snapshot.RestoreOptions{RevisionBump: 10}, "needs --mark-compacted"},
		{snapshot.RestoreOptions{MarkCompacted: true}, "needs --bump-revision"},
	} {
		err := c.opts.CheckBump()
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
	if err := snapshot.BumpCovers(5000, 1000, 100); err == nil || !strings.Contains(err.Error(), "--bump-revision 4001") {
		t.Errorf("a bump short of the live revision: %v", err)
	}
	if err := snapshot.BumpCovers(5000, 1000, 4000); err != nil {
		t.Errorf("a bump that reaches the live revision: %v", err)
	}
}

// TestRestoreForKubernetes restores a snapshot with a revision bump while a
// client watches: its watch ends as compacted (a Kubernetes reflector then
// re-lists) instead of resuming at revisions that now hold other data, and
// no revision the client saw comes back.
func TestRestoreForKubernetes(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 3*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	st, _ := sb.State()
	write(t, st.Conn(), "/registry/configmaps/", 100, 50)
	before, _ := dump(t, st.Conn())
	_, file, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err, "save")
	info, err := snapshot.Check(file)
	testutil.Must(t, err, "check")
	write(t, st.Conn(), "/registry/pods/", 40, 50)
	_, seen := dump(t, st.Conn())

	_, err = snapshot.RestoreSandbox(ctx, sb, file, snapshot.RestoreOptions{RevisionBump: 20, MarkCompacted: true})
	if err == nil || !strings.Contains(err.Error(), "restarts below it") {
		t.Fatalf("a bump below the live revision: %v", err)
	}
	cmp, err := snapshot.RestoreSandbox(ctx, sb, file, snapshot.RestoreOptions{RevisionBump: snapshot.KubernetesBump, MarkCompacted: true})
	testutil.Must(t, err, "restore")
	if len(cmp) != 3 || cmp[0].KeyCount != info.KeyCount {
		t.Fatalf("compared: %+v", cmp)
	}
	cli, err := st.Conn().Client()
	testutil.Must(t, err, "client")
	defer cli.Close()
	resp, err := cli.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	testutil.Must(t, err, "get")
	if resp.Header.Revision < info.Revision+snapshot.KubernetesBump || resp.Header.Revision <= seen {
		t.Fatalf("revision %d after a bump of %d from %d (the client saw %d)", resp.Header.Revision, snapshot.KubernetesBump, info.Revision, seen)
	}
	if resp.Count != int64(len(before)) {
		t.Fatalf("%d keys under /registry/, want the snapshot's %d", resp.Count, len(before))
	}
	if _, err := cli.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithRev(seen)); err != rpctypes.ErrCompacted {
		t.Fatalf("a read at revision %d the client saw: %v, want compacted", seen, err)
	}
	w := <-cli.Watch(clientv3.WithRequireLeader(ctx), "/registry/", clientv3.WithPrefix(), clientv3.WithRev(seen+1))
	if w.CompactRevision == 0 {
		t.Fatalf("a watch resumed from revision %d: %+v, want it ended as compacted", seen+1, w)
	}
	t.Logf("revision %d → %d (snapshot %d, client saw %d); the watch from %d ended compacted at %d", seen, resp.Header.Revision, info.Revision, seen, seen+1, w.CompactRevision)

	// The bumped cluster's own snapshot holds etcdutl's empty marker
	// record: still a valid snapshot, with the same keys.
	_, again, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err, "save after the bump")
	ai, err := snapshot.Check(again)
	testutil.Must(t, err, "check after the bump")
	if ai.KeyCount != info.KeyCount || ai.Revision < info.Revision+snapshot.KubernetesBump {
		t.Fatalf("the snapshot after the bump: %d keys at revision %d", ai.KeyCount, ai.Revision)
	}
}
