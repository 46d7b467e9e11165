package member

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
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
	// Wait until it has published its name (started) and serves clients:
	// a member whose publish is lost retries it only after etcd's request
	// timeout (7 s), and answers nobody until then.
	err = poll.Until(ctx, 200*time.Millisecond, 30*time.Second, func(ctx context.Context) (bool, error) {
		l, err := Get(ctx, o.Session)
		if err != nil {
			return false, err
		}
		m := l.byPeerURL(o.PeerURLs)
		if m == nil || !m.Started {
			return false, nil
		}
		res.Member = *m
		cl, err := o.Session.Status(ctx)
		if err != nil {
			return false, nil
		}
		sm := cluster.Find(cl, m.ID)
		return sm != nil && sm.Reachable, nil
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

// MoveProvisioned exchanges a live member for a new one, 1:1, keeping the
// quorum at every step: the new member is added as a learner, started and
// promoted once it has caught up, then the old one is removed (leadership
// handed off first if it leads) and retired. An empty version keeps the
// old member's, when the runtime can tell it.
func MoveProvisioned(ctx context.Context, p runtime.Provisioner, version string, o Options, name, to string, wait time.Duration) (*Result, error) {
	if name == to {
		return nil, fmt.Errorf("the new member needs a name of its own (--to): %s is taken by the member it replaces", name)
	}
	if ins, ok := p.(runtime.Inspector); ok && version == "" {
		version, _ = ins.Version(ctx, name)
	}
	l, err := Get(ctx, o.Session)
	if err != nil {
		return nil, err
	}
	if _, err := l.Find(name); err != nil {
		if m, err := l.Find(to); err == nil && !m.IsLearner {
			return &Result{Member: *m, Message: fmt.Sprintf("%s was moved to %s already", name, to)}, nil
		}
		return nil, err
	}
	// A voting member named to is another member, not the one a move
	// makes: going on would remove name and add nothing.
	if m, err := l.Find(to); err == nil && !m.IsLearner {
		return nil, fmt.Errorf("%s is already a voting member (ID %s): a move needs a name no member has; nothing changed (if an earlier move of %s to %s stopped after promoting it, finish it with etcdpilot member remove %s)", to, m.ID, name, to, name)
	}
	if _, err := AddProvisioned(ctx, p, version, AddOptions{Options: o, Name: to}); err != nil {
		return nil, fmt.Errorf("move %s: adding %s failed: %w", name, to, err)
	}
	if _, err := Promote(ctx, o, to, wait); err != nil {
		return nil, fmt.Errorf("move %s: %s runs as a learner but was not promoted: %w", name, to, err)
	}
	if _, err := RemoveProvisioned(ctx, p, o, name); err != nil {
		return nil, fmt.Errorf("move %s: %s is a voting member now, but removing %s failed: %w", name, to, name, err)
	}
	l, err = Get(ctx, o.Session)
	if err != nil {
		return nil, err
	}
	res := &Result{Message: fmt.Sprintf("moved %s to %s", name, to)}
	if m, err := l.Find(to); err == nil {
		res.Member = *m
	}
	return res, nil
}
