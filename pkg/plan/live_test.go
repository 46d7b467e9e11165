package plan_test

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// livePlan collects the sandbox's status and plans to target.
func livePlan(t *testing.T, sb *sandbox.Sandbox, target string) *plan.Plan {
	t.Helper()
	ctx := testutil.Context(t, time.Minute)
	st, _ := sb.State()
	c := st.Conn()
	c.CommandTimeout = 2 * time.Second
	s := testutil.Session(t, c)
	cs, err := status.Collect(ctx, s.Pool(), status.Options{})
	testutil.Must(t, err, "status")
	cat, _ := catalog.Default()
	p, err := plan.Make(cat, plan.FromStatus(ctx, s.Pool(), cs), plan.Options{Target: target})
	testutil.Must(t, err, "plan")
	return p
}

func codes(fs []plan.Finding) map[string]int {
	out := map[string]int{}
	for _, f := range fs {
		out[f.Code]++
	}
	return out
}

func TestPlanLive(t *testing.T) {
	t.Run(testutil.V35, func(t *testing.T) {
		t.Parallel()
		sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
		p := livePlan(t, sb, "3.6")
		// To the newest 3.6 patch the catalog knows.
		cat, _ := catalog.Default()
		want := 1
		if testutil.V35 != cat.LatestPatch("3.5.0") {
			want = 2 // the newest 3.5 patch first
		}
		if p.Blocked() || len(p.Path) != want || p.Path[want-1].To != cat.LatestPatch("3.6.0") || p.Current.ClusterVersion != "3.5.0" || !p.Current.Live {
			t.Fatalf("plan: %+v", p)
		}
		for _, m := range p.Current.Members {
			if m.Version != testutil.V35 || !m.Reachable || m.V2Enabled {
				t.Fatalf("member %+v", m)
			}
		}
	})
	t.Run("mixed", func(t *testing.T) {
		t.Parallel()
		sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35, testutil.V35, testutil.V36}})
		p := livePlan(t, sb, testutil.V36)
		if p.Blocked() || codes(p.Warnings)["mixed-versions"] != 1 || len(p.Path) != 1 || p.Path[0].Kind != "minor" {
			t.Fatalf("plan: path %+v blockers %+v warnings %+v", p.Path, p.Blockers, p.Warnings)
		}
		back := livePlan(t, sb, testutil.V35)
		if back.Direction != "downgrade" || back.Downgrade == nil || !back.Downgrade.Possible || back.Downgrade.Method != "rollback" {
			t.Fatalf("rollback plan: %+v", back.Downgrade)
		}
	})
	t.Run("stopped member", func(t *testing.T) {
		t.Parallel()
		sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
		testutil.Must(t, sb.Stop(context.Background(), "m2"), "stop")
		p := livePlan(t, sb, testutil.V36)
		if codes(p.Blockers)["unreachable"] != 1 || p.Blockers[0].Member != "m2" {
			t.Fatalf("blockers %+v", p.Blockers)
		}
	})
	t.Run("v2 enabled", func(t *testing.T) {
		t.Parallel()
		sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}, Members: 1, ExtraFlags: []string{"--enable-v2=true"}})
		p := livePlan(t, sb, testutil.V36)
		if codes(p.Blockers)["v2-store"] != 1 {
			t.Fatalf("blockers %+v", p.Blockers)
		}
	})
}
