package plan

import (
	"fmt"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

const policyLink = "https://etcd.io/docs/v3.6/upgrades/upgrading-etcd/"

// upgradePath builds the legal path: the latest patch of the current minor
// first, then one minor per hop, each hop requiring its minimum patch on
// every member.
func (pl *planner) upgradePath() {
	target := pl.p.Target
	lowMinor, highMinor, tMinor := version.Minor(pl.low), version.Minor(pl.high), version.Minor(target)
	if version.Compare(highMinor+".0", version.NextMinor(lowMinor)+".0") > 0 {
		pl.block(Finding{Code: "minor-skip", Message: fmt.Sprintf("members run %s and %s at once: more than one minor apart", pl.low, pl.high),
			Reason: "etcd supports one minor version at a time; a cluster spanning two hops is not a supported state. Bring the lagging members up one minor at a time, or restore from a snapshot.", Link: policyLink})
		return
	}
	if pl.opts.Direct {
		pl.directJump()
		return
	}
	cur := pl.low
	if lowMinor == tMinor {
		pl.addStep(Step{From: cur, To: target, Kind: "patch", Reason: "patch upgrade within " + tMinor, Link: policyLink})
		return
	}
	// The minor hop that may already be under way in a mixed cluster.
	if highMinor != lowMinor {
		pl.inProgressHop(lowMinor, highMinor)
	}
	if latest := pl.latest(lowMinor); version.Compare(cur, latest) < 0 {
		pl.addStep(Step{From: cur, To: latest, Kind: "patch", Reason: fmt.Sprintf("etcd's policy: update to the latest %s patch before the next minor", lowMinor), Link: policyLink})
		cur = latest
	}
	for _, m := range minorsBetween(lowMinor, tMinor) {
		to := pl.latest(m)
		if m == tMinor {
			to = target
		}
		step := Step{From: cur, To: to, Kind: "minor", Reason: fmt.Sprintf("one minor at a time: %s to %s", version.Minor(cur), m), Link: policyLink}
		hop, ok := pl.cat.HopInto(m)
		if !ok {
			pl.block(Finding{Code: "minor-skip", Message: fmt.Sprintf("the catalog has no rule for upgrading %s to %s", version.Minor(cur), m),
				Reason: "etcdpilot only plans hops it knows; update the catalog", Link: policyLink})
			return
		}
		step.Requirement = fmt.Sprintf("every member on %s or later", hop.Minimum)
		if version.Compare(cur, hop.Minimum) >= 0 && len(pl.p.Path) > 0 {
			step.Requirement += fmt.Sprintf(" (met after step %d)", len(pl.p.Path))
		} else if version.Compare(cur, hop.Minimum) >= 0 {
			step.Requirement += " (met)"
		}
		step.Reason = hop.Reason
		step.Link = hop.Link
		pl.addStep(step)
		cur = to
	}
}

// directJump judges a single jump from the lowest version to the target.
func (pl *planner) directJump() {
	target := pl.p.Target
	lowMinor, tMinor := version.Minor(pl.low), version.Minor(pl.p.Target)
	kind := "patch"
	if lowMinor != tMinor {
		kind = "minor"
	}
	pl.addStep(Step{From: pl.low, To: target, Kind: kind, Reason: "direct jump (--direct)", Link: policyLink})
	if version.Compare(tMinor+".0", version.NextMinor(lowMinor)+".0") > 0 {
		pl.block(Finding{Code: "minor-skip", Message: fmt.Sprintf("%s to %s skips %s", pl.low, target, strings.Join(minorsBetween(lowMinor, tMinor)[:len(minorsBetween(lowMinor, tMinor))-1], ", ")),
			Reason: "upgrades that skip a minor version are not supported and will likely fail; go one minor at a time (drop --direct for the legal path)", Link: policyLink})
		return
	}
	if kind == "minor" {
		pl.minimumPatch(tMinor, "drop --direct to upgrade to the latest "+lowMinor+" patch first")
	}
}

// inProgressHop checks a mixed cluster whose hop into highMinor has begun:
// the members left behind must already meet the hop's minimum.
func (pl *planner) inProgressHop(lowMinor, highMinor string) {
	pl.warn(Finding{Code: "mixed-versions", Message: fmt.Sprintf("the cluster is mixed: %s to %s is under way", lowMinor, highMinor),
		Reason: "a mixed cluster runs at the lowest member's cluster version; finish or roll back the hop soon", Link: policyLink})
	pl.minimumPatch(highMinor, "upgrade them to the latest "+lowMinor+" patch before any more members move to "+highMinor)
}

// minimumPatch blocks when members of the minor before into run below the
// hop's minimum.
func (pl *planner) minimumPatch(into, fix string) {
	hop, ok := pl.cat.HopInto(into)
	if !ok {
		return
	}
	for _, m := range pl.cl.Members {
		if m.Version != "" && version.Minor(m.Version) == hop.From && version.Compare(m.Version, hop.Minimum) < 0 {
			pl.block(Finding{Code: "minimum-patch", Member: m.Name,
				Message: fmt.Sprintf("%s runs %s; %s requires every member on %s or later; %s", m.Name, m.Version, into, hop.Minimum, fix),
				Reason:  hop.Reason, Link: hop.Link})
		}
	}
}

func (pl *planner) latest(minor string) string {
	if m, ok := pl.cat.Minor(minor); ok {
		return m.Latest
	}
	return minor + ".0"
}

// pathVersions lists the versions the cluster will run along the path.
func (pl *planner) pathVersions() []string {
	var out []string
	for _, s := range pl.p.Path {
		out = append(out, s.To)
	}
	return out
}
