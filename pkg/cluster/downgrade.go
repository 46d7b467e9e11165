package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Downgrade sends etcd's downgrade request (validate, enable or cancel) for
// a target minor to a member that runs the newest version — the leader
// when it does (members that already run the older minor may not know the
// API). Its reply can be lost although it took effect (etcd-io/etcd#15878):
// callers decide from the cluster's downgrade status, not from the error.
func (s *Session) Downgrade(ctx context.Context, cl *status.Cluster, action clientv3.DowngradeAction, minor string) error {
	var to *status.Member
	for i := range cl.Members {
		m := &cl.Members[i]
		if !m.Reachable {
			continue
		}
		if to == nil || version.Compare(m.ServerVersion, to.ServerVersion) > 0 ||
			(version.Compare(m.ServerVersion, to.ServerVersion) == 0 && m.IsLeader) {
			to = m
		}
	}
	if to == nil {
		return errors.New("no member answers")
	}
	c, err := s.pool.Client(ctx, to.Endpoint)
	if err != nil {
		return err
	}
	cctx, cancel := s.pool.WithTimeout(ctx)
	defer cancel()
	_, err = c.Downgrade(cctx, action, minor)
	return err
}

// DowngradeEnabled reports whether the members report a downgrade to
// minor enabled.
func DowngradeEnabled(cl *status.Cluster, minor string) bool {
	return cl.Downgrade != "" && version.Minor(cl.Downgrade) == minor
}

// StorageOn reports whether every member that reports a storage version
// (3.6+) reports minor's.
func StorageOn(cl *status.Cluster, minor string) bool {
	for _, m := range cl.Members {
		if !m.Reachable {
			return false
		}
		if m.StorageVersion != "" && version.Minor(m.StorageVersion) != minor {
			return false
		}
	}
	return true
}

// WaitStorageVersion waits until every member's storage version is on
// minor (etcd migrates it once a downgrade is enabled).
func (s *Session) WaitStorageVersion(ctx context.Context, minor string, timeout time.Duration) error {
	err := poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		cl, err := s.Status(ctx)
		if err != nil {
			return false, err
		}
		return StorageOn(cl, minor), nil
	})
	if err != nil {
		return fmt.Errorf("the storage version did not move to %s: %w", minor, err)
	}
	return nil
}

// WaitDowngradeOver waits until no member reports a downgrade enabled:
// etcd ends one by itself once every member runs its target.
func (s *Session) WaitDowngradeOver(ctx context.Context, timeout time.Duration) error {
	err := poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		cl, err := s.Status(ctx)
		if err != nil {
			return false, err
		}
		return cl.Downgrade == "", nil
	})
	if err != nil {
		return fmt.Errorf("the downgrade did not end: %w", err)
	}
	return nil
}
