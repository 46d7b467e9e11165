// Package defrag runs etcd's defragmentation the way its maintainers
// advise: as rarely as possible (thresholds), one member at a time, each
// back and caught up before the next, the leader last; and the recovery
// from the NOSPACE alarm (compact, defragment every member, disarm, check
// a write). Both are changes of the engine: journaled steps, one lock per
// cluster, resumed by the same path as an upgrade.
package defrag

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Leader policies.
const (
	// LeaderHandOff moves leadership away before the leader is
	// defragmented (measured to stall writes less; see the README).
	LeaderHandOff = "hand-off"
	// LeaderInPlace defragments the leader where it is.
	LeaderInPlace = "in-place"
)

// Options describe a defragmentation.
type Options struct {
	Session *cluster.Session
	Catalog *catalog.Catalog
	// IfFree and IfFragmented are the thresholds: a member is
	// defragmented when at least IfFree bytes of its database are free
	// and at least IfFragmented percent of it is; a zero threshold is not
	// checked. Space (NOSPACE recovery) ignores both.
	IfFree       int64
	IfFragmented float64
	// Compact compacts first, keeping Keep revisions.
	Compact bool
	Keep    int64
	// Leader is LeaderHandOff (default) or LeaderInPlace.
	Leader string
	// Force defragments on versions with known defragmentation bugs.
	Force bool
	// Space recovers from NOSPACE: compact, every member, disarm, check.
	Space bool
}

// Member is one member's row of the plan.
type Member struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Leader  bool   `json:"leader"`
	DBSize  int64  `json:"dbSize"`
	InUse   int64  `json:"dbSizeInUse"`
	// Free is DBSize - InUse; Fragmented is Free in percent of DBSize.
	Free       int64   `json:"free"`
	Fragmented float64 `json:"fragmented"`
	Defrag     bool    `json:"defrag"`
	Reason     string  `json:"reason"`
}

// Plan is what a defragmentation will do.
type Plan struct {
	ClusterID string        `json:"clusterID"`
	Compact   bool          `json:"compact"`
	Keep      int64         `json:"keep,omitempty"`
	Leader    string        `json:"leader"`
	Alarms    status.Alarms `json:"alarms,omitempty"`
	// Members in the order they run: followers by name, the leader last.
	Members []Member `json:"members"`
	// Refusal says why nothing may run.
	Refusal string `json:"refusal,omitempty"`
}

// Chosen are the members that will be defragmented.
func (p *Plan) Chosen() []Member {
	var out []Member
	for _, m := range p.Members {
		if m.Defrag {
			out = append(out, m)
		}
	}
	return out
}

// MakePlan reads the cluster and decides, member by member.
func MakePlan(ctx context.Context, o Options) (*Plan, error) {
	if o.Leader == "" {
		o.Leader = LeaderHandOff
	}
	if o.Space {
		// The cluster refuses writes until the alarm is disarmed: a
		// hand-off would spare no write, and members with the alarm
		// raised are no candidates for leadership.
		o.Leader = LeaderInPlace
	}
	if o.Leader != LeaderHandOff && o.Leader != LeaderInPlace {
		return nil, fmt.Errorf("--leader %q: use hand-off or in-place", o.Leader)
	}
	cl, err := o.Session.Status(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{ClusterID: cl.ClusterID, Compact: o.Compact || o.Space, Leader: o.Leader, Alarms: cl.Alarms}
	if p.Compact {
		p.Keep = o.Keep
	}
	for _, m := range cl.Members {
		row := Member{Name: m.Name, Version: m.ServerVersion, Leader: m.IsLeader, DBSize: m.DBSize, InUse: m.DBSizeInUse}
		if m.DBSize > 0 {
			row.Free = m.DBSize - m.DBSizeInUse
			row.Fragmented = 100 * float64(row.Free) / float64(m.DBSize)
		}
		row.Defrag, row.Reason = o.decide(m, row)
		p.Members = append(p.Members, row)
	}
	sort.SliceStable(p.Members, func(i, j int) bool {
		a, b := p.Members[i], p.Members[j]
		if a.Leader != b.Leader {
			return b.Leader
		}
		return a.Name < b.Name
	})
	p.Refusal = o.refusal(cl)
	return p, nil
}

// decide applies the thresholds to one member.
func (o Options) decide(m status.Member, row Member) (bool, string) {
	switch {
	case !m.Reachable:
		return false, "does not answer"
	case o.Space:
		return true, "NOSPACE recovery defragments every member"
	case o.Compact && (o.IfFree > 0 || o.IfFragmented > 0):
		return true, "sizes are measured again after the compaction"
	}
	var why []string
	if o.IfFree > 0 {
		if row.Free < o.IfFree {
			return false, fmt.Sprintf("only %s free, under --if-free %s", Bytes(row.Free), Bytes(o.IfFree))
		}
		why = append(why, fmt.Sprintf("%s free", Bytes(row.Free)))
	}
	if o.IfFragmented > 0 {
		if row.Fragmented < o.IfFragmented {
			return false, fmt.Sprintf("%.0f%% fragmented, under --if-fragmented %.0f%%", row.Fragmented, o.IfFragmented)
		}
		why = append(why, fmt.Sprintf("%.0f%% fragmented", row.Fragmented))
	}
	if len(why) == 0 {
		return true, "no threshold set"
	}
	return true, strings.Join(why, ", ")
}

// refusal: a member that does not answer, alarms (NOSPACE is what space
// recover is for), an unhealthy cluster, a version with known
// defragmentation bugs (unless Force).
func (o Options) refusal(cl *status.Cluster) string {
	for _, m := range cl.Members {
		if !m.Reachable {
			return fmt.Sprintf("member %s does not answer: defragment a cluster whose members all answer (%s)", m.Name, m.Error)
		}
	}
	noSpace := cl.Alarms.Only(status.NoSpace)
	switch {
	case len(cl.Alarms) > 0 && !noSpace:
		return fmt.Sprintf("alarms raised (%s): find out why before anything else changes", cl.Alarms)
	case noSpace && !o.Space:
		return fmt.Sprintf("alarms raised (%s): etcdpilot space recover compacts, defragments and disarms", cl.Alarms)
	}
	if cl.Health != status.Healthy {
		var reasons []string
		for _, r := range cl.Reasons {
			if noSpace && strings.Contains(r, "alarm:NOSPACE") {
				continue
			}
			reasons = append(reasons, r)
		}
		if len(reasons) > 0 || cl.Health != status.Degraded {
			return fmt.Sprintf("the cluster is %s: %s", cl.Health, strings.Join(reasons, "; "))
		}
	}
	if o.Force || o.Catalog == nil {
		return ""
	}
	for _, m := range cl.Members {
		for _, is := range o.Catalog.IssuesAffecting(m.ServerVersion) {
			if strings.Contains(strings.ToLower(is.ID+" "+is.Title), "defrag") {
				return fmt.Sprintf("%s runs etcd %s: %s (%s; fixed in %s): upgrade first, or --force", m.Name, m.ServerVersion, is.Title, is.Link, catalog.FixedIn(is.Affected, m.ServerVersion))
			}
		}
	}
	return ""
}

// Bytes prints a size the way the flags take it (200.0MiB).
func Bytes(n int64) string { return strings.ReplaceAll(progress.Bytes(n), " ", "") }
