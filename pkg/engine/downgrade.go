package engine

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// downgradeEnabled: the members report the downgrade to the step's minor
// enabled, or it is over already (every member runs that minor and the
// cluster version is on it).
func downgradeEnabled(ctx context.Context, e *Env, s Step) (bool, error) {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	return enabledOrDone(cl, version.Minor(s.Version)), nil
}

func enabledOrDone(cl *status.Cluster, minor string) bool {
	if cluster.DowngradeEnabled(cl, minor) {
		return true
	}
	for _, m := range cl.Members {
		if !m.Reachable || version.Minor(m.ServerVersion) != minor {
			return false
		}
	}
	return cluster.OnMinor(cl, minor)
}

// downgradeEnableRun validates, then enables. etcd may apply the enable
// and lose the reply (#15878): the cluster's downgrade status decides.
func downgradeEnableRun(ctx context.Context, e *Env, s Step) error {
	minor := version.Minor(s.Version)
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return err
	}
	if err := e.Session.Downgrade(ctx, cl, clientv3.DowngradeValidate, minor); err != nil {
		return fmt.Errorf("etcd refused the downgrade to %s: %w", minor, err)
	}
	enableErr := e.Session.Downgrade(ctx, cl, clientv3.DowngradeEnable, minor)
	if cl, err = e.Session.Status(ctx); err != nil {
		return err
	}
	if enabledOrDone(cl, minor) {
		if enableErr != nil {
			e.Log.Info("  downgrade enable answered \"{error}\", but the members report it enabled", "error", enableErr)
		}
		return nil
	}
	if enableErr == nil {
		enableErr = fmt.Errorf("etcd accepted it, but no member reports it enabled")
	}
	return fmt.Errorf("enable the downgrade to %s: %w", minor, enableErr)
}

func storageDone(ctx context.Context, e *Env, s Step) (bool, error) {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	return cluster.StorageOn(cl, version.Minor(s.Version)), nil
}

func storageRun(ctx context.Context, e *Env, s Step) error {
	return e.Session.WaitStorageVersion(ctx, version.Minor(s.Version), e.GateTimeout)
}

func downgradeOver(ctx context.Context, e *Env, s Step) (bool, error) {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return false, err
	}
	return cl.Downgrade == "", nil
}

func downgradeOverRun(ctx context.Context, e *Env, s Step) error {
	return e.Session.WaitDowngradeOver(ctx, e.GateTimeout)
}

// downgradeCancelRun cancels, then waits until no member reports the
// downgrade (the reply may be lost, as enable's).
func downgradeCancelRun(ctx context.Context, e *Env, s Step) error {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return err
	}
	if err := e.Session.Downgrade(ctx, cl, clientv3.DowngradeCancel, version.Minor(s.Version)); err != nil {
		e.Log.Info("  downgrade cancel answered \"{error}\"; checking the members", "error", err)
	}
	return e.Session.WaitDowngradeOver(ctx, e.GateTimeout)
}
