package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// ElectionKey is where agents of one cluster elect the one that takes the
// backups and runs the defragmentations: etcd's own election (the
// concurrency package), a key under this prefix held by a lease of
// electionTTL seconds. Every agent checks the cluster and exports its
// metrics; etcdpilot_agent_leader says which one leads.
const ElectionKey = "/etcdpilot/agent/leader"

const electionTTL = 15

// elect campaigns until ctx ends: leading until the lease is lost, then
// again. A user that may not write the key cannot take part: the agent
// then leads alone and says so (every such agent runs the jobs).
func (r *run) elect(ctx context.Context) {
	host, _ := os.Hostname()
	me := fmt.Sprintf("%s/%d", host, os.Getpid())
	for ctx.Err() == nil {
		err := r.campaign(ctx, me)
		if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied) {
			r.log.Warn("election: the user may not write {key} ({error}): this agent runs the jobs without asking the others", "key", ElectionKey, "error", err)
			r.setLeader(true)
			return
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("election: {error}; again in 5s", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func (r *run) campaign(ctx context.Context, me string) error {
	cli, err := r.sess.Pool().Cluster(ctx)
	if err != nil {
		return err
	}
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(electionTTL), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer s.Close()
	e := concurrency.NewElection(s, ElectionKey)
	if err := e.Campaign(ctx, me); err != nil {
		return err
	}
	r.log.Info("election: this agent ({me}) leads: it takes the backups and runs the defragmentations", "me", me)
	r.setLeader(true)
	defer r.setLeader(false)
	select {
	case <-s.Done():
		return errors.New("the election's lease ended")
	case <-ctx.Done():
		// Hand over at once instead of after the lease's TTL.
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.Resign(rctx)
		return nil
	}
}

func (r *run) setLeader(v bool) {
	r.mu.Lock()
	r.leading = v
	r.mu.Unlock()
	g := 0.0
	if v {
		g = 1
	}
	r.a.m.leader.with(r.name).Set(g)
}

// leads says whether this agent runs the cluster's backups and
// defragmentations now.
func (r *run) leads() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}
