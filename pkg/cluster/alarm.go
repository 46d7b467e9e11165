package cluster

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Alarms lists the raised alarms (NOSPACE, CORRUPT) of every member.
func (s *Session) Alarms(ctx context.Context) ([]*etcdserverpb.AlarmMember, error) {
	c, err := s.pool.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	cctx, cancel := s.pool.WithTimeout(ctx)
	defer cancel()
	resp, err := c.AlarmList(cctx)
	if err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	var out []*etcdserverpb.AlarmMember
	for _, a := range resp.Alarms {
		if a.Alarm != etcdserverpb.AlarmType_NONE {
			out = append(out, a)
		}
	}
	return out, nil
}

// Disarm disarms one alarm on its member.
func (s *Session) Disarm(ctx context.Context, a *etcdserverpb.AlarmMember) error {
	c, err := s.pool.Cluster(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := s.pool.WithTimeout(ctx)
	defer cancel()
	if _, err := c.AlarmDisarm(cctx, (*clientv3.AlarmMember)(a)); err != nil {
		return fmt.Errorf("disarm %s on %x: %w", a.Alarm, a.MemberID, err)
	}
	return nil
}
