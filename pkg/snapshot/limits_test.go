package snapshot_test

import (
	"os"
	"os/exec"
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

// TestSaveOnAFullDisk: a directory on a filesystem that cannot hold the
// snapshot is refused before anything streams, with the space needed.
func TestSaveOnAFullDisk(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	tiny := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", tiny).Run() })
	var sent int64
	_, _, err := snapshot.Save(testutil.Context(t, time.Minute), testutil.Session(t, st.Conn()), tiny+"/", snapshot.SaveOptions{OnBytes: func(n int64) { sent = n }})
	if err == nil || !strings.Contains(err.Error(), "free in "+tiny) || !strings.Contains(err.Error(), "nothing was written") || sent != 0 {
		t.Fatalf("save onto a full disk: %v (%d bytes streamed)", err, sent)
	}
	if left, _ := os.ReadDir(tiny); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
