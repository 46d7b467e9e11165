package snapshot_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// fill writes about mib MiB in 1 MiB values from 4 writers.
func fill(t *testing.T, sb *sandbox.Sandbox, mib int) {
	st, _ := sb.State()
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	val := strings.Repeat("s", 1<<20-64)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < mib; i += 4 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := cli.Put(ctx, fmt.Sprintf("/big/%04d", i), val)
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestS3Store runs the snapshot commands' library against a real
// versitygw: a 200 MiB snapshot saved to s3:// (multipart), listed with
// its sidecar, verified with a restore drill, restored into a fresh
// sandbox; a second and a third save pruned down to the newest; an object
// corrupted in the server's files refused before anything uses it; a
// bucket that does not exist named with the endpoint.
func TestS3Store(t *testing.T) {
	t.Parallel()
	testutil.S3Env(t)
	endpoint, data := testutil.S3(t, "backups")
	stores := snapshot.Stores{S3: snapshot.S3Options{Endpoint: endpoint, PathStyle: true}}
	ctx := testutil.Context(t, 5*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	fill(t, sb, 200)
	st, _ := sb.State()
	want, wantRev := dump(t, st.Conn())
	s := testutil.Session(t, st.Conn())

	start := time.Now()
	sc, path, err := snapshot.Save(ctx, s, "s3://backups/etcd/", snapshot.SaveOptions{Stores: stores})
	testutil.Must(t, err, "save to s3")
	t.Logf("saved %d MiB to %s in %s", sc.Size>>20, path, time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(path, "s3://backups/etcd/snapshot-") || sc.Size < 200<<20 {
		t.Fatalf("saved %s, %d bytes", path, sc.Size)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "."+filepath.Base(path)+"*")); len(left) > 0 {
		t.Errorf("local temporary files left: %v", left)
	}

	store, err := stores.Open(ctx, "s3://backups/etcd/", false)
	testutil.Must(t, err)
	list, err := store.List(ctx)
	testutil.Must(t, err)
	if len(list) != 1 || !list[0].SidecarOK || list[0].Sidecar.Revision != wantRev {
		t.Fatalf("listing %+v", list)
	}

	r, err := snapshot.Verify(ctx, path, snapshot.VerifyOptions{Drill: true, Binaries: testutil.Binaries(t, testutil.V36), Stores: stores})
	testutil.Must(t, err, "verify")
	if !r.OK() || r.Drill == nil {
		t.Fatalf("verify: %+v", r)
	}
	if sc, err := store.Sidecar(ctx, filepath.Base(path)); err != nil || sc.DrilledAt == nil {
		t.Fatalf("the sidecar in the bucket does not record the drill: %v", err)
	}

	fresh := testutil.Sandbox(t, sandbox.Options{Name: "fresh", Members: 1, Versions: []string{testutil.V36}})
	file, done, err := stores.Local(ctx, path)
	testutil.Must(t, err)
	_, err = snapshot.RestoreSandbox(ctx, fresh, file, snapshot.RestoreOptions{OtherCluster: true})
	done()
	testutil.Must(t, err, "restore from s3")
	fst, _ := fresh.State()
	got, gotRev := dump(t, fst.Conn())
	if gotRev != wantRev || len(got) != len(want) {
		t.Fatalf("restored: revision %d, %d keys; want %d, %d", gotRev, len(got), wantRev, len(want))
	}

	// Retention: two more saves, keep the newest.
	for i := 0; i < 2; i++ {
		time.Sleep(10 * time.Millisecond)
		_, _, err := snapshot.Save(ctx, s, "s3://backups/etcd/", snapshot.SaveOptions{Stores: stores})
		testutil.Must(t, err)
	}
	ds, err := snapshot.Prune(ctx, store, snapshot.Policy{KeepLast: 1}, false)
	testutil.Must(t, err)
	list, _ = store.List(ctx)
	if len(ds) != 3 || len(list) != 1 || list[0].Name == filepath.Base(path) {
		t.Fatalf("after prune: %d decisions, %d left: %+v", len(ds), len(list), list)
	}

	// An object corrupted where the server keeps it.
	obj := filepath.Join(data, "backups", "etcd", list[0].Name)
	b, err := os.ReadFile(obj)
	testutil.Must(t, err)
	b[len(b)/2] ^= 0x40
	testutil.Must(t, os.WriteFile(obj, b, 0o600))
	if _, err := snapshot.Verify(ctx, list[0].File, snapshot.VerifyOptions{Stores: stores}); err == nil || !strings.Contains(err.Error(), "is corrupt") {
		t.Errorf("verify of a corrupt object: %v", err)
	}
	if _, _, err := stores.Local(ctx, list[0].File); err == nil {
		t.Error("a corrupt object was fetched for a restore")
	}

	if _, err := stores.Open(ctx, "s3://nope/etcd/", false); err == nil || !strings.Contains(err.Error(), "bucket nope at "+endpoint+" does not exist") {
		t.Errorf("missing bucket: %v", err)
	}
}
