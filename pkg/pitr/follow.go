package pitr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync/atomic"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Follow is continuous backup: a full snapshot as the base, then a chain
// of segments after it, resumed where the store's newest chain ends.
// Every FullEvery a new base is taken while the old chain still records,
// and the old chain ends only once it holds the new base's revision, so
// that no revision falls between them. When a chain ends on its own
// (compaction ran ahead, another cluster answers, the store refused too
// long) the revisions lost are a gap and a new base is taken at once.
type Follow struct {
	Session *cluster.Session
	Store   snapshot.Store
	// Location is the store's location, for Save.
	Location string
	Save     snapshot.SaveOptions
	// FullEvery starts a new chain from a new base this often (0: never).
	FullEvery time.Duration
	// Recorder carries the segments' settings and hooks; its client,
	// cluster and base are set here.
	Recorder Recorder
	Log      *slog.Logger
	// NewBase hears of each base snapshot taken, once the chain before
	// it has ended (a prune there never races a recorder).
	NewBase func(sc *snapshot.Sidecar)
	// Gap hears of revisions no chain holds.
	Gap func(g Gap, reason string)
}

// handOverWait bounds how long an old chain may take to reach the new
// base's revision.
const handOverWait = 30 * time.Second

// Run records until ctx ends; what fails on the way (the cluster or the
// store unreachable) is logged and retried. It holds the store's lock in
// the cluster meanwhile (ErrRecorded when another recorder does).
func (f *Follow) Run(ctx context.Context) error {
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	objs, ok := f.Store.(snapshot.Objects)
	if !ok {
		return fmt.Errorf("%s cannot hold point-in-time segments", f.Store)
	}
	for ctx.Err() == nil {
		cli, err := f.Session.Pool().Cluster(ctx)
		var lost <-chan struct{}
		release := func() {}
		if err == nil {
			lost, release, err = f.lockStore(ctx, cli)
		}
		if errors.Is(err, ErrRecorded) {
			return err
		}
		if err != nil {
			f.Log.Warn("the store's lock in the cluster; retrying in 5s", "err", err)
			poll.Sleep(ctx, 5*time.Second)
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-lost:
				f.Log.Warn("the store's lock was lost (its lease ended); taking it again")
				cancel()
			case <-lctx.Done():
			}
		}()
		err = f.record(lctx, objs)
		cancel()
		release()
		if err != nil {
			return err
		}
	}
	return nil
}

// record runs chains while ctx lasts.
func (f *Follow) record(ctx context.Context, objs snapshot.Objects) error {
	var lost *ChainEnded
	var next *base // the base the next chain starts from (nil: resume or take one)
	fresh := false
	retry := func(what string, err error) {
		f.Log.Warn(what+"; retrying in 5s", "err", err)
		poll.Sleep(ctx, 5*time.Second)
	}
	for ctx.Err() == nil {
		cl, err := f.Session.Status(ctx)
		if err != nil {
			retry("cluster status", err)
			continue
		}
		client, err := f.Session.Pool().Cluster(ctx)
		if err != nil {
			retry("cluster client", err)
			continue
		}
		if err := f.sendSpool(ctx, objs); err != nil {
			retry("sending the spool's segments to the store", err)
			continue
		}
		if next == nil && !fresh {
			ch, err := newest(ctx, f.Store, cl.ClusterID)
			if err != nil {
				retry("reading the store", err)
				continue
			}
			if ch != nil {
				next = &base{name: ch.Base.Name, rev: ch.BaseRevision, from: ch.Through + 1, at: ch.Base.Time}
				f.Log.Info("resuming the chain", "base", ch.Base.Name, "from", next.from)
			}
		}
		if next == nil {
			if next, err = f.takeBase(ctx); err != nil {
				retry("base snapshot", err)
				continue
			}
			if lost != nil && f.Gap != nil && next.rev > lost.Next {
				f.Gap(Gap{From: lost.Next, To: next.rev - 1}, lost.Reason)
			}
		}
		if next.taken != nil && f.NewBase != nil {
			f.NewBase(next.taken) // the chain before it has ended
		}
		rec := f.Recorder
		rec.Client, rec.Cluster, rec.Objects = client, cl.ClusterID, objs
		rec.Base, rec.BaseRevision, rec.From = next.name, next.rev, next.from
		var through atomic.Int64
		through.Store(next.from - 1)
		rec.Covered = func(rev int64, at time.Time) {
			through.Store(rev)
			if f.Recorder.Covered != nil {
				f.Recorder.Covered(rev, at)
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- rec.Run(rctx) }()
		var full <-chan time.Time
		if f.FullEvery > 0 {
			full = time.After(max(0, f.FullEvery-time.Since(next.at)))
		}
		next, fresh = nil, false
		for waiting := true; waiting; {
			select {
			case err = <-done:
				waiting = false
			case <-full:
				b := f.handOver(ctx, &through, done)
				if b == nil {
					full = time.After(f.FullEvery)
					continue
				}
				next, waiting = b, false
				cancel()
				err = <-done
				if reached := through.Load(); reached < b.rev-1 && f.Gap != nil {
					f.Gap(Gap{From: reached + 1, To: b.rev - 1}, "the old chain did not reach the new base in time")
				}
			}
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if errors.As(err, &lost) {
			f.Log.Warn("the chain ended; taking a new base", "next", lost.Next, "reason", lost.Reason)
			fresh = true
			continue
		}
		if err != nil && next == nil {
			retry("recording", err)
		}
	}
	return nil
}

// sendSpool sends what an earlier chain left in the spool before the
// store is read for the chain to resume or a base is taken: the store
// then holds all that was recorded.
func (f *Follow) sendSpool(ctx context.Context, objs snapshot.Objects) error {
	sp := f.Recorder.Spool
	if sp == nil {
		return nil
	}
	sent, err := sp.Send(ctx, objs)
	if len(sent) > 0 {
		f.Log.Info("spooled segments sent to the store", "segments", len(sent))
	}
	if f.Recorder.Held != nil {
		f.Recorder.Held(sp.Held())
	}
	return err
}

// base is where a chain starts.
type base struct {
	name      string
	rev, from int64
	at        time.Time
	taken     *snapshot.Sidecar // a base just taken (nil: resumed)
}

func (f *Follow) takeBase(ctx context.Context) (*base, error) {
	sc, loc, err := snapshot.Save(ctx, f.Session, f.Location, f.Save)
	if err != nil {
		return nil, fmt.Errorf("base snapshot: %w", err)
	}
	f.Log.Info("base snapshot", "file", loc, "revision", sc.Revision)
	return &base{name: path.Base(loc), rev: sc.Revision, from: sc.Revision + 1, at: sc.CreatedAt, taken: sc}, nil
}

// handOver takes the next base while the chain still records and waits
// for the chain to reach its revision. A failed save leaves the old
// chain going (nil).
func (f *Follow) handOver(ctx context.Context, through *atomic.Int64, done chan error) *base {
	b, err := f.takeBase(ctx)
	if err != nil {
		f.Log.Warn("new base not taken; the chain goes on", "err", err)
		return nil
	}
	deadline := time.Now().Add(handOverWait)
	for through.Load() < b.rev && time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err // the chain ended meanwhile; Run reads it
			return b
		case <-ctx.Done():
			return b
		case <-time.After(50 * time.Millisecond):
		}
	}
	return b
}

// newest is the cluster's chain that reaches furthest, of those whose
// base is in the store and that have no hole (a plain snapshot is a chain
// too: recording may go on from it).
func newest(ctx context.Context, store snapshot.Store, clusterID string) (*Chain, error) {
	chains, err := Chains(ctx, store, clusterID)
	if err != nil {
		return nil, err
	}
	var best *Chain
	for _, ch := range chains {
		if ch.Base != nil && len(ch.Holes) == 0 && (best == nil || ch.Through >= best.Through) {
			best = ch
		}
	}
	return best, nil
}
