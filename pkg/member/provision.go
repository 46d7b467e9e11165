package member

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
)

// AddProvisioned adds a member that the runtime provisions: it reserves
// the member (ports, data directory), adds it to the cluster, and starts
// it with the --initial-cluster the add returned, then waits until it has
// joined. A reservation whose add failed is retired again.
func AddProvisioned(ctx context.Context, p runtime.Provisioner, version string, o AddOptions) (*AddResult, error) {
	nm, err := p.Provision(ctx, o.Name, version)
	if err != nil {
		return nil, err
	}
	o.PeerURLs = nm.PeerURLs
	res, err := Add(ctx, o)
	if err != nil {
		if l, lerr := Get(ctx, o.Session); lerr == nil && l.byPeerURL(o.PeerURLs) == nil {
			p.Retire(context.WithoutCancel(ctx), o.Name)
		}
		return nil, err
	}
	res.StartedByRuntime = true
	if nm.Running {
		return res, nil
	}
	if err := p.Join(ctx, o.Name, res.InitialCluster); err != nil {
		return res, fmt.Errorf("%s was added but did not start: %w", o.Name, err)
	}
	// Wait for it to publish its name (started).
	err = poll.Until(ctx, 200*time.Millisecond, 30*time.Second, func(ctx context.Context) (bool, error) {
		l, err := Get(ctx, o.Session)
		if err != nil {
			return false, err
		}
		if m := l.byPeerURL(o.PeerURLs); m != nil && m.Started {
			res.Member = *m
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return res, fmt.Errorf("%s started but did not join: %w; see its log", o.Name, err)
	}
	return res, nil
}

// RemoveProvisioned removes the member from the cluster, then retires it
// in the runtime (stops it, moves its data aside).
func RemoveProvisioned(ctx context.Context, p runtime.Provisioner, o Options, name string) (*Result, error) {
	res, err := Remove(ctx, o, name)
	if err != nil {
		return nil, err
	}
	if p.Provisioned(ctx, name) {
		if err := p.Retire(ctx, name); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ReplaceProvisioned replaces a (dead) member: removes it, retires it,
// adds a member of the same name as a learner with a fresh data directory,
// starts it and promotes it once it caught up. An empty version keeps the
// old member's, when the runtime can tell it.
func ReplaceProvisioned(ctx context.Context, p runtime.Provisioner, version string, o Options, name string, wait time.Duration) (*Result, error) {
	if ins, ok := p.(runtime.Inspector); ok && version == "" {
		version, _ = ins.Version(ctx, name)
	}
	if _, err := RemoveProvisioned(ctx, p, o, name); err != nil {
		return nil, fmt.Errorf("replace %s: %w", name, err)
	}
	if _, err := AddProvisioned(ctx, p, version, AddOptions{Options: o, Name: name}); err != nil {
		return nil, fmt.Errorf("replace %s: removed, but adding the replacement failed: %w", name, err)
	}
	res, err := Promote(ctx, o, name, wait)
	if err != nil {
		return nil, fmt.Errorf("replace %s: the replacement runs as a learner but was not promoted: %w", name, err)
	}
	res.Message = fmt.Sprintf("replaced %s: the new member %s is a voting member", name, res.Member.ID)
	return res, nil
}
