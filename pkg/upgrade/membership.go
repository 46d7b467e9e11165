package upgrade

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// NeedsMembershipCheck says whether a plan to target must compare the
// members' backends with the member list: every member runs 3.5 and the
// target is 3.6 or later.
func NeedsMembershipCheck(cl *status.Cluster, target string) bool {
	if version.Compare(version.Minor(target)+".0", "3.6.0") < 0 {
		return false
	}
	for _, m := range cl.Members {
		if m.Reachable && version.Minor(m.ServerVersion) != "3.5" {
			return false
		}
	}
	return true
}

// Membership streams every reachable member's backend (a snapshot into a
// temporary file under dir, removed after) and compares it with the
// member list.
func Membership(ctx context.Context, s *cluster.Session, cl *status.Cluster, dir string, log *slog.Logger) ([]membercheck.Finding, error) {
	log = logging.OrDiscard(log)
	ml, err := status.MemberList(ctx, s.Pool())
	if err != nil {
		return nil, err
	}
	var list []membercheck.Listed
	for _, m := range ml.Members {
		list = append(list, membercheck.Listed{ID: m.ID, Name: m.Name, IsLearner: m.IsLearner})
	}
	backends := map[string]*membercheck.Backend{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(cl.Members))
	for i, m := range cl.Members {
		if !m.Reachable {
			continue
		}
		wg.Add(1)
		go func(i int, m status.Member) {
			defer wg.Done()
			log.Info("reading the membership in {member}'s backend ({size} bytes) ...", "member", m.Name, "size", m.DBSize)
			c, err := s.Pool().Client(ctx, m.Endpoint)
			if err == nil {
				var b *membercheck.Backend
				if b, err = membercheck.FromMember(ctx, c, dir); err == nil {
					mu.Lock()
					backends[m.Name] = b
					mu.Unlock()
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("read the backend of %s: %w", m.Name, err)
			}
		}(i, m)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return membercheck.Compare(list, backends), nil
}
