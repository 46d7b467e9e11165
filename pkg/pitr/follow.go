package pitr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Follow is continuous backup: a full snapshot as the base, then a chain
// of segments after it, resumed where the store's newest chain ends; when
// a chain ends (compaction ran ahead, another cluster answers, the store
// refused too long) the revisions lost are a gap and a new base is taken
// at once.
type Follow struct {
	Session *cluster.Session
	Store   snapshot.Store
	// Location is the store's location, for Save.
	Location string
	Save     snapshot.SaveOptions
	// Recorder carries the segments' settings and hooks; its client,
	// cluster and base are set here.
	Recorder Recorder
	Log      *slog.Logger
	// NewBase hears of each base snapshot taken.
	NewBase func(sc *snapshot.Sidecar)
	// Gap hears of revisions no chain holds.
	Gap func(g Gap, reason string)
}

// Run records until ctx ends.
func (f *Follow) Run(ctx context.Context) error {
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	objs, ok := f.Store.(snapshot.Objects)
	if !ok {
		return fmt.Errorf("%s cannot hold point-in-time segments", f.Store)
	}
	fresh := false // a chain just ended: take a new base
	var lost *ChainEnded
	for ctx.Err() == nil {
		cl, err := f.Session.Status(ctx)
		if err != nil {
			return err
		}
		client, err := f.Session.Pool().Cluster(ctx)
		if err != nil {
			return err
		}
		rec := f.Recorder
		rec.Client, rec.Cluster, rec.Objects = client, cl.ClusterID, objs
		var ch *Chain
		if !fresh {
			ch, err = newest(ctx, f.Store, cl.ClusterID)
			if err != nil {
				return err
			}
		}
		if ch != nil {
			rec.Base, rec.BaseRevision, rec.From = ch.Base.Name, ch.BaseRevision, ch.Through+1
			f.Log.Info("resuming the chain", "base", ch.Base.Name, "from", rec.From)
		} else {
			sc, loc, err := snapshot.Save(ctx, f.Session, f.Location, f.Save)
			if err != nil {
				return fmt.Errorf("base snapshot: %w", err)
			}
			rec.Base, rec.BaseRevision, rec.From = path.Base(loc), sc.Revision, sc.Revision+1
			f.Log.Info("base snapshot", "file", loc, "revision", sc.Revision)
			if f.NewBase != nil {
				f.NewBase(sc)
			}
			if lost != nil && f.Gap != nil && sc.Revision > lost.Next {
				f.Gap(Gap{From: lost.Next, To: sc.Revision - 1}, lost.Reason)
			}
		}
		err = rec.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.As(err, &lost) {
			return err
		}
		f.Log.Warn("the chain ended; taking a new base", "next", lost.Next, "reason", lost.Reason)
		fresh = true
	}
	return nil
}

// newest is the cluster's newest chain whose base is in the store.
func newest(ctx context.Context, store snapshot.Store, clusterID string) (*Chain, error) {
	chains, err := Chains(ctx, store, clusterID)
	if err != nil {
		return nil, err
	}
	for i := len(chains) - 1; i >= 0; i-- {
		if chains[i].Base != nil && len(chains[i].Holes) == 0 {
			return chains[i], nil
		}
	}
	return nil, nil
}
