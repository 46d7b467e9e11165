package member

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// AddOptions describe a new member.
type AddOptions struct {
	Options
	Name     string
	PeerURLs []string
	// Voter adds a voting member directly instead of a learner.
	Voter bool
	// MaxLearners is the cluster's --max-learners (etcd's default is 1).
	MaxLearners int
}

// AddResult is the member that is in the cluster now and how it joins.
type AddResult struct {
	// Name is the name the member starts with.
	Name   string `json:"name"`
	Member Member `json:"member"`
	// StartedByRuntime is true when the runtime provisioned and started it.
	StartedByRuntime bool `json:"startedByRuntime,omitempty"`
	// AlreadyPresent is true when the peer URL was already a member:
	// nothing was changed.
	AlreadyPresent bool `json:"alreadyPresent"`
	// InitialCluster and InitialClusterState are the flags the new member
	// must start with.
	InitialCluster      string `json:"initialCluster"`
	InitialClusterState string `json:"initialClusterState"`
	Attempts            int    `json:"attempts"`
	// Resolved counts ambiguous errors whose outcome the member list told.
	Resolved int      `json:"resolved,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Add adds a member, learner-first unless Voter, and returns it. See the
// package comment for how it stays correct under ambiguous errors.
func Add(ctx context.Context, o AddOptions) (*AddResult, error) {
	o.defaults()
	if o.MaxLearners == 0 {
		o.MaxLearners = 1
	}
	if err := ValidateURLs(o.PeerURLs); err != nil {
		return nil, err
	}
	if o.Name == "" {
		return nil, fmt.Errorf("give the new member's name (the --name it will start with)")
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	l, err := Get(ctx, o.Session)
	if err != nil {
		return nil, err
	}
	if r, err := existing(l, o); r != nil || err != nil {
		if r != nil {
			r.Name = o.Name
		}
		return r, err
	}
	res := &AddResult{Name: o.Name}
	if err := checkAdd(ctx, &o, l, res); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		_, err := call(ctx, &o.Options, "MemberAdd", func(c context.Context, cli *clientv3.Client) (*clientv3.MemberAddResponse, error) {
			if o.Voter {
				return cli.MemberAdd(c, o.PeerURLs)
			}
			return cli.MemberAddAsLearner(c, o.PeerURLs)
		})
		switch {
		case err == nil:
		case isDesc(err, rpctypes.ErrGRPCPeerURLExist):
			// Our earlier attempt may have gone through: the list decides.
		case definitive(err):
			return nil, fmt.Errorf("etcd refused to add %s: %v", o.Name, rpcDesc(err))
		case transient(err):
			o.log("etcd refused the change for now ({error}); retrying", "error", rpcDesc(err))
			if berr := backoff(ctx, attempt); berr != nil {
				return nil, fmt.Errorf("etcd kept refusing to add %s: %v (etcd accepts a new member only when the member handling the request has been connected to a quorum of the enlarged cluster for 5s: is a member down?); nothing changed", o.Name, rpcDesc(err))
			}
			continue
		default:
			o.log("adding {member}: {error}; listing the members to learn whether it was added", "member", o.Name, "error", err)
		}
		l, lerr := getRetry(ctx, &o.Options)
		if lerr != nil {
			return nil, fmt.Errorf("adding %s: %v, and %v; run etcdpilot member list to see whether it was added, then run the same command again (it does nothing when the member is there)", o.Name, err, lerr)
		}
		if err != nil {
			res.Resolved++
		}
		if m := l.byPeerURL(o.PeerURLs); m != nil {
			res.Member = *m
			res.InitialCluster, res.InitialClusterState = initialCluster(l, o.Name, o.PeerURLs), "existing"
			if m.IsLearner == o.Voter {
				return res, fmt.Errorf("member %s was added, but as a %s", m.ID, kind(m.IsLearner))
			}
			return res, nil
		}
		if err == nil {
			return nil, fmt.Errorf("etcd acknowledged adding %s but the member list does not show it", o.Name)
		}
		o.log("{member} is not in the member list: the add did not happen; retrying", "member", o.Name)
		if berr := backoff(ctx, attempt); berr != nil {
			return nil, fmt.Errorf("adding %s: %v (it is not in the member list; nothing changed)", o.Name, err)
		}
	}
}

func rpcDesc(err error) string {
	return strings.TrimPrefix(rpctypes.ErrorDesc(err), "etcdserver: ")
}

func kind(learner bool) string {
	if learner {
		return "learner"
	}
	return "voter"
}

// existing answers an add whose peer URL is already a member.
func existing(l *List, o AddOptions) (*AddResult, error) {
	m := l.byPeerURL(o.PeerURLs)
	if m == nil {
		for _, x := range l.Members {
			if x.Name == o.Name {
				return nil, fmt.Errorf("a member named %s already exists (ID %s, peer URLs %s) with other peer URLs; remove it first or pick another name", o.Name, x.ID, strings.Join(x.PeerURLs, ","))
			}
		}
		return nil, nil
	}
	if m.Name != "" && m.Name != o.Name {
		return nil, fmt.Errorf("peer URL %s already belongs to member %s (ID %s)", strings.Join(m.PeerURLs, ","), m.Name, m.ID)
	}
	return &AddResult{Member: *m, AlreadyPresent: true, InitialCluster: initialCluster(l, o.Name, o.PeerURLs), InitialClusterState: "existing"}, nil
}

// checkAdd refuses an add on an unhealthy cluster, one that would raise
// quorum beyond the healthy voters, and a learner beyond --max-learners.
func checkAdd(ctx context.Context, o *AddOptions, l *List, res *AddResult) error {
	learners := 0
	for _, m := range l.Members {
		if m.IsLearner {
			learners++
		}
	}
	if !o.Voter && learners >= o.MaxLearners {
		return fmt.Errorf("the cluster already has %d learner(s) and allows %d (--max-learners): promote or remove the learner first", learners, o.MaxLearners)
	}
	cl, err := o.Session.Status(ctx)
	if err != nil {
		return err
	}
	var problems []string
	if cl.Health != status.Healthy {
		problems = append(problems, fmt.Sprintf("the cluster is %s: %s", cl.Health, cl.Why()))
	}
	if o.Voter {
		if err := cluster.CheckAddVoter(cl); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if err := addRefusedByEtcd(o, cl); err != nil {
		return err
	}
	if !o.Force {
		return fmt.Errorf("refusing to add %s: %s (--force overrides)", o.Name, strings.Join(problems, "; "))
	}
	for _, p := range problems {
		res.Warnings = append(res.Warnings, "forced: "+p)
		o.log("warning: forced: {problem}", "problem", p)
	}
	return nil
}

// addRefusedByEtcd refuses, --force or not, an add that etcd's strict
// reconfiguration check will refuse whatever is retried: it counts the new
// member (a learner too) as down, so the member handling the request must
// be connected to a quorum of the enlarged cluster; and before 3.5.30 and
// 3.6.11 it refuses while any voter is down although the quorum holds
// (etcd-io/etcd#21640). Waiting would only run out the timeout.
func addRefusedByEtcd(o *AddOptions, cl *status.Cluster) error {
	var down []string
	reachable, voters := 0, 0
	for _, m := range cl.Members {
		if m.IsLearner {
			continue
		}
		voters++
		if m.Reachable {
			reachable++
		} else {
			down = append(down, m.Name)
		}
	}
	if len(down) == 0 {
		return nil
	}
	fix := fmt.Sprintf("bring %s back, or remove it first (etcdpilot member replace removes the dead member, then adds)", strings.Join(down, ", "))
	if need := status.Quorum(voters + 1); reachable < need {
		return fmt.Errorf("refusing to add %s: etcd counts a new member (a learner too) as down until it joins, and accepts it only while %d of the %d voters are connected; %d are (%s down): %s; nothing changed",
			o.Name, need, voters, reachable, strings.Join(down, ", "), fix)
	}
	if o.Catalog == nil {
		return nil
	}
	for _, m := range cl.Members {
		if !m.Reachable || m.ServerVersion == "" {
			continue
		}
		for _, is := range o.Catalog.IssuesDuring(m.ServerVersion, catalog.OpMemberAdd) {
			upgrade := "no " + version.Minor(m.ServerVersion) + " release fixes it"
			if fixed := catalog.FixedIn(is.Affected, m.ServerVersion); fixed != "" {
				upgrade = "or upgrade to " + fixed + " or later"
			}
			return fmt.Errorf("refusing to add %s: %s is down, and %s runs etcd %s, which refuses new members while any voter is down although the quorum holds (%s, %s): %s, %s; nothing changed",
				o.Name, strings.Join(down, ", "), m.Name, m.ServerVersion, is.ID, is.Link, fix, upgrade)
		}
	}
	return nil
}

// initialCluster is the --initial-cluster for the new member: every member
// (the unstarted one under its new name) name=peerURL, sorted.
func initialCluster(l *List, name string, peerURLs []string) string {
	var parts []string
	found := false
	for _, m := range l.Members {
		n := m.Name
		for _, u := range peerURLs {
			for _, pu := range m.PeerURLs {
				if sameURL(u, pu) {
					n, found = name, true
				}
			}
		}
		if n == "" {
			continue // another unstarted member: it has no name yet
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, n+"="+u)
		}
	}
	if !found {
		for _, u := range peerURLs {
			parts = append(parts, name+"="+u)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
