package plan

import (
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

const (
	downgradeLink = "https://etcd.io/docs/v3.6/downgrades/downgrading-etcd/"
	restoreLink   = "https://etcd.io/docs/v3.6/op-guide/recovery/"
)

// downgrade answers a target lower than a member's version: never a silent
// "nothing to do".
func (pl *planner) downgrade() {
	t := pl.p.Target
	tMinor, lowMinor, highMinor := version.Minor(t), version.Minor(pl.low), version.Minor(pl.high)
	d := &Downgrade{}
	pl.p.Downgrade = d
	clusterMinor := version.Minor(pl.cl.ClusterVersion)
	if pl.cl.ClusterVersion == "" {
		clusterMinor = lowMinor // offline: a mixed cluster runs at its lowest member
	}
	switch {
	case highMinor != lowMinor && tMinor == lowMinor && clusterMinor == lowMinor:
		// An upgrade under way: the cluster version has not moved.
		d.Possible, d.Method = true, "rollback"
		d.Reason = fmt.Sprintf("the cluster is mixed and its cluster version is still %s, so the upgraded members can go back to %s binaries", lowMinor, lowMinor)
		d.Steps = []string{
			fmt.Sprintf("for each member on %s, followers first: stop it, reinstall the %s binary, start it with the same data directory and flags (etcdpilot upgrade rollback)", highMinor, t),
			"wait until each member is healthy and caught up before the next",
		}
		d.Link = policyLink
		pl.addStep(Step{From: pl.high, To: t, Kind: "rollback", Reason: d.Reason, Link: d.Link})
	case tMinor == highMinor && tMinor == lowMinor:
		d.Possible, d.Method = true, "patch"
		d.Reason = fmt.Sprintf("a patch downgrade within %s keeps the data format; replace binaries member by member", tMinor)
		d.Steps = []string{fmt.Sprintf("for each member on a later %s patch, followers first and the leader last (move leadership off it first): stop it, install %s, start it, wait until healthy", tMinor, t)}
		d.Link = policyLink
		pl.addStep(Step{From: pl.high, To: t, Kind: "downgrade-patch", Reason: d.Reason, Link: d.Link})
	case highMinor == lowMinor && version.Compare(highMinor+".0", "3.6.0") >= 0 && version.Compare(tMinor+".0", "3.5.0") >= 0:
		d.Possible, d.Method = true, "downgrade-api"
		d.Reason = fmt.Sprintf("etcd %s has the downgrade API: one minor at a time, the storage version is migrated down before the binaries are replaced", highMinor)
		d.Link = downgradeLink
		from := pl.high
		for m := highMinor; version.Compare(m+".0", tMinor+".0") > 0; {
			prev := prevMinor(m)
			to := pl.latest(prev)
			if prev == tMinor {
				to = t
			}
			d.Steps = append(d.Steps, fmt.Sprintf("etcdpilot downgrade apply --to %s: a verified snapshot; downgrade validate and enable %s (decided from the members' downgrade status: the reply can be lost); every member's storage version to %s.0; the members restarted on %s one at a time, followers first and the leader last after one hand-off, each at its gates; then cluster version %s.0 and the downgrade over (etcdpilot downgrade cancel undoes it while a member still runs %s)", to, prev, prev, to, prev, m))
			pl.addStep(Step{From: from, To: to, Kind: "downgrade-minor", Requirement: "downgrade enabled and storage version " + prev + ".0 on every member", Reason: "downgrade API, one minor at a time", Link: downgradeLink})
			from, m = to, prev
		}
		pl.downgradeHazards()
	default:
		d.Possible, d.Method = false, "snapshot-restore"
		d.Reason = fmt.Sprintf("etcd %s has no downgrade API (it arrived in 3.6) and the cluster version has moved to %s: reinstalling %s binaries would fail on the newer data", highMinor, clusterMinorOr(clusterMinor, highMinor), tMinor)
		d.Steps = []string{
			fmt.Sprintf("restore a snapshot taken before the upgrade (on %s) into new %s members: etcdpilot snapshot restore", tMinor, t),
			"writes made since that snapshot are lost; clients must tolerate the revision going back",
		}
		d.Link = restoreLink
		pl.block(Finding{Code: "downgrade-impossible", Message: fmt.Sprintf("%s to %s cannot be done in place", pl.high, t), Reason: d.Reason + "; the way back is a snapshot restore", Link: restoreLink})
	}
}

// downgradeHazards blocks a downgrade from a release whose downgrade
// is known to go wrong: patch to the fixed release first.
func (pl *planner) downgradeHazards() {
	for _, v := range pl.currentVersions() {
		for _, is := range pl.cat.IssuesDuring(v, catalog.OpDowngrade) {
			fixed := catalog.FixedIn(is.Affected, v)
			fix := "no fixed " + version.Minor(v) + " release is known: restore a snapshot instead"
			if fixed != "" {
				fix = fmt.Sprintf("upgrade every member to %s (or the latest %s patch, %s) first, then downgrade", fixed, version.Minor(v), pl.latest(version.Minor(v)))
			}
			pl.block(Finding{Code: "downgrade-known-issue", Message: fmt.Sprintf("members run %s, affected by %s: %s", v, is.ID, is.Title),
				Reason: fix, Link: is.Link})
		}
	}
}

func prevMinor(m string) string {
	var maj, min int
	fmt.Sscanf(m, "%d.%d", &maj, &min)
	return fmt.Sprintf("%d.%d", maj, min-1)
}

func clusterMinorOr(cm, fallback string) string {
	if cm != "" {
		return cm
	}
	return fallback
}
