package upgrade

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Gathering says where a live plan's facts come from.
type Gathering struct {
	Session *cluster.Session
	// Runtime reads the members' WALs and certificate files where it can
	// (nil: neither is read).
	Runtime runtime.Runtime
	Catalog *catalog.Catalog
	// Options carries the target, configs, Kubernetes version, Direct and
	// Window; the live facts are added to it.
	Options plan.Options
	// ScratchDir holds the membership check's snapshot before 3.6.
	ScratchDir string
	Log        *slog.Logger
	// Hashes keeps the members' hashes for the change that plans (nil:
	// a plan alone).
	Hashes *status.HashCache
}

// LivePlan gathers what the planner judges from the live cluster — its
// status with hashes, the members' WALs, the membership check before 3.6,
// the certificates — and plans. upgrade plan, downgrade plan and the
// changes themselves all plan through here.
func LivePlan(ctx context.Context, g Gathering) (*plan.Plan, error) {
	po := g.Options
	target, err := g.Catalog.Resolve(po.Target)
	if err != nil {
		return nil, err
	}
	st, err := g.Session.Status(ctx)
	if err != nil {
		return nil, err
	}
	// HashKV (a scan of each member's database, on the members) and the
	// WAL reads (here) both grow with the data: they overlap.
	var names []string
	for _, m := range st.Members {
		names = append(names, m.Name)
	}
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		status.AddHashesCached(ctx, g.Session.Pool(), st, g.Hashes)
	}()
	if g.Runtime != nil {
		po.V2WAL, po.V2Custom = WALState(ctx, g.Runtime, names)
	}
	<-hashed
	pc := plan.FromStatus(ctx, g.Session.Pool(), st)
	if NeedsMembershipCheck(st, target) {
		if err := os.MkdirAll(g.ScratchDir, 0o700); err != nil {
			return nil, err
		}
		if po.Membership, err = Membership(ctx, g.Session, st, g.Runtime, g.ScratchDir, g.Log); err != nil {
			return nil, fmt.Errorf("membership check before 3.6: %w", err)
		}
	}
	po.Certificates = g.Session.Certificates(ctx, st, po.Configs, g.Runtime)
	return plan.Make(g.Catalog, pc, po)
}

// OfflinePlan plans from versions alone (--from), members named by their
// configs where given.
func OfflinePlan(cat *catalog.Catalog, versions []string, po plan.Options) (*plan.Plan, error) {
	var cl plan.Cluster
	for i, v := range versions {
		name := fmt.Sprintf("member-%d", i+1)
		if i < len(po.Configs) && po.Configs[i].Name() != "" {
			name = po.Configs[i].Name()
		}
		cl.Members = append(cl.Members, plan.Member{Name: name, Version: v, Reachable: true})
	}
	return plan.Make(cat, cl, po)
}
