package snapshot_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestRestoreOnHosts restores two members' data directories on their
// hosts, one reached through a real sshd and one here: a host that
// refuses leaves every directory as it was, a locked database is refused,
// and a restore moves the old directory aside and keeps its owner.
func TestRestoreOnHosts(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 3*time.Minute)
	target, port, opts := testutil.SSHD(t)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}, Members: 1})
	st, _ := sb.State()
	write(t, st.Conn(), "/k/", 50, 100)
	_, file, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err, "save")
	info, err := snapshot.Check(file)
	testutil.Must(t, err, "check")

	base := t.TempDir()
	d1, d2 := filepath.Join(base, "m1"), filepath.Join(base, "nodes", "m2")
	testutil.Must(t, os.MkdirAll(filepath.Join(d1, "member", "snap"), 0o700))
	testutil.Must(t, os.WriteFile(filepath.Join(d1, "member", "snap", "db"), []byte("old"), 0o600))
	owner := os.Geteuid() == 0
	if owner {
		testutil.Must(t, filepath.Walk(d1, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chown(p, 65534, 65534)
		}))
	}
	targets := []snapshot.Target{
		{Name: "m1", PeerURLs: []string{"http://10.0.0.1:2380"}, DataDir: d1},
		{Name: "m2", PeerURLs: []string{"http://10.0.0.2:2380"}, DataDir: d2},
	}
	ssh := hostexec.SSH{Target: target, Port: port, Options: opts, Timeout: time.Minute}
	ro := snapshot.RestoreOptions{RevisionBump: 1000, MarkCompacted: true}

	// A host that refuses: nothing changed anywhere.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	refused := hostexec.SSH{Target: target, Port: closed, Options: opts}
	_, err = snapshot.RestoreOnHosts(ctx, file, targets, map[string]hostexec.Executor{"m1": ssh, "m2": refused}, ro)
	if err == nil || !strings.Contains(err.Error(), "member m2") || !strings.Contains(err.Error(), "as it was") {
		t.Fatalf("a host that refuses: %v", err)
	}
	if old, _ := os.ReadFile(filepath.Join(d1, "member", "snap", "db")); string(old) != "old" {
		t.Fatalf("m1's data directory changed after m2's host refused")
	}
	if left, _ := filepath.Glob(filepath.Join(base, "*.etcdpilot-*")); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if _, err := os.Stat(d2); !os.IsNotExist(err) {
		t.Fatalf("m2's data directory: %v", err)
	}

	// A stream cut short: the half-sent copy is removed too.
	_, err = snapshot.RestoreOnHosts(ctx, file, targets, map[string]hostexec.Executor{"m1": ssh, "m2": cut{}}, ro)
	if err == nil || !strings.Contains(err.Error(), "member m2") {
		t.Fatalf("a stream cut short: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(base, "*", "*.etcdpilot-*"))
	more, _ := filepath.Glob(filepath.Join(base, "*.etcdpilot-*"))
	if left = append(left, more...); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}

	// A database a running etcd holds.
	f, err := os.Open(filepath.Join(d1, "member", "snap", "db"))
	testutil.Must(t, err)
	testutil.Must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	_, err = snapshot.RestoreOnHosts(ctx, file, targets, map[string]hostexec.Executor{"m1": ssh, "m2": hostexec.Local{}}, ro)
	f.Close()
	if err == nil || !strings.Contains(err.Error(), "in use by a running etcd") {
		t.Fatalf("a locked database: %v", err)
	}

	start := time.Now()
	token, err := snapshot.RestoreOnHosts(ctx, file, targets, map[string]hostexec.Executor{"m1": ssh, "m2": hostexec.Local{}}, ro)
	testutil.Must(t, err, "restore")
	t.Logf("restored on 2 hosts in %.1f s (token %s)", time.Since(start).Seconds(), token)
	for _, d := range []string{d1, d2} {
		got, err := snapshot.ReadInfo(filepath.Join(d, "member", "snap", "db"), false)
		testutil.Must(t, err, d)
		if got.KeyCount != info.KeyCount || got.Revision != info.Revision+1000 {
			t.Errorf("%s: %d keys at revision %d, want %d at %d", d, got.KeyCount, got.Revision, info.KeyCount, info.Revision+1000)
		}
		if wal, _ := filepath.Glob(filepath.Join(d, "member", "wal", "*.wal")); len(wal) != 1 {
			t.Errorf("%s: WAL files %v", d, wal)
		}
	}
	aside, _ := filepath.Glob(d1 + ".etcdpilot-aside-*")
	if len(aside) != 1 {
		t.Fatalf("m1's old directory kept aside: %v", aside)
	}
	if old, _ := os.ReadFile(filepath.Join(aside[0], "member", "snap", "db")); string(old) != "old" {
		t.Errorf("the directory kept aside lost its data")
	}
	if owner {
		fi, err := os.Stat(filepath.Join(d1, "member", "snap", "db"))
		testutil.Must(t, err)
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
			t.Errorf("m1's restored database is owned by %d, want the old directory's 65534", uid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(base, "*.etcdpilot-restore-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// cut is this machine, its input cut after 64 KiB.
type cut struct{ hostexec.Local }

func (cut) RunInput(ctx context.Context, script string, in io.Reader) (hostexec.Output, error) {
	return hostexec.Local{}.RunInput(ctx, script, io.LimitReader(in, 64<<10))
}
