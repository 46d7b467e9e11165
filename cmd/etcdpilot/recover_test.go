package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestRecoverSurvivesCrashes: a 3-member sandbox loses 2 members (SIGKILL);
// recover apply is killed with SIGKILL after steps and resumed until the
// cluster is back: 3 healthy members, every key, and --force-new-cluster
// only ever on the one survivor the first run chose. A recovery while the
// quorum holds is refused, pointing to member replace.
func TestRecoverSurvivesCrashes(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "dr", []string{testutil.V36})
	sb, err := sandbox.Open(state, "dr", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	ctx := testutil.Context(t, 10*time.Minute)
	testutil.Must(t, bench.Load(ctx, st.Conn(), bench.LoadOptions{Keys: 300, ValueSize: 100, Prefix: "/keep/"}, nil))
	time.Sleep(time.Second)

	if r := run(t, state, "recover", "apply", "--sandbox", "dr"); r.code != 2 || !strings.Contains(r.stderr, "member replace") {
		t.Fatalf("recover with the quorum: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "recover", "plan", "--sandbox", "dr"); r.code != 0 || !strings.Contains(r.stdout, "No recovery needed") {
		t.Errorf("plan with the quorum: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, m := range []string{"m2", "m3"} {
		if r := run(t, state, "sandbox", "proc", "kill", m, "--name", "dr"); r.code != 0 {
			t.Fatalf("kill: %s", r.stderr)
		}
	}
	r := run(t, state, "recover", "plan", "--sandbox", "dr")
	if r.code != 0 || !strings.Contains(r.stdout, "Recover from the best survivor m1") || !strings.Contains(r.stdout, "Loses 0 revisions") {
		t.Fatalf("plan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	journal := filepath.Join(sb.Dir, "upgrade-journal.json")
	crashes := crashUntilDone(t, state, journal,
		[]string{"recover", "apply", "--sandbox", "dr"},
		[]string{"recover", "apply", "--sandbox", "dr", "--resume"})
	if crashes < 1 {
		t.Errorf("only %d crashes", crashes)
	}
	j, err := engine.LoadJournal(journal)
	testutil.Must(t, err)
	if j.State != engine.StateDone || j.Kind != "recover" {
		t.Fatalf("journal %s %s", j.Kind, j.State)
	}
	for _, e := range j.Entries {
		if strings.Contains(e.Step, "force-new-cluster") && !strings.Contains(e.Step, "m1") {
			t.Errorf("--force-new-cluster on another member: %s", e.Step)
		}
	}
	r = run(t, state, "status", "--sandbox", "dr")
	if r.code != 0 || !strings.Contains(r.stdout, "HEALTHY") || !strings.Contains(r.stdout, "3/3 voting members") || !strings.Contains(r.stdout, "hashes agree") {
		t.Fatalf("status: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	st, _ = sb.State()
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "/keep/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	testutil.Must(t, err)
	if resp.Count != 300 {
		t.Errorf("%d of 300 keys after the recovery", resp.Count)
	}
	t.Logf("%d crashes, %d journal entries", crashes, len(j.Entries))
}
