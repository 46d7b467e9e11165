// Package status collects the state of every member of an etcd cluster:
// versions, leader, raft indexes, database size, alarms, learners, and
// whether the members' key-value hashes agree.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
)

// Health of a cluster.
const (
	Healthy     = "healthy"
	Degraded    = "degraded"
	Unavailable = "unavailable"
)

// Member is one member as seen by its own Status, /version and HashKV.
type Member struct {
	Name           string   `json:"name"`
	ID             string   `json:"id"`
	Endpoint       string   `json:"endpoint"`
	PeerURLs       []string `json:"peerURLs"`
	IsLearner      bool     `json:"isLearner"`
	Started        bool     `json:"started"`
	Reachable      bool     `json:"reachable"`
	ServerVersion  string   `json:"serverVersion,omitempty"`
	ClusterVersion string   `json:"clusterVersion,omitempty"`
	StorageVersion string   `json:"storageVersion,omitempty"`
	// Downgrade is the target of a downgrade this member reports enabled
	// (etcd 3.6+).
	Downgrade    string   `json:"downgrade,omitempty"`
	IsLeader     bool     `json:"isLeader"`
	LeaderID     string   `json:"leaderID,omitempty"`
	RaftTerm     uint64   `json:"raftTerm"`
	RaftIndex    uint64   `json:"raftIndex"`
	AppliedIndex uint64   `json:"raftAppliedIndex"`
	Revision     int64    `json:"revision"`
	DBSize       int64    `json:"dbSize"`
	DBSizeInUse  int64    `json:"dbSizeInUse"`
	Errors       []string `json:"errors,omitempty"`
	Alarms       []string `json:"alarms,omitempty"`
	Hash         uint32   `json:"hash,omitempty"`
	CompactRev   int64    `json:"compactRevision,omitempty"`
	Error        string   `json:"error,omitempty"`

	id uint64
}

// Hash is the outcome of comparing HashKV across members.
type Hash struct {
	// Result is "agree", "mismatch" or "unknown".
	Result   string `json:"result"`
	Revision int64  `json:"revision,omitempty"`
	// Compaction: Revision is the last compaction's, and the members
	// answered with the hash etcd kept while compacting (no scan).
	Compaction bool   `json:"compaction,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// Cluster is the whole picture.
type Cluster struct {
	ClusterID       string   `json:"clusterID"`
	Health          string   `json:"health"`
	Reasons         []string `json:"reasons,omitempty"`
	Voters          int      `json:"voters"`
	ReachableVoters int      `json:"reachableVoters"`
	Quorum          int      `json:"quorum"`
	Leader          string   `json:"leader,omitempty"`
	ClusterVersion  string   `json:"clusterVersion,omitempty"`
	// Downgrade is the target of a downgrade in progress (etcdctl
	// downgrade enable), as the members report it.
	Downgrade string   `json:"downgrade,omitempty"`
	Alarms    Alarms   `json:"alarms,omitempty"`
	Hash      Hash     `json:"hash"`
	Members   []Member `json:"members"`
	// Certificates are filled by callers that read them (status, plan):
	// the connection's, the members' served ones and configured files.
	Certificates []certs.Cert `json:"certificates,omitempty"`
	// Auth is whether etcd's auth is on (AuthOn, AuthOff, "" unknown).
	Auth string `json:"auth,omitempty"`
	// Advisories are filled by callers that know the release catalog:
	// the known issues and CVEs of each version the members run.
	Advisories []Advisory `json:"advisories,omitempty"`
}

// Advisory is what concerns one version the cluster runs.
type Advisory struct {
	Version string   `json:"version"`
	Members []string `json:"members"`
	// Items are the CVEs and known issues that apply, one line each.
	Items []string `json:"items"`
	// NotApplicable counts the CVEs left out: they need auth, which is off.
	NotApplicable int `json:"notApplicable,omitempty"`
	// Newest is the newest patch of the version's minor.
	Newest string `json:"newest,omitempty"`
}

// Options tune Collect.
type Options struct {
	// SkipHash skips the HashKV comparison.
	SkipHash bool
}

// ErrNoEndpoint means no endpoint answered the member list.
var ErrNoEndpoint = errors.New("no reachable endpoint")

// CollectConfig is Collect for a one-off look: it opens the connections
// and closes them again.
func CollectConfig(ctx context.Context, cfg conn.Config, opts Options) (*Cluster, error) {
	p, err := conn.NewPool(cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return Collect(ctx, p, opts)
}

// Collect asks every member for its state, in parallel. It fails only when
// no endpoint answers at all; an unreachable member is reported in its row.
func Collect(ctx context.Context, p *conn.Pool, opts Options) (*Cluster, error) {
	list, err := MemberList(ctx, p)
	if err != nil {
		return nil, err
	}
	cl := &Cluster{ClusterID: fmt.Sprintf("%x", list.Header.ClusterId)}
	cl.Members = make([]Member, len(list.Members))
	var wg sync.WaitGroup
	for i, pm := range list.Members {
		m := &cl.Members[i]
		m.id = pm.ID
		m.ID = fmt.Sprintf("%x", pm.ID)
		m.Name = pm.Name
		m.PeerURLs = pm.PeerURLs
		m.IsLearner = pm.IsLearner
		m.Started = len(pm.ClientURLs) > 0
		if !m.Started {
			m.Error = "not started (added but never connected)"
			continue
		}
		m.Endpoint = pm.ClientURLs[0]
		wg.Add(1)
		go func() {
			defer wg.Done()
			query(ctx, p, m)
		}()
	}
	// AlarmList goes through raft: without quorum it waits for the whole
	// command timeout, so it runs beside the member queries.
	var alarmList []*etcdserverpb.AlarmMember
	wg.Add(2)
	go func() {
		defer wg.Done()
		alarmList = listAlarms(ctx, p)
	}()
	go func() {
		defer wg.Done()
		cl.Auth = authState(ctx, p)
	}()
	wg.Wait()
	applyAlarms(cl, alarmList)
	sort.SliceStable(cl.Members, func(i, j int) bool { return cl.Members[i].Name < cl.Members[j].Name })
	assess(cl)
	if !opts.SkipHash {
		AddHashes(ctx, p, cl)
	}
	return cl, nil
}

// AddHashes compares the members' key-value hashes (HashKV at one
// revision) and judges the cluster by them: hashes that differ make a
// cluster with quorum and a leader degraded.
func AddHashes(ctx context.Context, p *conn.Pool, cl *Cluster) {
	AddHashesCached(ctx, p, cl, nil)
}

// AddHashesCached is AddHashes that keeps the hashes in a change's cache
// (nil: none, and CompareHashes' comparison at the last compaction), for
// the gates that follow.
func AddHashesCached(ctx context.Context, p *conn.Pool, cl *Cluster, cache *HashCache) {
	if cache == nil {
		cl.Hash = CompareHashes(ctx, p, cl.Members)
	} else {
		cl.Hash = CompareHashesCached(ctx, p, cl.Members, cache, "")
	}
	if cl.Hash.Result == HashMismatch && cl.Health != Unavailable {
		cl.Reasons = append(cl.Reasons, "key-value hashes differ: "+cl.Hash.Detail)
		cl.Health = Degraded
	}
}

// MemberList asks all endpoints at once and returns the first answer. It
// uses a serializable list, so that a member without quorum still answers.
func MemberList(ctx context.Context, p *conn.Pool) (*clientv3.MemberListResponse, error) {
	type answer struct {
		resp *clientv3.MemberListResponse
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eps := p.Endpoints()
	ch := make(chan answer, len(eps))
	for _, ep := range eps {
		go func(ep string) {
			c, err := p.Client(ctx, ep)
			if err != nil {
				ch <- answer{err: err}
				return
			}
			cctx, ccancel := p.WithTimeout(ctx)
			defer ccancel()
			resp, err := c.MemberList(cctx, clientv3.WithSerializable())
			if err != nil {
				err = fmt.Errorf("%s: %w", ep, err)
			}
			ch <- answer{resp, err}
		}(ep)
	}
	var errs []string
	authFailed := false
	for range eps {
		a := <-ch
		if a.err == nil {
			return a.resp, nil
		}
		errs = append(errs, a.err.Error())
		authFailed = authFailed || errors.Is(a.err, rpctypes.ErrUserEmpty) || strings.Contains(a.err.Error(), "authentication failed")
	}
	sort.Strings(errs)
	if authFailed {
		// Every member answered, and refused who we are: not a
		// reachability problem.
		for _, e := range errs {
			if strings.Contains(e, "authentication failed for user") {
				return nil, errors.New(e[strings.Index(e, "authentication failed"):])
			}
		}
		return nil, fmt.Errorf("the cluster at %s has etcd's auth on: give a user (--user, --password, or ETCDCTL_USER and ETCDCTL_PASSWORD)", strings.Join(eps, ","))
	}
	return nil, fmt.Errorf("%w among %s: %s", ErrNoEndpoint, strings.Join(eps, ","), strings.Join(errs, "; "))
}

// MemberListLinearizable reads the member list through the leader (a
// quorum read): after a membership change, the list that tells whether it
// happened. It fails without quorum.
func MemberListLinearizable(ctx context.Context, p *conn.Pool) (*clientv3.MemberListResponse, error) {
	c, err := p.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	return c.MemberList(cctx)
}

func query(ctx context.Context, p *conn.Pool, m *Member) {
	c, err := p.Client(ctx, m.Endpoint)
	if err != nil {
		m.Error = err.Error()
		return
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	sr, err := c.Status(cctx, m.Endpoint)
	if err != nil {
		m.Error = shortError(err)
		if cctx.Err() != nil {
			m.Error = fmt.Sprintf("no answer within %s (--command-timeout)", p.Config().Timeout())
		}
		return
	}
	m.Reachable = true
	m.ServerVersion = sr.Version
	m.StorageVersion = sr.StorageVersion
	if d := sr.DowngradeInfo; d != nil && d.Enabled {
		m.Downgrade = d.TargetVersion
	}
	m.DBSize = sr.DbSize
	m.DBSizeInUse = sr.DbSizeInUse
	m.RaftTerm = sr.RaftTerm
	m.RaftIndex = sr.RaftIndex
	m.AppliedIndex = sr.RaftAppliedIndex
	m.Revision = sr.Header.Revision
	m.Errors = sr.Errors
	if sr.Leader != 0 {
		m.LeaderID = fmt.Sprintf("%x", sr.Leader)
		m.IsLeader = sr.Leader == sr.Header.MemberId
	}
	if v, err := Versions(cctx, p, m.Endpoint); err == nil {
		m.ClusterVersion = v.Cluster
		if m.StorageVersion == "" {
			m.StorageVersion = v.Storage
		}
	}
}

// VersionInfo is the JSON of an etcd member's /version.
type VersionInfo struct {
	Server  string `json:"etcdserver"`
	Cluster string `json:"etcdcluster"`
	Storage string `json:"storage,omitempty"`
}

// Versions reads a member's /version over HTTP(S).
func Versions(ctx context.Context, p *conn.Pool, endpoint string) (*VersionInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL(endpoint)+"/version", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.HTTP().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /version: %s", resp.Status)
	}
	var v VersionInfo
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

func listAlarms(ctx context.Context, p *conn.Pool) []*etcdserverpb.AlarmMember {
	c, err := p.Cluster(ctx)
	if err != nil {
		return nil
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	resp, err := c.AlarmList(cctx)
	if err != nil {
		return nil
	}
	return resp.Alarms
}

// Auth states: etcd's auth on or off; "" when it could not be told.
const (
	AuthOn  = "on"
	AuthOff = "off"
)

// authState asks whether etcd's auth is on. Before 3.7 AuthStatus needs
// a user when auth is on, so a refusal for want of one says it is on;
// 3.4 has no AuthStatus, and then it is unknown.
func authState(ctx context.Context, p *conn.Pool) string {
	c, err := p.Cluster(ctx)
	if err != nil {
		return ""
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	resp, err := c.AuthStatus(cctx)
	switch {
	case err == nil && resp.Enabled:
		return AuthOn
	case err == nil:
		return AuthOff
	case errors.Is(err, rpctypes.ErrUserEmpty), errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrInvalidAuthToken):
		return AuthOn
	}
	return ""
}

func applyAlarms(cl *Cluster, list []*etcdserverpb.AlarmMember) {
	for _, a := range list {
		if a.Alarm == etcdserverpb.AlarmType_NONE {
			continue
		}
		name := fmt.Sprintf("%x", a.MemberID)
		for j := range cl.Members {
			if cl.Members[j].id == a.MemberID {
				cl.Members[j].Alarms = append(cl.Members[j].Alarms, a.Alarm.String())
				name = nameOr(cl.Members[j])
			}
		}
		cl.Alarms = append(cl.Alarms, Alarm{Type: a.Alarm.String(), Member: name, ID: fmt.Sprintf("%x", a.MemberID)})
	}
}

// assess sets health, quorum and leader from the member rows.
func assess(cl *Cluster) {
	leaders := map[string]bool{}
	versions := map[string]bool{}
	for _, m := range cl.Members {
		if !m.IsLearner {
			cl.Voters++
			if m.Reachable {
				cl.ReachableVoters++
			}
		}
		if m.Reachable && m.LeaderID != "" {
			leaders[m.LeaderID] = true
		}
		if m.ClusterVersion != "" {
			versions[m.ClusterVersion] = true
		}
		if m.Downgrade != "" {
			cl.Downgrade = m.Downgrade
		}
		if !m.Reachable {
			cl.Reasons = append(cl.Reasons, fmt.Sprintf("member %s unreachable: %s", nameOr(m), m.Error))
		}
		if len(m.Errors) > 0 {
			cl.Reasons = append(cl.Reasons, fmt.Sprintf("member %s reports: %s", nameOr(m), strings.Join(m.Errors, ", ")))
		}
	}
	for v := range versions {
		cl.ClusterVersion = v
	}
	if len(versions) > 1 {
		cl.ClusterVersion = ""
		cl.Reasons = append(cl.Reasons, "members disagree on the cluster version")
	}
	cl.Quorum = Quorum(cl.Voters)
	for _, m := range cl.Members {
		if m.Reachable && m.IsLeader {
			cl.Leader = nameOr(m)
		}
	}
	switch {
	case cl.ReachableVoters < cl.Quorum:
		cl.Health = Unavailable
		cl.Reasons = append([]string{fmt.Sprintf("no quorum: %d of %d voting members reachable, %d needed", cl.ReachableVoters, cl.Voters, cl.Quorum)}, cl.Reasons...)
	case cl.Leader == "":
		cl.Health = Unavailable
		cl.Reasons = append([]string{"no leader"}, cl.Reasons...)
	default:
		cl.Health = Healthy
		if len(leaders) > 1 {
			cl.Reasons = append(cl.Reasons, "members disagree on the leader")
		}
		if len(cl.Reasons) > 0 || len(cl.Alarms) > 0 {
			cl.Health = Degraded
		}
	}
}

// Quorum is the number of voting members a cluster of voters needs.
func Quorum(voters int) int { return voters/2 + 1 }

func nameOr(m Member) string {
	if m.Name != "" {
		return m.Name
	}
	return m.ID
}

// shortError keeps the useful part of a gRPC error.
func shortError(err error) string {
	s := err.Error()
	if i := strings.Index(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	return s
}

// V2Enabled reports whether a member serves the v2 API (--enable-v2), by
// asking for /v2/keys: 404 means off.
func V2Enabled(ctx context.Context, p *conn.Pool, endpoint string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL(endpoint)+"/v2/keys", nil)
	if err != nil {
		return false, err
	}
	resp, err := p.HTTP().Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
