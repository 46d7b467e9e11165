// Package member changes an etcd cluster's membership so that the result
// is certain even when etcd's answer is not: every change checks the member
// list first (so running it again is harmless), refuses changes that would
// cost quorum given the members that are healthy now, and after an
// ambiguous error ("context deadline exceeded", Unavailable, a dropped
// connection) lists the members again to learn whether the change happened
// before it retries or reports.
package member

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Member is one entry of the member list.
type Member struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
	// Started is false for a member that was added but has not joined yet.
	Started bool `json:"started"`
	id      uint64
}

// List is the member list.
type List struct {
	ClusterID string   `json:"clusterID"`
	Members   []Member `json:"members"`
}

// Options are shared by every change.
type Options struct {
	// Session is the command's session with the cluster.
	Session *cluster.Session
	// Force overrides the health and quorum refusals.
	Force bool
	// Timeout bounds the whole change, retries included (default 2m).
	Timeout time.Duration
	// Catalog, when set, names the known etcd bugs a change would hit.
	Catalog *catalog.Catalog
	// beforeCall, in tests, runs right before each membership RPC.
	beforeCall func(rpc string)
}

func (o *Options) defaults() {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
}

// log writes a message template ({key} filled from the attributes).
func (o *Options) log(msg string, attrs ...any) { o.Session.Log.Info(msg, attrs...) }

func fromPB(m *etcdserverpb.Member) Member {
	return Member{ID: fmt.Sprintf("%x", m.ID), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs,
		IsLearner: m.IsLearner, Started: len(m.ClientURLs) > 0, id: m.ID}
}

// Get lists the members (a serializable read: any member answers).
func Get(ctx context.Context, s *cluster.Session) (*List, error) {
	resp, err := status.MemberList(ctx, s.Pool())
	if err != nil {
		return nil, err
	}
	return toList(resp), nil
}

// getLinearizable lists the members through a quorum read: after a change,
// only this list tells for certain whether it happened.
func getLinearizable(ctx context.Context, s *cluster.Session) (*List, error) {
	resp, err := status.MemberListLinearizable(ctx, s.Pool())
	if err != nil {
		return nil, err
	}
	return toList(resp), nil
}

func toList(resp *clientv3.MemberListResponse) *List {
	l := &List{ClusterID: fmt.Sprintf("%x", resp.Header.ClusterId)}
	for _, m := range resp.Members {
		l.Members = append(l.Members, fromPB(m))
	}
	sort.Slice(l.Members, func(i, j int) bool { return l.Members[i].Name < l.Members[j].Name })
	return l
}

// getRetry lists the members, retrying until the deadline: after an
// ambiguous error the cluster may need a moment (an election, a partition
// healing) before it answers.
func getRetry(ctx context.Context, o *Options) (*List, error) {
	for attempt := 0; ; attempt++ {
		l, err := getLinearizable(ctx, o.Session)
		if err == nil {
			return l, nil
		}
		if backoff(ctx, attempt) != nil {
			return nil, fmt.Errorf("could not list the members to learn the outcome: %v", err)
		}
	}
}

// Find resolves a member by name or hex ID. A name that matches two members
// is an error; so is one that matches none (ErrNotFound).
func (l *List) Find(nameOrID string) (*Member, error) {
	var byName []*Member
	for i := range l.Members {
		m := &l.Members[i]
		if m.Name == nameOrID && nameOrID != "" {
			byName = append(byName, m)
		}
	}
	if len(byName) > 1 {
		var ids []string
		for _, m := range byName {
			ids = append(ids, m.ID)
		}
		return nil, fmt.Errorf("the name %s matches %d members (IDs %s); give the ID", nameOrID, len(byName), strings.Join(ids, ", "))
	}
	if len(byName) == 1 {
		return byName[0], nil
	}
	if id, err := strconv.ParseUint(nameOrID, 16, 64); err == nil {
		for i := range l.Members {
			if l.Members[i].id == id {
				return &l.Members[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: no member named or with ID %s (members: %s)", ErrNotFound, nameOrID, l.names())
}

// ErrNotFound means no member matches.
var ErrNotFound = errors.New("member not found")

func (l *List) names() string {
	var out []string
	for _, m := range l.Members {
		n := m.Name
		if n == "" {
			n = "(unstarted)"
		}
		out = append(out, n+" "+m.ID)
	}
	return strings.Join(out, ", ")
}

// byPeerURL finds the member that has one of the URLs.
func (l *List) byPeerURL(urls []string) *Member {
	for i := range l.Members {
		for _, u := range l.Members[i].PeerURLs {
			for _, w := range urls {
				if sameURL(u, w) {
					return &l.Members[i]
				}
			}
		}
	}
	return nil
}

func sameURL(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// ValidateURLs checks peer URLs: scheme http or https, host and port.
func ValidateURLs(urls []string) error {
	if len(urls) == 0 {
		return fmt.Errorf("give the new member's peer URLs: --peer-urls https://10.0.0.4:2380")
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("peer URL %q is malformed: want scheme://host:port, e.g. https://10.0.0.4:2380", conn.Redact(s))
		}
		if err := conn.CheckPort(u); err != nil {
			return fmt.Errorf("peer URL %q: %v", conn.Redact(s), err)
		}
	}
	return nil
}

// Error classes of membership RPCs.
func isDesc(err error, want error) bool {
	return err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(want)
}

// transient refusals: etcd did not apply the change; retry after a while.
func transient(err error) bool {
	return isDesc(err, rpctypes.ErrGRPCUnhealthy) || isDesc(err, rpctypes.ErrGRPCMemberNotEnoughStarted) ||
		isDesc(err, rpctypes.ErrGRPCNoLeader) || conn.ProposalDropped(err)
}

// definitive refusals: etcd did not apply the change and will not.
func definitive(err error) bool {
	for _, e := range []error{rpctypes.ErrGRPCPeerURLExist, rpctypes.ErrGRPCMemberBadURLs, rpctypes.ErrGRPCMemberNotFound,
		rpctypes.ErrGRPCMemberNotLearner, rpctypes.ErrGRPCLearnerNotReady, rpctypes.ErrGRPCTooManyLearners,
		rpctypes.ErrGRPCPermissionDenied, rpctypes.ErrGRPCInvalidAuthToken, rpctypes.ErrGRPCAuthFailed, rpctypes.ErrGRPCUserEmpty} {
		if isDesc(err, e) {
			return true
		}
	}
	return false
}

// call runs one membership RPC with the per-call timeout.
func call[T any](ctx context.Context, o *Options, rpc string, fn func(context.Context, *clientv3.Client) (T, error)) (T, error) {
	var zero T
	p := o.Session.Pool()
	cli, err := p.Cluster(ctx)
	if err != nil {
		return zero, err
	}
	if o.beforeCall != nil {
		// Tests inject faults here: connect first, so that the fault hits
		// the RPC and not the connection set-up.
		wctx, cancel := p.WithTimeout(ctx)
		cli.MemberList(wctx)
		cancel()
		o.beforeCall(rpc)
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	return fn(cctx, cli)
}

// backoff sleeps before the next attempt, or reports the deadline.
func backoff(ctx context.Context, attempt int) error {
	return poll.Sleep(ctx, min(time.Duration(1<<min(attempt, 4))*250*time.Millisecond, 3*time.Second))
}

var (
	rpctypesLearnerNotReady = rpctypes.ErrGRPCLearnerNotReady
	rpctypesNotLearner      = rpctypes.ErrGRPCMemberNotLearner
	rpctypesMemberNotFound  = rpctypes.ErrGRPCMemberNotFound
)

// ParseID parses a member ID as etcd prints it (hex).
func ParseID(hex string) (uint64, error) {
	id, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("member ID %q: %w", hex, err)
	}
	return id, nil
}
