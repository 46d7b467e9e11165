package member

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// AddToSandbox reserves ports and a data directory for a new sandbox
// member, adds it to the cluster and starts its process with the
// --initial-cluster the add returned. A reservation whose add failed is
// released again.
func AddToSandbox(ctx context.Context, sb *sandbox.Sandbox, version string, o AddOptions) (*AddResult, error) {
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	if version == "" && len(st.Members) > 0 {
		version = st.Members[0].Version
	}
	sm, err := st.Member(o.Name)
	if err != nil {
		if sm, err = sb.Reserve(o.Name, version); err != nil {
			return nil, err
		}
	}
	o.PeerURLs = []string{sm.PeerURL}
	res, err := Add(ctx, o)
	if err != nil {
		if l, lerr := Get(ctx, o.Conn); lerr == nil && l.byPeerURL(o.PeerURLs) == nil {
			sb.Forget(context.Background(), o.Name)
		}
		return nil, err
	}
	if sm.Running() {
		return res, nil
	}
	if err := sb.SetInitialCluster(o.Name, res.InitialCluster); err != nil {
		return res, err
	}
	if err := sb.Start(ctx, o.Name, runtime.StartOptions{}); err != nil {
		return res, fmt.Errorf("%s was added but its process did not start: %w", o.Name, err)
	}
	// Wait for it to publish its name (started).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if l, err := Get(ctx, o.Conn); err == nil {
			if m := l.byPeerURL(o.PeerURLs); m != nil && m.Started {
				res.Member = *m
				return res, nil
			}
		}
	}
	return res, fmt.Errorf("%s started but did not join within 30s; see its log %s", o.Name, sm.LogFile)
}

// RemoveFromSandbox removes the member from the cluster, then stops its
// process and moves its data directory aside.
func RemoveFromSandbox(ctx context.Context, sb *sandbox.Sandbox, o Options, name string) (*Result, error) {
	res, err := Remove(ctx, o, name)
	if err != nil {
		return nil, err
	}
	if _, err := sb.Version(ctx, name); err == nil {
		if err := sb.Forget(ctx, name); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ReplaceInSandbox replaces a (dead) sandbox member: removes it, moves its
// data aside, adds a member of the same name as a learner with a fresh data
// directory and new ports, starts it and promotes it once it caught up.
func ReplaceInSandbox(ctx context.Context, sb *sandbox.Sandbox, o Options, name string, wait time.Duration) (*Result, error) {
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	old, err := st.Member(name)
	if err != nil {
		return nil, err
	}
	if _, err := RemoveFromSandbox(ctx, sb, o, name); err != nil {
		return nil, fmt.Errorf("replace %s: %w", name, err)
	}
	if _, err := AddToSandbox(ctx, sb, old.Version, AddOptions{Options: o, Name: name}); err != nil {
		return nil, fmt.Errorf("replace %s: removed, but adding the replacement failed: %w", name, err)
	}
	res, err := Promote(ctx, o, name, wait)
	if err != nil {
		return nil, fmt.Errorf("replace %s: the replacement runs as a learner but was not promoted: %w", name, err)
	}
	res.Message = fmt.Sprintf("replaced %s: the new member %s is a voting member", name, res.Member.ID)
	return res, nil
}
