package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// RestoreSandbox rebuilds every member of a sandbox from the snapshot: the
// file is checked first, the members are stopped, their data directories
// moved aside and restored with a new cluster token, the members started,
// and the running cluster compared with the snapshot.
func RestoreSandbox(ctx context.Context, sb *sandbox.Sandbox, file string, opts RestoreOptions) ([]Comparison, error) {
	if err := opts.CheckBump(); err != nil {
		return nil, err
	}
	info, err := Check(file)
	if err != nil {
		return nil, err
	}
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	for _, m := range st.Members {
		if err := CheckVersion(file, info, m.Version); err != nil {
			return nil, fmt.Errorf("member %s: %w", m.Name, err)
		}
	}
	if opts.RevisionBump > 0 {
		if err := BumpCovers(liveRevision(ctx, st.Conn()), info.Revision, opts.RevisionBump); err != nil {
			return nil, err
		}
	}
	for _, m := range st.Members {
		if err := sb.Stop(ctx, m.Name); err != nil {
			return nil, err
		}
	}
	var targets []Target
	for _, m := range st.Members {
		targets = append(targets, Target{Name: m.Name, PeerURLs: []string{m.PeerURL}, DataDir: m.DataDir})
	}
	opts.Force = true
	token, err := RestoreDataDirs(file, targets, opts)
	if err != nil {
		return nil, err
	}
	if err := sb.Update(func(s *sandbox.State) error {
		s.Token = token
		return nil
	}); err != nil {
		return nil, err
	}
	if err := startAll(ctx, sb, st); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sb.WaitHealthy(wctx); err != nil {
		return nil, err
	}
	p, err := conn.NewPool(st.Conn())
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return CompareCluster(ctx, p, info, opts.RevisionBump)
}

// liveRevision is the highest revision a member reports before the
// restore, 0 when none answers.
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

func startAll(ctx context.Context, rt runtime.Runtime, st *sandbox.State) error {
	var wg sync.WaitGroup
	errs := make([]error, len(st.Members))
	for i, m := range st.Members {
		wg.Add(1)
		go func(i int, name string) {
			defer wg.Done()
			errs[i] = rt.Start(ctx, name, runtime.StartOptions{})
		}(i, m.Name)
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
