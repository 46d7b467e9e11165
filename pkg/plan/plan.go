// Package plan works out how to take an etcd cluster from the versions it
// runs to a target version: the legal path (latest patch of the current
// minor first, then one minor per hop, each hop with its minimum patch), the
// blockers that must be cleared first, and the warnings worth reading, each
// with its reason and a link. Downgrades get their own answer.
package plan

import (
	"fmt"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Member is one member's current state.
type Member struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	StorageVersion string `json:"storageVersion,omitempty"`
	IsLearner      bool   `json:"isLearner,omitempty"`
	// Reachable is false for a member a live cluster could not query.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	DBSize    int64  `json:"dbSize,omitempty"`
	// V2Enabled is set when a live probe found the v2 API served.
	V2Enabled bool `json:"v2Enabled,omitempty"`
}

// Cluster is the current state: from a live cluster or given offline.
type Cluster struct {
	Members        []Member      `json:"members"`
	ClusterVersion string        `json:"clusterVersion,omitempty"`
	Live           bool          `json:"live"`
	Health         string        `json:"health,omitempty"`
	HealthReasons  []string      `json:"healthReasons,omitempty"`
	Alarms         status.Alarms `json:"alarms,omitempty"`
	// Downgrade is the target of a downgrade in progress.
	Downgrade string `json:"downgrade,omitempty"`
	// Auth is whether etcd's auth is on: catalog.AuthOn, AuthOff or
	// unknown ("").
	Auth string `json:"auth,omitempty"`
}

// Options are the operator's question.
type Options struct {
	Target     string
	Kubernetes string
	Configs    []*memberconfig.Config
	// Direct plans a single jump straight to the target, with no
	// intermediate versions, and judges it by etcd's rules.
	Direct bool
	Now    time.Time
	// V2WAL counts, per member whose data directory could be read, the
	// entries written as v2 requests that it would replay on start
	// (walcheck); members missing from it are unknown.
	V2WAL map[string]int
	// V2Custom counts, per member whose WAL could be read, the v2 writes
	// of custom data (outside etcd's own membership keys) it would
	// replay: 3.6 refuses to start on them.
	V2Custom map[string]int
	// Membership lists where the members' backends disagree with the
	// member list (membercheck), read from a live 3.5 cluster.
	Membership []membercheck.Finding
	// Certificates read from a live cluster (certs.Collect), judged
	// against Window, the expected length of the change (default: the
	// plan's estimate, Plan.Window).
	Certificates []certs.Cert
	Window       time.Duration
}

// Step is one stage of the path.
type Step struct {
	Index int    `json:"step"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Kind is patch, minor, downgrade-patch, downgrade-minor or rollback.
	Kind        string `json:"kind"`
	Requirement string `json:"requirement,omitempty"`
	Reason      string `json:"reason"`
	Link        string `json:"link,omitempty"`
}

// Finding is a blocker or a warning.
type Finding struct {
	Code    string `json:"code"`
	Member  string `json:"member,omitempty"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Link    string `json:"link,omitempty"`
	// Flag and Replacement are set for flag-removed: a runtime that owns
	// the member's command line can make the change itself.
	Flag        string `json:"flag,omitempty"`
	Replacement string `json:"replacement,omitempty"`
}

// Downgrade answers whether and how the cluster can go back.
type Downgrade struct {
	Possible bool     `json:"possible"`
	Method   string   `json:"method"` // downgrade-api, rollback, patch, snapshot-restore
	Steps    []string `json:"steps"`
	Reason   string   `json:"reason"`
	Link     string   `json:"link,omitempty"`
}

// Plan is the answer.
type Plan struct {
	Current   Cluster    `json:"current"`
	Target    string     `json:"target"`
	Direction string     `json:"direction"` // upgrade, downgrade, none
	Path      []Step     `json:"path"`
	Blockers  []Finding  `json:"blockers"`
	Warnings  []Finding  `json:"warnings"`
	Downgrade *Downgrade `json:"downgrade,omitempty"`
	// CVEsNotApplicable counts CVEs of the current versions left out
	// because they need etcd auth, which the cluster has off.
	CVEsNotApplicable int `json:"cvesNotApplicable,omitempty"`
}

// Blocked reports whether anything blocks the plan.
func (p *Plan) Blocked() bool { return len(p.Blockers) > 0 }

type planner struct {
	cat  *catalog.Catalog
	cl   Cluster
	opts Options
	p    *Plan
	low  string // lowest member version
	high string // highest member version
}

// Make plans the change from cl to opts.Target.
func Make(cat *catalog.Catalog, cl Cluster, opts Options) (*Plan, error) {
	if len(cl.Members) == 0 {
		return nil, fmt.Errorf("no members to plan for")
	}
	target, err := cat.Resolve(opts.Target)
	if err != nil {
		return nil, err
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	pl := &planner{cat: cat, cl: cl, opts: opts, p: &Plan{Current: cl, Target: target, Path: []Step{}, Blockers: []Finding{}, Warnings: []Finding{}}}
	if err := pl.versions(); err != nil {
		return nil, err
	}
	switch c := version.Compare(target, pl.high); {
	case c == 0 && version.Compare(target, pl.low) == 0:
		pl.p.Direction = "none"
	case c >= 0:
		pl.p.Direction = "upgrade"
		pl.upgradePath()
	default:
		pl.p.Direction = "downgrade"
		pl.downgrade()
	}
	pl.clusterBlockers()
	if pl.p.Direction == "upgrade" {
		pl.walHazard()
		pl.v2Custom()
		pl.membership()
	}
	if pl.p.Direction != "none" {
		pl.configFindings()
		pl.versionWarnings()
		pl.kubernetes()
		pl.certificates()
	}
	sortFindings(pl.p.Blockers)
	sortFindings(pl.p.Warnings)
	return pl.p, nil
}

// versions finds the lowest and highest member versions and checks that
// every member runs a version etcdpilot can reason about.
func (pl *planner) versions() error {
	for i, m := range pl.cl.Members {
		if m.Version == "" {
			if m.Reachable || !pl.cl.Live {
				return fmt.Errorf("member %s: version unknown", m.Name)
			}
			continue // unreachable live member: a blocker, not an error
		}
		cv, err := version.Canonical(m.Version)
		if err != nil {
			return fmt.Errorf("member %s: %v", m.Name, err)
		}
		pl.cl.Members[i].Version = version.Plain(cv)
		v := version.Plain(cv)
		if pl.low == "" || version.Compare(v, pl.low) < 0 {
			pl.low = v
		}
		if pl.high == "" || version.Compare(v, pl.high) > 0 {
			pl.high = v
		}
		if !pl.cat.Known(v) {
			pl.warn(Finding{Code: "unknown-version", Member: m.Name, Message: fmt.Sprintf("%s runs %s, which the release catalog does not list", m.Name, v),
				Reason: "findings for it rest on its minor's rules only; update the catalog (--catalog) if it is a new release"})
		}
	}
	if pl.low == "" {
		return fmt.Errorf("no member's version is known")
	}
	pl.p.Current.Members = pl.cl.Members
	return nil
}

func (pl *planner) block(f Finding) { pl.p.Blockers = append(pl.p.Blockers, f) }
func (pl *planner) warn(f Finding)  { pl.p.Warnings = append(pl.p.Warnings, f) }

func (pl *planner) addStep(s Step) {
	s.Index = len(pl.p.Path) + 1
	pl.p.Path = append(pl.p.Path, s)
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Code != fs[j].Code {
			return fs[i].Code < fs[j].Code
		}
		return fs[i].Member < fs[j].Member
	})
}

// minorsBetween lists the minors after from up to and including to.
func minorsBetween(from, to string) []string {
	var out []string
	for m := from; version.Compare(m+".0", to+".0") < 0; {
		m = version.NextMinor(m)
		out = append(out, m)
	}
	return out
}
