package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// RestoreSandbox rebuilds every member of a sandbox from the snapshot
// (RestoreCluster) and records the new cluster token in its state.
func RestoreSandbox(ctx context.Context, sb *sandbox.Sandbox, file string, opts RestoreOptions) ([]Comparison, error) {
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	var targets []Target
	for _, m := range st.Members {
		targets = append(targets, Target{Name: m.Name, PeerURLs: []string{m.PeerURL}, DataDir: m.DataDir})
	}
	res, err := RestoreCluster(ctx, sb, st.Conn(), targets, file, opts)
	if res != nil && res.Token != "" {
		if uerr := sb.Update(func(s *sandbox.State) error {
			s.Token = res.Token
			return nil
		}); uerr != nil {
			return nil, errors.Join(err, uerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return res.Compared, nil
}

// RestoreCluster rebuilds every member that rt runs from the snapshot, in
// the order a restore of a whole cluster needs: the file is checked
// (against each member's version when rt can read it, and against the
// live revision when bumping), every member is stopped (for static pods:
// every manifest moved out), every data directory is restored in
// parallel with a new cluster token (the old ones moved aside, never
// deleted), every member started again, and the running cluster compared
// with the snapshot. The data directories are restored here, or, when rt
// reaches its members' hosts through executors (SSH), built here and
// sent to each host (RestoreOnHosts).
func RestoreCluster(ctx context.Context, rt runtime.Runtime, cfg conn.Config, targets []Target, file string, opts RestoreOptions) (*RestoreResult, error) {
	if err := opts.CheckBump(); err != nil {
		return nil, err
	}
	info, err := Check(file)
	if err != nil {
		return nil, err
	}
	if in, ok := rt.(runtime.Inspector); ok {
		for _, t := range targets {
			v, err := in.Version(ctx, t.Name)
			if err != nil {
				return nil, fmt.Errorf("member %s: %w", t.Name, err)
			}
			if err := CheckVersion(file, info, v); err != nil {
				return nil, fmt.Errorf("member %s: %w", t.Name, err)
			}
		}
	}
	if err := sameAsLive(ctx, cfg, file, info, opts); err != nil {
		return nil, err
	}
	if opts.RevisionBump > 0 {
		if err := BumpCovers(liveRevision(ctx, cfg), info.Revision, opts.RevisionBump); err != nil {
			return nil, err
		}
	}
	log := logging.OrDiscard(opts.Progress)
	start := time.Now()
	if err := each(targets, func(t Target) error { return rt.Stop(ctx, t.Name) }); err != nil {
		return nil, fmt.Errorf("stopping the members (the ones stopped stay stopped; etcdpilot snapshot restore again, or start them as they were): %w", err)
	}
	log.Info("every member is down ({took})", "took", time.Since(start).Round(100*time.Millisecond))
	opts.Force = true
	var token string
	var hosts map[string]hostexec.Executor
	if h, ok := rt.(runtime.Hosted); ok {
		hosts = hostsOf(h, targets)
	}
	if hosts != nil {
		for i, t := range targets {
			targets[i].Host = hosts[t.Name].String()
		}
		token, err = RestoreOnHosts(ctx, file, targets, hosts, opts)
	} else {
		token, err = RestoreDataDirs(file, targets, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (the members are stopped, their data directories as they were)", err)
	}
	res := &RestoreResult{File: file, Targets: targets, Token: token}
	log.Info("restored {members} data directories ({took})", "members", len(targets), "took", time.Since(start).Round(100*time.Millisecond))
	if err := each(targets, func(t Target) error { return rt.Start(ctx, t.Name, runtime.StartOptions{}) }); err != nil {
		return res, err
	}
	s, err := cluster.Open(cfg, nil)
	if err != nil {
		return res, err
	}
	defer s.Close()
	if _, err := s.WaitHealthy(ctx, time.Minute); err != nil {
		return res, err
	}
	res.Compared, err = CompareCluster(ctx, s.Pool(), info, opts.RevisionBump)
	return res, err
}

// liveRevision is the highest revision a member reports before the
// restore, 0 when none answers.
// sameAsLive refuses a snapshot of another cluster than the running one
// (when one answers), before anything is stopped.
func sameAsLive(ctx context.Context, c conn.Config, file string, info *Info, opts RestoreOptions) error {
	if opts.OtherCluster {
		return nil
	}
	cl, err := status.CollectConfig(ctx, c, status.Options{SkipHash: true})
	if err != nil {
		return nil // no member answers: nothing to tell it from
	}
	side := opts.Sidecar
	if side == nil {
		side, _ = ReadSidecar(file)
	}
	var ids []string
	for _, m := range cl.Members {
		ids = append(ids, m.ID)
	}
	if err := IdentityOf(info, side).SameCluster(cl.ClusterID, ids, false); err != nil {
		return fmt.Errorf("%w; nothing was stopped", err)
	}
	return nil
}

func liveRevision(ctx context.Context, c conn.Config) int64 {
	cl, err := status.CollectConfig(ctx, c, status.Options{SkipHash: true})
	if err != nil {
		return 0
	}
	var rev int64
	for _, m := range cl.Members {
		rev = max(rev, m.Revision)
	}
	return rev
}

// each runs f for every target at once and joins the errors, each named
// by its member.
func each(targets []Target, f func(Target) error) error {
	return eachIndex(targets, func(_ int, t Target) error { return f(t) })
}

// eachIndex is each with the target's index.
func eachIndex(targets []Target, f func(int, Target) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(i, t); err != nil {
				errs[i] = fmt.Errorf("member %s: %w", t.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RestoreResult is what a restore did: the data directories it wrote, how
// the members must start, and (for a sandbox) how the running cluster
// compares with the snapshot.
type RestoreResult struct {
	File           string       `json:"file"`
	Sandbox        string       `json:"sandbox,omitempty"`
	Targets        []Target     `json:"targets,omitempty"`
	InitialCluster string       `json:"initialCluster,omitempty"`
	Token          string       `json:"initialClusterToken,omitempty"`
	Compared       []Comparison `json:"compared,omitempty"`
}
