package printer

import (
	"fmt"
	"io"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/member"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/recovery"
	"github.com/etcdpilot/etcdpilot/pkg/rehearse"
	"github.com/etcdpilot/etcdpilot/pkg/repo"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
	"github.com/etcdpilot/etcdpilot/pkg/walcheck"
)

// viewOf picks the layout of a result by its type.
func viewOf(v any) (*view, error) {
	switch v := v.(type) {
	case Value:
		return lines(v.Value), nil
	case *Build:
		return buildView(v), nil
	case *status.Cluster:
		return statusView(v), nil
	case *plan.Plan:
		return planView(v), nil
	case *member.List:
		return memberListView(v), nil
	case *member.AddResult:
		return memberAddView(v), nil
	case *member.Result:
		return lines(v.Message), nil
	case *upgrade.Report:
		return reportView(v), nil
	case *engine.Journal:
		return journalView(v), nil
	case *repo.Result:
		return scanView(v), nil
	case *repo.BumpResult:
		return bumpView(v), nil
	case *repo.CheckResult:
		return checkView(v), nil
	case *repo.DepsTree:
		return depsView(v), nil
	case *snapshot.SaveResult:
		return saveView(v), nil
	case *snapshot.Report:
		return verifyView(v), nil
	case snapshot.Listing:
		return snapshotListView(v), nil
	case *snapshot.Pruning:
		return pruneView(v), nil
	case *snapshot.RestoreResult:
		return restoreView(v), nil
	case *pitr.Points:
		return pointsView(v), nil
	case *pitr.Verified:
		return verifiedView(v), nil
	case *pitr.Restored:
		return restoredView(v), nil
	case sandbox.Listing:
		return sandboxListView(v), nil
	case sandbox.EnvVars:
		return envView(v), nil
	case *sandbox.Removed:
		return lines(fmt.Sprintf("sandbox %s removed", v.Name)), nil
	case *binaries.Install:
		return installView(v), nil
	case []*binaries.Install:
		return installListView(v), nil
	case *recovery.Plan:
		return recoveryPlanView(v), nil
	case *recovery.Report:
		return recoveryReportView(v), nil
	case *rehearse.Result:
		return rehearsalView(v), nil
	case *defrag.Plan:
		return defragPlanView(v), nil
	case *defrag.Report:
		return defragReportView(v), nil
	case defrag.AlarmList:
		return alarmsView(v), nil
	case *walcheck.Result:
		return walView(v), nil
	case *catalog.Catalog:
		return catalogView(v), nil
	case *catalog.ReleaseInfo:
		return releaseView(v), nil
	case Tabler:
		return &view{layout: func(w io.Writer) error { return v.Table(w) }}, nil
	}
	return nil, fmt.Errorf("no layout for %T; use -w json", v)
}
