package pitr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Recorder watches the whole key space from a revision and writes what it
// sees to the store as segments, one chain after one base snapshot.
type Recorder struct {
	Client  *clientv3.Client
	Objects snapshot.Objects
	// Encoding compresses and encrypts the segments as the snapshots are.
	Encoding snapshot.Encoding
	// Cluster is the cluster ID (hex); a watch answered by another
	// cluster ends the chain.
	Cluster      string
	Base         string
	BaseRevision int64
	// From is the first revision to record: BaseRevision+1, or the one
	// after the chain's last segment when resuming.
	From int64
	// Flush is how often what was seen is written (default 1 s);
	// MaxBytes cuts a segment early (default 8 MiB).
	Flush    time.Duration
	MaxBytes int
	// Spool keeps segments on disk while the store refuses them (nil:
	// only MaxBuffer in memory).
	Spool *Spool
	// MaxBuffer bounds what is held in memory while neither the store
	// nor the spool takes writes (default 64 MiB): beyond it the chain
	// ends.
	MaxBuffer int
	Log       *slog.Logger
	// Stored hears of each segment written.
	Stored func(h *Header, bytes int)
	// Covered hears that every revision up to rev is in the store, as
	// known at that time (a progress notification, or a write).
	Covered func(rev int64, at time.Time)
	// StoreError hears of a write the store refused.
	StoreError func(err error)
	// Held hears what the spool holds after each write.
	Held func(segments int, bytes int64)
}

// ChainEnded is why a chain cannot go on: the revisions from Next on are
// compacted away, the cluster changed, or the store refused too long.
// What was seen before Next is stored; a new base starts a new chain.
type ChainEnded struct {
	Next   int64
	Reason string
}

func (e *ChainEnded) Error() string {
	return fmt.Sprintf("chain ends before revision %d: %s", e.Next, e.Reason)
}

// recording is one Run's state.
type recording struct {
	*Recorder
	buf      []Revision
	size     int
	stored   int64 // last revision in the store
	leases   map[int64]bool
	newLease map[string]int64
}

// Run records until ctx ends (what was seen is flushed first) or the
// chain ends (*ChainEnded).
func (r *Recorder) Run(ctx context.Context) error {
	if r.Flush <= 0 {
		r.Flush = time.Second
	}
	if r.MaxBytes <= 0 {
		r.MaxBytes = 8 << 20
	}
	if r.MaxBuffer <= 0 {
		r.MaxBuffer = 64 << 20
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	rec := &recording{Recorder: r, stored: r.From - 1, leases: map[int64]bool{}, newLease: map[string]int64{}}
	err := rec.watch(ctx)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := rec.flush(fctx); ferr != nil && len(rec.buf) > 0 {
		return &ChainEnded{Next: rec.stored + 1, Reason: fmt.Sprintf("%v; and %d revisions seen could not be stored: %v", err, len(rec.buf), ferr)}
	}
	if len(rec.buf) > 0 {
		// The store refused the last flush: what it holds is not kept,
		// and the chain's next run records it again from etcd.
		rec.Log.Warn("revisions seen were not stored; the chain resumes before them", "revisions", len(rec.buf), "from", rec.stored+1)
	}
	return err
}

func (rec *recording) next() int64 {
	if n := len(rec.buf); n > 0 {
		return rec.buf[n-1].Rev + 1
	}
	return rec.stored + 1
}

func (rec *recording) watch(ctx context.Context) error {
	tick := time.NewTicker(rec.Flush)
	defer tick.Stop()
	for {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := rec.Client.Watch(wctx, "", clientv3.WithPrefix(), clientv3.WithRev(rec.next()), clientv3.WithProgressNotify())
		err := rec.follow(ctx, wctx, wch, tick.C)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ended *ChainEnded
		if errors.As(err, &ended) {
			return err
		}
		rec.Log.Warn("watch interrupted; resuming", "from", rec.next(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// follow reads one watch until it breaks.
func (rec *recording) follow(ctx, wctx context.Context, wch clientv3.WatchChan, tick <-chan time.Time) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if err := rec.flush(ctx); err != nil {
				return err
			}
			rec.Client.RequestProgress(wctx)
		case resp, ok := <-wch:
			if !ok {
				return errors.New("watch channel closed")
			}
			if resp.CompactRevision != 0 {
				return &ChainEnded{Next: rec.next(), Reason: fmt.Sprintf("the cluster compacted its history up to revision %d before it was recorded", resp.CompactRevision)}
			}
			if err := resp.Err(); err != nil {
				return err
			}
			if id := strconv.FormatUint(resp.Header.ClusterId, 16); id != rec.Cluster {
				return &ChainEnded{Next: rec.next(), Reason: fmt.Sprintf("the endpoints now answer for cluster %s, not %s", id, rec.Cluster)}
			}
			if err := rec.take(ctx, resp.Events); err != nil {
				return err
			}
			if len(resp.Events) == 0 && rec.allStored() && resp.Header.Revision >= rec.stored && rec.Covered != nil {
				rec.Covered(resp.Header.Revision, time.Now())
			}
			if rec.size >= rec.MaxBytes {
				if err := rec.flush(ctx); err != nil {
					return err
				}
			}
		}
	}
}

// take adds a watch response's events: a response holds whole
// revisions (etcd never splits one across responses).
func (rec *recording) take(ctx context.Context, events []*clientv3.Event) error {
	now := time.Now().UTC()
	open := int64(-1) // the revision this response is filling
	for _, ev := range events {
		rev := ev.Kv.ModRevision
		if rev != open {
			if rev < rec.next() {
				continue // seen before a re-watch
			}
			if rev != rec.next() {
				return &ChainEnded{Next: rec.next(), Reason: fmt.Sprintf("the watch jumped from revision %d to %d", rec.next()-1, rev)}
			}
			rec.buf = append(rec.buf, Revision{Rev: rev, Seen: now})
			open = rev
		}
		last := &rec.buf[len(rec.buf)-1]
		e := (*mvccpb.Event)(ev)
		last.Events = append(last.Events, e)
		rec.size += e.Size()
		if l := ev.Kv.Lease; l != 0 && !rec.leases[l] {
			rec.leases[l] = true
			rec.newLease[strconv.FormatInt(l, 16)] = rec.ttl(ctx, l)
		}
	}
	return nil
}

// ttl asks the cluster for a lease's granted TTL (0 when it is gone).
func (rec *recording) ttl(ctx context.Context, id int64) int64 {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := rec.Client.TimeToLive(cctx, clientv3.LeaseID(id))
	if err != nil || resp.TTL < 0 {
		return 0
	}
	return resp.GrantedTTL
}

// allStored says whether the store holds every revision seen.
func (rec *recording) allStored() bool {
	if len(rec.buf) > 0 {
		return false
	}
	if rec.Spool != nil {
		n, _ := rec.Spool.Held()
		return n == 0
	}
	return true
}

// flush writes what is held as segments of at most MaxBytes; what the
// store refuses goes to the spool, or stays held, up to MaxBuffer.
func (rec *recording) flush(ctx context.Context) error {
	if len(rec.buf) == 0 && !rec.allStored() {
		sent, err := rec.Spool.Send(ctx, rec.Objects)
		rec.sent(sent)
		if err != nil {
			if !errors.Is(err, errResting) {
				rec.refused(err)
			}
		} else if rec.Covered != nil {
			rec.Covered(rec.stored, time.Now())
		}
	}
	for len(rec.buf) > 0 {
		n, size := 0, 0
		for n < len(rec.buf) && (n == 0 || size < rec.MaxBytes) {
			for _, e := range rec.buf[n].Events {
				size += e.Size()
			}
			n++
		}
		if err := rec.write(ctx, rec.buf[:n]); err != nil {
			rec.refused(err)
			rec.Log.Warn("segment not stored; holding it in memory", "revisions", len(rec.buf), "bytes", rec.size, "err", err)
			if rec.size > rec.MaxBuffer {
				return &ChainEnded{Next: rec.stored + 1, Reason: fmt.Sprintf("the store refused writes while %d bytes were held (the bound): %v", rec.size, err)}
			}
			return nil
		}
		rec.buf, rec.size = rec.buf[n:], rec.size-size
		if len(rec.buf) == 0 {
			rec.buf = nil
		}
	}
	return nil
}

func (rec *recording) write(ctx context.Context, revs []Revision) error {
	h := Header{Cluster: rec.Cluster, Base: rec.Base, BaseRevision: rec.BaseRevision,
		First: rec.stored + 1, Last: revs[len(revs)-1].Rev, FirstSeen: revs[0].Seen, LastSeen: revs[len(revs)-1].Seen,
		Created: time.Now().UTC()}
	if len(rec.newLease) > 0 {
		h.Leases = rec.newLease
	}
	raw, err := Encode(h, revs)
	if err != nil {
		return err
	}
	data, err := snapshot.EncodeBytes(raw, rec.Encoding)
	if err != nil {
		return err
	}
	name := h.Name() + rec.Encoding.Suffix()
	var refused error // the store's answer to a segment kept in the spool
	if rec.Spool != nil {
		var sent []Sent
		sent, refused, err = rec.Spool.Put(ctx, rec.Objects, name, data)
		rec.sent(sent)
	} else {
		err = put(ctx, rec.Objects, name, data)
	}
	if err != nil {
		return err
	}
	rec.stored, rec.newLease = h.Last, map[string]int64{}
	if refused != nil {
		if !errors.Is(refused, errResting) {
			rec.refused(refused)
		}
		n, bytes := rec.Spool.Held()
		rec.Log.Warn("segment kept in the spool", "first", h.First, "last", h.Last, "spooled", n, "bytes", bytes, "store", refused)
		return nil
	}
	if rec.Stored != nil {
		rec.Stored(&h, len(data))
	}
	if rec.Covered != nil {
		rec.Covered(h.Last, time.Now())
	}
	return nil
}

// sent reports segments the spool sent on.
func (rec *recording) sent(sent []Sent) {
	for _, s := range sent {
		if c, base, first, last, ok := snapshot.ParseSegmentName(s.Name); ok && rec.Stored != nil {
			rec.Stored(&Header{Cluster: c, BaseRevision: base, First: first, Last: last}, int(s.Bytes))
		}
	}
	if rec.Spool != nil && rec.Held != nil {
		rec.Held(rec.Spool.Held())
	}
}

// refused reports a write the store refused.
func (rec *recording) refused(err error) {
	if rec.StoreError != nil {
		rec.StoreError(err)
	}
}
