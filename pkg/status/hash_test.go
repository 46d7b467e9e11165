package status_test

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// TestHashCacheBetweenGates: a change's gates keep the members' hashes
// while the cluster stays at one revision. With a follower frozen
// (SIGSTOP), the next comparison that hashes only the touched member
// still agrees from the cache; once a write moves the revision, the
// frozen member must answer again, and the comparison cannot agree.
func TestHashCacheBetweenGates(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	ctx := context.Background()
	st, _ := sb.State()
	put(t, st.Conn(), 20)
	c := st.Conn()
	c.CommandTimeout = 2 * time.Second
	p, err := conn.NewPool(c)
	testutil.Must(t, err)
	defer p.Close()
	cl, err := status.CollectConfig(ctx, c, status.Options{SkipHash: true})
	testutil.Must(t, err)
	// Freeze a follower (freezing the leader starts an election); the
	// touched member is another one.
	victim, touched, other := "", "", ""
	for _, m := range cl.Members {
		switch {
		case victim == "" && !m.IsLeader:
			victim = m.Name
		case touched == "":
			touched, other = m.Name, m.Endpoint
		}
	}
	var cache status.HashCache
	if h := status.CompareHashesCached(ctx, p, cl.Members, &cache, touched); h.Result != status.HashAgree {
		t.Fatalf("first comparison: %+v", h)
	}
	testutil.Must(t, sb.Pause(ctx, victim))
	defer sb.Resume(ctx, victim)
	if h := status.CompareHashesCached(ctx, p, cl.Members, &cache, touched); h.Result != status.HashAgree {
		t.Fatalf("at the same revision, with %s frozen: %+v", victim, h)
	}
	// Without the cache, the frozen member is asked.
	if h := status.CompareHashes(ctx, p, cl.Members); h.Result == status.HashAgree {
		t.Fatalf("without the cache, a frozen member agreed: %+v", h)
	}
	put(t, conn.Config{Endpoints: []string{other}, DialTimeout: c.DialTimeout, CommandTimeout: 5 * time.Second}, 1)
	for i := range cl.Members {
		cl.Members[i].Revision++
	}
	if h := status.CompareHashesCached(ctx, p, cl.Members, &cache, touched); h.Result == status.HashAgree {
		t.Fatalf("a new revision agreed from the cache: %+v", h)
	}
}
