package defrag

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Alarm is one raised alarm.
type Alarm struct {
	Member string `json:"member"`
	ID     string `json:"id"`
	Alarm  string `json:"alarm"`
	// State is "raised", or "disarmed" by this command.
	State string `json:"state"`
}

// AlarmList is the alarms of a cluster.
type AlarmList []Alarm

// Alarms lists the raised alarms with their members' names and, with
// disarm, disarms them — CORRUPT only with force: a corruption alarm says
// the members disagree on their data, and nothing is disarmed while one
// stands in the way.
func Alarms(ctx context.Context, s *cluster.Session, disarm, force bool) (AlarmList, error) {
	raised, err := s.Alarms(ctx)
	if err != nil {
		return nil, err
	}
	if disarm && !force {
		for _, a := range raised {
			if a.Alarm == etcdserverpb.AlarmType_CORRUPT {
				return nil, fmt.Errorf("CORRUPT raised on %x: members disagree on their data; find out which (etcdpilot status compares their hashes) before disarming it, or --force; nothing was disarmed", a.MemberID)
			}
		}
	}
	names := map[uint64]string{}
	if ml, err := status.MemberList(ctx, s.Pool()); err == nil {
		for _, m := range ml.Members {
			names[m.ID] = m.Name
		}
	}
	out := AlarmList{}
	for _, a := range raised {
		row := Alarm{Member: names[a.MemberID], ID: fmt.Sprintf("%x", a.MemberID), Alarm: a.Alarm.String(), State: "raised"}
		if disarm {
			if err := s.Disarm(ctx, a); err != nil {
				return out, err
			}
			row.State = "disarmed"
		}
		out = append(out, row)
	}
	return out, nil
}
