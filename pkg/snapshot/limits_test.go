package snapshot_test

import (
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

// TestSaveOfAFrozenMember: the member is frozen (SIGSTOP) once the
// stream has begun. The clients send no keepalive pings, so only the
// stall limit ends the save: it fails naming the member and the silence,
// and leaves nothing in the directory.
func TestSaveOfAFrozenMember(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	write(t, st.Conn(), "/big/", 96, 1<<20) // more than the socket and gRPC windows hold
	ctx := testutil.Context(t, 2*time.Minute)
	defer sb.Resume(ctx, "m1")
	dir := t.TempDir()
	var once sync.Once
	start := time.Now()
	_, _, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), dir+"/", snapshot.SaveOptions{Stall: 2 * time.Second,
		OnBytes: func(int64) { once.Do(func() { testutil.Must(t, sb.Pause(ctx, "m1")) }) }})
	took := time.Since(start)
	testutil.Must(t, sb.Resume(ctx, "m1"))
	if err == nil || !strings.Contains(err.Error(), "m1 sent nothing for 2s") || !strings.Contains(err.Error(), "nothing was saved") {
		t.Fatalf("save of a frozen member: %v", err)
	}
	t.Logf("%v (after %s)", err, took.Round(time.Millisecond))
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		t.Errorf("left in the directory: %s", filepath.Join(dir, e.Name()))
	}
}
