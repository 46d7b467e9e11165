package member

import (
	"context"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// statusOf returns the leader's name.
func statusOf(c conn.Config) (string, error) {
	cl, err := status.CollectConfig(context.Background(), c, status.Options{SkipHash: true})
	if err != nil {
		return "", err
	}
	return cl.Leader, nil
}
