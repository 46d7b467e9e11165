package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
)

// WaitHealthy waits until every member runs and the cluster is healthy
// (cluster.Session.Healthy), until ctx ends (a minute when it has no
// deadline). It gives up early when a member's process has exited, since a
// dead member does not come back by itself.
func (s *Sandbox) WaitHealthy(ctx context.Context) error {
	st, err := s.State()
	if err != nil {
		return err
	}
	c := st.Conn()
	c.User, c.Password = s.User, s.Password
	sess, err := cluster.Open(c, nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	timeout := time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	err = poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		st, err := s.State()
		if err != nil {
			return false, poll.Stop(err)
		}
		for _, m := range st.Members {
			if !m.Running() {
				return false, poll.Stop(fmt.Errorf("member %s is not running", m.Name))
			}
		}
		_, err = sess.Healthy(ctx)
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("sandbox %s is not healthy: %w", s.Name, err)
	}
	return nil
}
