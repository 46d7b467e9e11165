package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
)

// DefragOptions are how a rolling defragmentation treats its members.
type DefragOptions struct {
	// Keep is how many revisions a Compact step keeps.
	Keep int64
	// Timeout bounds one member's defragmentation (etcd blocks the member
	// while it copies its database: minutes for several GiB).
	Timeout time.Duration
	// HandOff moves leadership off the leader before it is defragmented.
	HandOff bool
	// Alarm is an alarm the gates tolerate while it is being recovered
	// from ("NOSPACE").
	Alarm string
}

// compactRun compacts the keyspace up to the current revision minus Keep;
// a compaction at or below the one done already is no error.
func compactRun(ctx context.Context, e *Env, s Step) error {
	c, err := e.Session.Pool().Cluster(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := e.Session.Pool().WithTimeout(ctx)
	defer cancel()
	resp, err := c.Get(cctx, "etcdpilot-compact-probe", clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("read the current revision: %w", err)
	}
	rev := resp.Header.Revision - e.Defrag.Keep
	if rev < 1 {
		e.Log.Info("  revision {revision}: nothing to compact while keeping {keep} revisions", "revision", resp.Header.Revision, "keep", e.Defrag.Keep)
		return nil
	}
	// Physical: the space is free in the database when the call returns.
	cctx, cancel = context.WithTimeout(ctx, e.Defrag.Timeout)
	defer cancel()
	if _, err := c.Compact(cctx, rev, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("compact to revision %d: %w", rev, err)
	}
	e.Log.Info("  compacted to revision {revision} (keeping {keep})", "revision", rev, "keep", e.Defrag.Keep)
	return nil
}

// defragRun defragments one member — the leader after a hand-off when
// Defrag.HandOff says so — and waits until it is back: answering, caught
// up with the leader, its hash agreeing with the others'.
func defragRun(ctx context.Context, e *Env, s Step) error {
	cl, err := e.Session.Status(ctx)
	if err != nil {
		return err
	}
	m := cluster.Find(cl, s.Member)
	if m == nil || !m.Reachable {
		return &GateError{Member: s.Member, Reason: "member does not answer; nothing was defragmented"}
	}
	if m.IsLeader && e.Defrag.HandOff {
		if err := e.handOff(ctx, s.Member, ""); err != nil {
			return err
		}
	}
	c, err := e.Session.Pool().Client(ctx, m.Endpoint)
	if err != nil {
		return err
	}
	before := m.DBSize
	dctx, cancel := context.WithTimeout(ctx, e.Defrag.Timeout)
	defer cancel()
	start := time.Now()
	if _, err := c.Defragment(dctx, m.Endpoint); err != nil {
		return fmt.Errorf("defragment %s: %w", s.Member, err)
	}
	took := time.Since(start)
	if err := e.WaitGates(ctx, Gate{Member: s.Member, Alarm: e.Defrag.Alarm}); err != nil {
		return err
	}
	after := before
	if cl, err := e.Session.Status(ctx); err == nil {
		if m := cluster.Find(cl, s.Member); m != nil {
			after = m.DBSize
		}
	}
	e.Log.Info("  {member}: {before} → {after} in {took}", "member", s.Member, "before", progress.Bytes(before), "after", progress.Bytes(after), "took", took.Round(time.Millisecond))
	return nil
}

// disarmDone: no NOSPACE alarm is raised and a write is accepted (so that
// a skipped step still means the write was checked).
func disarmDone(ctx context.Context, e *Env, s Step) (bool, error) {
	raised, err := e.Session.Alarms(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range raised {
		if a.Alarm == etcdserverpb.AlarmType_NOSPACE {
			return false, nil
		}
	}
	return CheckWrite(ctx, e.Session) == nil, nil
}

// disarmRun disarms every NOSPACE alarm (never another kind) and checks
// that the cluster accepts a write again.
func disarmRun(ctx context.Context, e *Env, s Step) error {
	raised, err := e.Session.Alarms(ctx)
	if err != nil {
		return err
	}
	for _, a := range raised {
		if a.Alarm == etcdserverpb.AlarmType_NOSPACE {
			if err := e.Session.Disarm(ctx, a); err != nil {
				return err
			}
		}
	}
	return CheckWrite(ctx, e.Session)
}

// CheckWrite writes and deletes a key: the cluster accepts writes.
func CheckWrite(ctx context.Context, s *cluster.Session) error {
	c, err := s.Pool().Cluster(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := s.Pool().WithTimeout(ctx)
	defer cancel()
	const key = "/etcdpilot/write-check"
	if _, err := c.Put(cctx, key, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("the cluster still refuses writes: %w", err)
	}
	if _, err := c.Delete(cctx, key); err != nil {
		return fmt.Errorf("the cluster still refuses writes: %w", err)
	}
	return nil
}
