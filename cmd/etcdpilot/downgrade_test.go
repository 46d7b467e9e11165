package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
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
		{[]string{"upgrade", "apply", "--to", testutil.V35}, 2, "etcdpilot downgrade apply --to " + testutil.V35},
		{[]string{"downgrade", "plan", "--to", "3.5"}, 0, "etcdpilot downgrade apply --to 3.5.36"},
		// Already there (issue 27): nothing done, no snapshot, no journal.
		{[]string{"downgrade", "apply", "--to", testutil.V36, "--probe=false"}, 0, "nothing to do: every member runs " + testutil.V36},
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
	if snaps, _ := filepath.Glob(filepath.Join(sb.Dir, "snapshot-*.db")); len(snaps) > 0 {
		t.Fatalf("refused changes took snapshots: %v", snaps)
	}

	crashes := crashUntilDone(t, state, journal,
		[]string{"downgrade", "apply", "--sandbox", "down", "--to", testutil.V35, "--probe=false"},
		[]string{"downgrade", "apply", "--sandbox", "down", "--resume", "--probe=false"})
	if crashes < 4 {
		t.Errorf("only %d crashes", crashes)
	}
	j, err := engine.LoadJournal(journal)
	testutil.Must(t, err)
	moved := map[string]bool{}
	for _, e := range j.Entries {
		if e.Member == "" || e.Action != engine.Restart {
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
	if r := run(t, state, "downgrade", "cancel", "--sandbox", "down"); r.code != 0 || !strings.Contains(r.stdout, "nothing to cancel") {
		t.Errorf("cancel after the downgrade: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "downgrade", "apply", "--sandbox", "down", "--to", "3.4"); r.code != 2 || !strings.Contains(r.stderr, "snapshot restore") {
		t.Errorf("downgrade of a 3.5 cluster: %d\n%s", r.code, r.stderr)
	}
	t.Logf("%d crashes, %d journal entries", crashes, len(j.Entries))
}

// TestPlanChecksMembershipBefore36: a learner promoted on 3.5.19 is a
// voter in the member list but still a learner in the backends (etcd
// 3.6 reads those): the plan to 3.6 blocks, naming the member and the
// fix. The upgrade to 3.5.35 does not repair every backend; replacing
// the member does, and the plan passes. A promotion on 3.5.35 passes.
func TestPlanChecksMembershipBefore36(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35)
	for _, v := range []string{testutil.V35Learner, testutil.V35} {
		v := v
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			state := cliSandbox(t, "learner", []string{v})
			for _, args := range [][]string{{"member", "add", "m4"}, {"member", "promote", "m4"}} {
				if r := run(t, state, append(args, "--sandbox", "learner")...); r.code != 0 {
					t.Fatalf("%v: %s", args, r.stderr)
				}
			}
			r := run(t, state, "upgrade", "plan", "--sandbox", "learner", "--to", "3.6")
			if v == testutil.V35 {
				if r.code != 0 || strings.Contains(r.stdout, "membership-inconsistent") {
					t.Fatalf("plan after a promotion on 3.5.35: %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code != 1 || !strings.Contains(r.stdout, "[membership-inconsistent] m4") || !strings.Contains(r.stdout, "etcdpilot member replace m4 --force") {
				t.Fatalf("plan after a promotion on 3.5.19: %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			// Read from the backends' pages beside the running members,
			// and from their streams as they pass (issue 31): the same
			// findings as the whole streamed backends.
			if strings.Count(r.stderr, "membership read from") < 4 {
				t.Errorf("the plan did not read the backends' pages:\n%s", r.stderr)
			}
			sb, err := sandbox.Open(state, "learner", nil)
			testutil.Must(t, err)
			st, _ := sb.State()
			s := testutil.Session(t, st.Conn())
			ctx := testutil.Context(t, time.Minute)
			cl, err := s.Status(ctx)
			testutil.Must(t, err)
			pages, err := upgrade.Membership(ctx, s, cl, sb, t.TempDir(), testutil.Logger(t))
			testutil.Must(t, err)
			streamed, err := upgrade.Membership(ctx, s, cl, nil, t.TempDir(), testutil.Logger(t))
			testutil.Must(t, err)
			whole := testutil.FullStreamFindings(t, ctx, s, cl)
			if len(pages) == 0 || !reflect.DeepEqual(pages, streamed) || !reflect.DeepEqual(pages, whole) {
				t.Errorf("findings from the pages %+v, from the streams as they pass %+v, from the whole streamed backends %+v", pages, streamed, whole)
			}
			for _, args := range [][]string{
				{"upgrade", "apply", "--to", testutil.V35, "--probe=false"},
				{"member", "replace", "m4", "--force"},
				{"upgrade", "plan", "--to", "3.6"},
			} {
				if r := run(t, state, append(args, "--sandbox", "learner")...); r.code != 0 || strings.Contains(r.stdout, "membership-inconsistent") {
					t.Fatalf("%v: %d\n%s%s", args, r.code, r.stdout, r.stderr)
				}
			}
		})
	}
}
