package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Healthy looks once: nil when the cluster is healthy (a leader, quorum,
// no alarm, no disagreement) and every member, voter or learner, answers;
// otherwise why not.
func (s *Session) Healthy(ctx context.Context) (*status.Cluster, error) {
	cl, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range cl.Members {
		if !m.Reachable {
			return cl, fmt.Errorf("member %s does not answer: %s", label(m), m.Error)
		}
	}
	if cl.Health != status.Healthy {
		return cl, fmt.Errorf("the cluster is %s: %s", cl.Health, cl.Why())
	}
	return cl, nil
}

// WaitHealthy waits until Healthy passes.
func (s *Session) WaitHealthy(ctx context.Context, timeout time.Duration) (*status.Cluster, error) {
	var cl *status.Cluster
	err := poll.Until(ctx, 300*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		var err error
		cl, err = s.Healthy(ctx)
		return err == nil, err
	})
	if err != nil {
		return cl, fmt.Errorf("the cluster did not become healthy: %w", err)
	}
	return cl, nil
}

// WaitClusterVersion waits until the cluster version is on minor. etcd's
// leader moves it by itself once every member runs the minor, on its
// version monitor's tick (up to 4 s) or a new term's first commit.
func (s *Session) WaitClusterVersion(ctx context.Context, minor string, timeout time.Duration) error {
	err := poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		cl, err := s.Status(ctx)
		if err != nil {
			return false, err
		}
		return OnMinor(cl, minor), nil
	})
	if err != nil {
		return fmt.Errorf("the cluster version did not move to %s: %w", minor, err)
	}
	return nil
}

// OnMinor reports whether the cluster version is on minor ("3.6").
func OnMinor(cl *status.Cluster, minor string) bool {
	return cl.ClusterVersion != "" && version.Minor(cl.ClusterVersion) == minor
}

// CaughtUp waits (up to timeout) until member has applied everything
// leader had applied, each read right after the other.
func (s *Session) CaughtUp(ctx context.Context, leader, member *status.Member, timeout time.Duration) error {
	lc, err := s.pool.Client(ctx, leader.Endpoint)
	if err != nil {
		return err
	}
	mc, err := s.pool.Client(ctx, member.Endpoint)
	if err != nil {
		return err
	}
	var l, m uint64
	err = poll.Until(ctx, 10*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		ls, err := lc.Status(sctx, leader.Endpoint)
		if err != nil {
			return false, err
		}
		ms, err := mc.Status(sctx, member.Endpoint)
		if err != nil {
			return false, err
		}
		l, m = ls.RaftAppliedIndex, ms.RaftAppliedIndex
		return m >= l, nil
	})
	if errors.Is(err, poll.ErrTimeout) {
		return fmt.Errorf("%s did not catch up with the leader within %s (applied %d, leader %d)", member.Name, timeout, m, l)
	}
	return err
}
