package upgrade

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
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
	start := time.Now()
	st, err := g.Session.Status(ctx)
	if err != nil {
		return nil, err
	}
	took := map[string]time.Duration{"status": time.Since(start)}
	// HashKV (a scan of each member's database, on the members) and the
	// WAL reads (here) both grow with the data: they overlap.
	var names []string
	for _, m := range st.Members {
		names = append(names, m.Name)
	}
	hashed := make(chan struct{})
	var hashing time.Duration
	go func() {
		defer close(hashed)
		t := time.Now()
		status.AddHashesCached(ctx, g.Session.Pool(), st, g.Hashes)
		hashing = time.Since(t)
	}()
	if g.Runtime != nil {
		t := time.Now()
		po.V2WAL, po.V2Custom = WALState(ctx, g.Runtime, names)
		took["WALs"] = time.Since(t)
	}
	<-hashed
	took["hashes"] = hashing
	pc := plan.FromStatus(ctx, g.Session.Pool(), st)
	if NeedsMembershipCheck(st, target) {
		if err := os.MkdirAll(g.ScratchDir, 0o700); err != nil {
			return nil, err
		}
		t := time.Now()
		if po.Membership, err = Membership(ctx, g.Session, st, g.Runtime, g.ScratchDir, g.Log); err != nil {
			return nil, fmt.Errorf("membership check before 3.6: %w", err)
		}
		took["membership"] = time.Since(t)
	}
	t := time.Now()
	po.Certificates = g.Session.Certificates(ctx, st, po.Configs, g.Runtime)
	took["certificates"] = time.Since(t)
	var parts []string
	for _, k := range []string{"status", "hashes", "WALs", "membership", "certificates"} {
		if d, ok := took[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", k, d.Round(time.Millisecond)))
		}
	}
	logging.OrDiscard(g.Log).Debug("gathered the live facts in {took}: {parts}", "took", time.Since(start).Round(time.Millisecond), "parts", strings.Join(parts, ", "))
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
