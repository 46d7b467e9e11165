// Package runtimetest is the conformance suite every member runtime
// passes: against a live cluster the runtime runs, stop and start (on
// another version and back) behave as the engine relies on, and each
// optional capability the runtime offers does what it says.
package runtimetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Target is a runtime and the running cluster whose members it drives.
type Target struct {
	Runtime runtime.Runtime
	Session *cluster.Session
	// From is the version the members run; To another version the
	// runtime can start them on (the next minor: the cluster version stays
	// on From's minor while one member runs To).
	From, To string
}

// Run runs the suite. It leaves every member running on From.
func Run(t *testing.T, tg Target) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rt := tg.Runtime
	t.Logf("capabilities: %v", runtime.Has(rt))
	follower := pickFollower(t, ctx, tg)

	t.Run("stop", func(t *testing.T) {
		must(t, rt.Stop(ctx, follower), "stop")
		waitReachable(t, ctx, tg, follower, false)
		must(t, rt.Stop(ctx, follower), "stopping a stopped member is not an error")
	})
	t.Run("start on another version", func(t *testing.T) {
		must(t, rt.Start(ctx, follower, runtime.StartOptions{Version: tg.To}), "start on "+tg.To)
		waitVersion(t, ctx, tg, follower, tg.To)
		if ins, ok := rt.(runtime.Inspector); ok {
			v, err := ins.Version(ctx, follower)
			must(t, err, "Version")
			if version.Compare(v, tg.To) != 0 {
				t.Errorf("Inspector.Version says %s, the member runs %s", v, tg.To)
			}
		}
	})
	t.Run("back on the old version", func(t *testing.T) {
		must(t, rt.Stop(ctx, follower), "stop")
		must(t, rt.Start(ctx, follower, runtime.StartOptions{Version: tg.From}), "start on "+tg.From)
		waitVersion(t, ctx, tg, follower, tg.From)
		_, err := tg.Session.WaitHealthy(ctx, time.Minute)
		must(t, err, "healthy")
	})
	t.Run("start keeps the version", func(t *testing.T) {
		must(t, rt.Stop(ctx, follower), "stop")
		must(t, rt.Start(ctx, follower, runtime.StartOptions{}), "start")
		waitVersion(t, ctx, tg, follower, tg.From)
	})
	t.Run("unknown member", func(t *testing.T) {
		if err := rt.Stop(ctx, "no-such-member"); err == nil {
			t.Error("stopping an unknown member: no error")
		}
	})
	if ins, ok := rt.(runtime.Inspector); ok {
		t.Run("inspect", func(t *testing.T) {
			flags, err := ins.Flags(ctx, follower)
			must(t, err, "Flags")
			if len(flags) == 0 {
				t.Error("no flags")
			}
		})
	}
	if k, ok := rt.(runtime.Killer); ok {
		t.Run("kill", func(t *testing.T) {
			must(t, k.Kill(ctx, follower), "kill")
			waitReachable(t, ctx, tg, follower, false)
			must(t, rt.Start(ctx, follower, runtime.StartOptions{}), "start after kill")
			waitReachable(t, ctx, tg, follower, true)
		})
	}
	if p, ok := rt.(runtime.Pauser); ok {
		t.Run("pause", func(t *testing.T) {
			must(t, p.Pause(ctx, follower), "pause")
			waitReachable(t, ctx, tg, follower, false)
			must(t, p.Resume(ctx, follower), "resume")
			waitReachable(t, ctx, tg, follower, true)
		})
	}
	if r, ok := rt.(runtime.FlagRenamer); ok {
		t.Run("rename flags", func(t *testing.T) {
			must(t, r.RenameFlags(ctx, follower, map[string]string{"--no-such-flag": "--other"}), "rename")
			must(t, rt.Stop(ctx, follower), "stop")
			must(t, rt.Start(ctx, follower, runtime.StartOptions{}), "start with its flags rewritten")
			waitReachable(t, ctx, tg, follower, true)
		})
	}
	if p, ok := rt.(runtime.Provisioner); ok {
		t.Run("provision", func(t *testing.T) {
			nm, err := p.Provision(ctx, "conformance", tg.From)
			must(t, err, "provision")
			if len(nm.PeerURLs) == 0 || nm.Running || !p.Provisioned(ctx, "conformance") {
				t.Errorf("provisioned %+v", nm)
			}
			again, err := p.Provision(ctx, "conformance", tg.From)
			must(t, err, "provision again")
			if fmt.Sprint(again.PeerURLs) != fmt.Sprint(nm.PeerURLs) {
				t.Errorf("provisioning again gave other peer URLs: %v, then %v", nm.PeerURLs, again.PeerURLs)
			}
			must(t, p.Retire(ctx, "conformance"), "retire")
			if p.Provisioned(ctx, "conformance") {
				t.Error("still provisioned after Retire")
			}
		})
	}
	_, err := tg.Session.WaitHealthy(ctx, time.Minute)
	must(t, err, "healthy at the end")
}

func pickFollower(t *testing.T, ctx context.Context, tg Target) string {
	cl, err := tg.Session.WaitHealthy(ctx, time.Minute)
	must(t, err, "healthy at the start")
	for _, m := range cl.Members {
		if !m.IsLeader {
			return m.Name
		}
	}
	t.Fatal("no follower")
	return ""
}

func waitReachable(t *testing.T, ctx context.Context, tg Target, name string, want bool) {
	t.Helper()
	waitMember(t, ctx, tg, name, func(m *status.Member) error {
		if m.Reachable != want {
			return fmt.Errorf("reachable=%v", m.Reachable)
		}
		return nil
	})
}

func waitVersion(t *testing.T, ctx context.Context, tg Target, name, v string) {
	t.Helper()
	waitMember(t, ctx, tg, name, func(m *status.Member) error {
		if !m.Reachable || version.Compare(m.ServerVersion, v) != 0 {
			return fmt.Errorf("not answering on %s (runs %q, %s)", v, m.ServerVersion, m.Error)
		}
		return nil
	})
}

// waitMember waits (up to a minute) until ok accepts the member's status.
func waitMember(t *testing.T, ctx context.Context, tg Target, name string, ok func(*status.Member) error) {
	t.Helper()
	err := poll.Until(ctx, 200*time.Millisecond, time.Minute, func(ctx context.Context) (bool, error) {
		cl, err := tg.Session.Status(ctx)
		if err != nil {
			return false, err
		}
		m := cluster.Find(cl, name)
		if m == nil {
			return false, fmt.Errorf("no member %s", name)
		}
		err = ok(m)
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("member %s: %v", name, err)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
