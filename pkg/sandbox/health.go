package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
)

// WaitHealthy is WaitHealthyOn with a session of its own, for callers
// that have none yet (a sandbox starting).
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
	return s.WaitHealthyOn(ctx, sess)
}

// WaitHealthyOn waits, through the caller's session, until every member
// runs and the cluster is healthy (cluster.Session.Healthy, the one
// health check), until ctx ends (a minute when it has no deadline). It
// gives up early when a member's process has exited, since a dead member
// does not come back by itself.
func (s *Sandbox) WaitHealthyOn(ctx context.Context, sess *cluster.Session) error {
	timeout := time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	err := poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
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
