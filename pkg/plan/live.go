package plan

import (
	"context"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// FromStatus turns a live status into the planner's current state. Members
// before 3.6 are probed for the v2 API, which 3.6 no longer has.
func FromStatus(ctx context.Context, p *conn.Pool, st *status.Cluster) Cluster {
	cl := Cluster{Live: true, ClusterVersion: st.ClusterVersion, Health: st.Health, HealthReasons: st.Reasons, Alarms: st.Alarms, Downgrade: st.Downgrade, Auth: st.Auth}
	for _, m := range st.Members {
		pm := Member{Name: m.Name, Version: m.ServerVersion, StorageVersion: m.StorageVersion, IsLearner: m.IsLearner,
			Reachable: m.Reachable, Error: m.Error, DBSize: m.DBSize}
		if pm.Name == "" {
			pm.Name = m.ID
		}
		if m.Reachable && version.Compare(m.ServerVersion, "3.6.0") < 0 {
			pm.V2Enabled, _ = status.V2Enabled(ctx, p, m.Endpoint)
		}
		cl.Members = append(cl.Members, pm)
	}
	return cl
}
