package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WaitHealthy waits until every member runs, answers a linearizable read
// and agrees on one leader. It gives up early when a member's process has
// exited, since a dead member does not come back by itself.
func (s *Sandbox) WaitHealthy(ctx context.Context) error {
	for {
		st, err := s.State()
		if err != nil {
			return err
		}
		why := Unhealthy(ctx, st)
		if why == "" {
			return nil
		}
		for _, m := range st.Members {
			if !m.Running() {
				return fmt.Errorf("sandbox %s is not healthy: member %s is not running", s.Name, m.Name)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox %s is not healthy: %s", s.Name, why)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Unhealthy returns why the sandbox is not healthy, or "" when it is.
func Unhealthy(ctx context.Context, st *State) string {
	type result struct {
		leader uint64
		err    error
	}
	res := make([]result, len(st.Members))
	var wg sync.WaitGroup
	for i, m := range st.Members {
		if !m.Process.alive() {
			res[i].err = fmt.Errorf("not running")
			continue
		}
		wg.Add(1)
		go func(i int, m *Member) {
			defer wg.Done()
			res[i].leader, res[i].err = probe(ctx, st, m)
		}(i, m)
	}
	wg.Wait()
	var problems []string
	leaders := map[uint64]bool{}
	for i, r := range res {
		if r.err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", st.Members[i].Name, r.err))
			continue
		}
		leaders[r.leader] = true
	}
	if len(problems) == 0 && len(leaders) != 1 {
		problems = append(problems, "members do not agree on a leader")
	}
	return strings.Join(problems, "; ")
}

func probe(ctx context.Context, st *State, m *Member) (uint64, error) {
	c, err := st.Conn().ForEndpoint(m.Endpoint()).Client()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	sr, err := c.Status(cctx, m.Endpoint())
	if err != nil {
		return 0, err
	}
	if len(sr.Errors) > 0 {
		return 0, fmt.Errorf("%s", strings.Join(sr.Errors, ", "))
	}
	if sr.Leader == 0 {
		return 0, fmt.Errorf("no leader")
	}
	if _, err := c.Get(cctx, "health", clientv3.WithCountOnly()); err != nil {
		return 0, err
	}
	return sr.Leader, nil
}
