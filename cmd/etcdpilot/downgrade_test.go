package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// TestDowngradeApplySurvivesCrashes: 3.6.16 → 3.5 with etcd's downgrade
// API, etcdpilot killed with SIGKILL again and again (after a step, and in
// the middle of a member's restart) and resumed each time, until every
// member runs 3.5.35, the cluster version is 3.5, the downgrade is over and
// every key is there. Bad input first changes nothing.
func TestDowngradeApplySurvivesCrashes(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35)
	state := cliSandbox(t, "down", []string{testutil.V36})
	sb, err := sandbox.Open(state, "down", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	ctx := testutil.Context(t, 10*time.Minute)
	testutil.Must(t, bench.Load(ctx, st.Conn(), bench.LoadOptions{Keys: 500, ValueSize: 100, Prefix: "/keep/"}, nil))
	journal := filepath.Join(sb.Dir, "upgrade-journal.json")

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"downgrade", "apply", "--to", "3.4"}, 2, "goes down to 3.5 at the lowest"},
		{[]string{"downgrade", "apply", "--to", "3.7.3"}, 2, "use etcdpilot upgrade apply"},
		{[]string{"downgrade", "apply", "--resume"}, 2, "nothing to resume"},
		{[]string{"upgrade", "apply", "--to", testutil.V35}, 2, "etcdpilot downgrade apply --to 3.5.35"},
		{[]string{"downgrade", "plan", "--to", "3.5"}, 0, "etcdpilot downgrade apply --to 3.5.35"},
	} {
		r := run(t, state, append(tc.args, "--sandbox", "down")...)
		if r.code != tc.code || !strings.Contains(r.stderr+r.stdout, tc.want) {
			t.Errorf("%v: exit %d\n%s%s", tc.args, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, state, "downgrade", "cancel", "--sandbox", "down"); r.code != 0 || !strings.Contains(r.stdout, "nothing to cancel") {
		t.Errorf("cancel with no downgrade: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(journal); err == nil {
		t.Fatal("refused changes left a journal")
	}

	crashes := crashUntilDone(t, state, journal,
		[]string{"downgrade", "apply", "--sandbox", "down", "--to", "3.5", "--probe=false"},
		[]string{"downgrade", "apply", "--sandbox", "down", "--resume", "--probe=false"})
	if crashes < 4 {
		t.Errorf("only %d crashes", crashes)
	}
	j, err := engine.LoadJournal(journal)
	testutil.Must(t, err)
	moved := map[string]bool{}
	for _, e := range j.Entries {
		if e.Member == "" {
			continue
		}
		if e.Status == "started" && moved[e.Member] {
			t.Errorf("%s restarted again after it was done: %s", e.Member, e.Step)
		}
		if e.Status == "done" {
			moved[e.Member] = true
		}
	}
	if j.State != engine.StateDone || j.Kind != "downgrade" {
		t.Errorf("journal %s %s", j.Kind, j.State)
	}
	cl, err := status.CollectConfig(ctx, st.Conn(), status.Options{})
	testutil.Must(t, err)
	for _, m := range cl.Members {
		if m.ServerVersion != testutil.V35 {
			t.Errorf("%s runs %s", m.Name, m.ServerVersion)
		}
	}
	if cl.ClusterVersion != "3.5.0" || cl.Downgrade != "" || cl.Hash.Result != status.HashAgree {
		t.Errorf("cluster version %s, downgrade %q, hash %+v", cl.ClusterVersion, cl.Downgrade, cl.Hash)
	}
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "/keep/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	testutil.Must(t, err)
	if resp.Count != 500 {
		t.Errorf("%d of 500 keys after the downgrade", resp.Count)
	}
	// Over: nothing to cancel, and no further downgrade (3.5 has no API).
	if r := run(t, state, "downgrade", "cancel", "--sandbox", "down"); r.code != 0 || !strings.Contains(r.stdout, "is over") {
		t.Errorf("cancel after the downgrade: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "downgrade", "apply", "--sandbox", "down", "--to", "3.4"); r.code != 2 || !strings.Contains(r.stderr, "snapshot restore") {
		t.Errorf("downgrade of a 3.5 cluster: %d\n%s", r.code, r.stderr)
	}
	t.Logf("%d crashes, %d journal entries", crashes, len(j.Entries))
}
