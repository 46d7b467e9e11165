package member

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestAddWithAVoterDown: etcd counts a new member (a learner too) as down
// until it joins. With 1 of 5 voters down, 3.5.35 (fixed, #21669) takes a
// learner under --force; 3.5.20 refuses although the quorum holds
// (etcd-io/etcd#21640), so etcdpilot refuses at once, naming the bug,
// instead of retrying for the whole timeout. With 1 of 3 down no release
// takes it. Each refusal leaves the member list as it was.
func TestAddWithAVoterDown(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Default()
	testutil.Must(t, err)
	for _, tc := range []struct {
		version string
		members int
		want    string // "" = added
	}{
		{testutil.V35, 5, ""},
		{testutil.V35Old, 5, "member-add-one-member-down"},
		{testutil.V35, 3, "accepts it only while 3 of the 3 voters are connected"},
	} {
		t.Run(tc.version+"/"+string(rune('0'+tc.members)), func(t *testing.T) {
			t.Parallel()
			sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{tc.version}, Members: tc.members})
			ctx := testutil.Context(t, 3*time.Minute)
			last := "m" + string(rune('0'+tc.members))
			testutil.Must(t, sb.Stop(ctx, last))
			// etcd's own check looks at the last 5 s of connections.
			time.Sleep(6 * time.Second)
			st, _ := sb.State()
			o := Options{Session: testutil.Session(t, st.Conn()), Timeout: time.Minute, Force: true, Catalog: cat}
			before, _ := Get(ctx, o.Session)
			start := time.Now()
			res, err := AddProvisioned(ctx, sb, tc.version, AddOptions{Options: o, Name: "m9"})
			took := time.Since(start)
			if tc.want == "" {
				testutil.Must(t, err, "add")
				if !res.Member.IsLearner {
					t.Fatalf("added %+v, want a learner", res.Member)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing changed") {
				t.Fatalf("want a refusal naming %q, got %v", tc.want, err)
			}
			if took > 10*time.Second {
				t.Errorf("the refusal took %s: it must not wait out retries", took)
			}
			after, _ := Get(context.Background(), o.Session)
			if len(after.Members) != len(before.Members) {
				t.Fatalf("the refusal changed the member list: %d -> %d", len(before.Members), len(after.Members))
			}
			// etcd itself refuses the same add: the verdict is etcd's.
			cli, cerr := o.Session.Pool().Cluster(ctx)
			testutil.Must(t, cerr)
			_, etcdErr := cli.MemberAddAsLearner(ctx, []string{"http://127.0.0.1:1999"})
			if etcdErr == nil || !strings.Contains(etcdErr.Error(), "unhealthy cluster") {
				t.Fatalf("etcd %s accepted the add etcdpilot refused: %v", tc.version, etcdErr)
			}
			t.Logf("%s: %v (etcd: %v)", tc.version, err, etcdErr)
		})
	}
}
