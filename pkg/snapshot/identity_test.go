package snapshot_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// TestRestoreRefusesAnotherCluster (issue 27): restoring sandbox B's
// snapshot into running sandbox A is refused before any member stops,
// with its sidecar and as a bare file (the ID etcd derives from B's
// members). A's own bare snapshot is known by its members; the ID etcd
// derives from a never-changed membership is the cluster's ID.
func TestRestoreRefusesAnotherCluster(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 3*time.Minute)
	a := testutil.Sandbox(t, sandbox.Options{Name: "a", Versions: []string{testutil.V35}})
	b := testutil.Sandbox(t, sandbox.Options{Name: "b", Versions: []string{testutil.V35}, Members: 1})
	sta, _ := a.State()
	stb, _ := b.State()
	write(t, stb.Conn(), "/b/", 10, 10)
	_, other, err := snapshot.Save(ctx, testutil.Session(t, stb.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err)
	_, own, err := snapshot.Save(ctx, testutil.Session(t, sta.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err)
	bare := func(file string) string {
		out := filepath.Join(t.TempDir(), "bare.db")
		data, _ := os.ReadFile(file)
		testutil.Must(t, os.WriteFile(out, data, 0o600))
		return out
	}
	ca, err := status.CollectConfig(ctx, sta.Conn(), status.Options{SkipHash: true})
	testutil.Must(t, err)
	cb, err := status.CollectConfig(ctx, stb.Conn(), status.Options{SkipHash: true})
	testutil.Must(t, err)

	info, err := snapshot.Check(bare(own))
	testutil.Must(t, err)
	if id := snapshot.IdentityOf(info, nil); id.ClusterID != ca.ClusterID || len(id.Members) != 3 {
		t.Fatalf("derived identity %+v, cluster %s", id, ca.ClusterID)
	}
	for name, file := range map[string]string{"with its sidecar": other, "bare": bare(other)} {
		_, err := snapshot.RestoreSandbox(ctx, a, file, snapshot.RestoreOptions{})
		if !errors.Is(err, snapshot.ErrOtherCluster) || !strings.Contains(err.Error(), ca.ClusterID) || !strings.Contains(err.Error(), cb.ClusterID) || !strings.Contains(err.Error(), "nothing was stopped") {
			t.Errorf("%s: %v", name, err)
		}
	}
	after, err := status.CollectConfig(ctx, sta.Conn(), status.Options{SkipHash: true})
	if err != nil || after.ReachableVoters != 3 || after.ClusterID != ca.ClusterID {
		t.Fatalf("the refusals touched A: %v %+v", err, after)
	}
}
