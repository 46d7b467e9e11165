package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestPointInTimeCommands: snapshot follow records a sandbox under
// writes; ls --points shows the range; verify --to-revision --drill
// proves a point against the live sandbox; restore --to-time brings the
// sandbox back to the last write before that time and no later one; bad
// points are refused with what to do.
func TestPointInTimeCommands(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "p", []string{testutil.V36})
	sb, err := sandbox.Open(state, "p", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	ctx := testutil.Context(t, 3*time.Minute)
	dir := t.TempDir()

	follow := exec.Command(etcdpilotBin, "snapshot", "follow", dir, "--sandbox", "p", "--flush", "200ms", "--compress", "zstd")
	follow.Env = cliEnv(state)
	var ferr bytes.Buffer
	follow.Stderr = &ferr
	testutil.Must(t, follow.Start())
	defer follow.Process.Kill()
	testutil.Eventually(t, time.Minute, func() error {
		if !strings.Contains(ferr.String(), "base snapshot") {
			return fmt.Errorf("no base yet: %s", ferr.String())
		}
		return nil
	})
	var mid, last int64
	var cut time.Time
	for i := range 100 {
		resp, err := cli.Put(ctx, fmt.Sprintf("/w/%03d", i), fmt.Sprint(i))
		testutil.Must(t, err)
		last = resp.Header.Revision
		if i == 49 {
			mid = last
			time.Sleep(1500 * time.Millisecond)
			cut = time.Now().UTC().Add(-500 * time.Millisecond)
		}
	}
	testutil.Eventually(t, 30*time.Second, func() error {
		chains, err := pitr.Chains(ctx, snapshot.Dir{Path: dir}, "")
		if err != nil || len(chains) == 0 || chains[len(chains)-1].Through < last {
			return fmt.Errorf("not through %d yet (%v)", last, err)
		}
		return nil
	})
	testutil.Must(t, follow.Process.Signal(os.Interrupt))
	if err := follow.Wait(); err != nil {
		t.Fatalf("follow: %v\n%s", err, ferr.String())
	}

	r := run(t, state, "snapshot", "ls", dir, "--points")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("..%d", last)) {
		t.Fatalf("ls --points: %d %s %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("ls --points:\n%s", r.stdout)
	r = run(t, state, "snapshot", "verify", dir, "--to-revision", fmt.Sprint(mid), "--drill", "--sandbox", "p")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("rebuilt revision %d", mid)) || !strings.Contains(r.stdout, "proof: proven") || !strings.Contains(r.stdout, "restore drill on etcd "+testutil.V36) {
		t.Fatalf("verify --to-revision: %d %s %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("verify --to-revision:\n%s", r.stdout)
	r = run(t, state, "snapshot", "restore", dir, "--to-time", cut.Format(time.RFC3339Nano), "--sandbox", "p")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("rebuilt revision %d", mid)) || !strings.Contains(r.stdout, "proof: proven") || strings.Count(r.stdout, "matches the snapshot") != 3 {
		t.Fatalf("restore --to-time: %d %s %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("restore --to-time:\n%s", r.stdout)
	cli2, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli2.Close()
	got, err := cli2.Get(ctx, "/w/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	testutil.Must(t, err)
	if got.Count != 50 || got.Header.Revision != mid {
		t.Fatalf("after the restore: %d keys at %d; want 50 at %d", got.Count, got.Header.Revision, mid)
	}

	// Bad points: a revision past the record, a snapshot file instead of
	// its store, both flags.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", "restore", dir, "--to-revision", fmt.Sprint(last + 1000), "--sandbox", "p"}, "not restorable"},
		{[]string{"snapshot", "verify", dir + "/x.db", "--to-revision", "5"}, "take the store that holds it"},
		{[]string{"snapshot", "verify", dir, "--to-revision", "5", "--to-time", "2026-01-01T00:00:00Z"}, "not both"},
		{[]string{"snapshot", "verify", dir, "--to-time", "yesterday"}, "RFC 3339"},
		{[]string{"snapshot", "follow", dir, "--sandbox", "p", "--spool-size", "lots"}, "give a size such as 1GiB"},
	} {
		if r := run(t, state, c.args...); r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %d %s", c.args, r.code, r.stderr)
		}
	}
}
