package agent

import (
	"context"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// continuous records the cluster while this agent leads its agents (one
// recorder per cluster; another agent taking the lead resumes the chain
// from the store), until stop ends; its last segment is flushed first.
func (r *run) continuous(stop context.Context, c *Continuous) {
	m := r.a.m
	const source = "continuous"
	for stop.Err() == nil {
		if !r.leads() {
			poll.Sleep(stop, time.Second)
			continue
		}
		ctx, cancel := context.WithCancel(stop)
		go func() { // stop recording when the lead is lost
			for ctx.Err() == nil && r.leads() {
				poll.Sleep(ctx, time.Second)
			}
			cancel()
		}()
		store, err := r.a.Stores.Open(ctx, c.Store, true)
		if err != nil {
			r.setHealth(source, "continuous backup: store "+c.Store+": "+err.Error())
			r.log.Error("continuous backup: store {store}: {error}", "store", c.Store, "error", err)
			cancel()
			poll.Sleep(stop, 5*time.Second)
			continue
		}
		enc := snapshot.Encoding{Compress: c.Compress == "zstd", Recipients: c.Encrypt}
		f := &pitr.Follow{Session: r.sess, Store: store, Location: withSlash(c.Store), FullEvery: c.FullEvery, Log: r.log,
			Save: snapshot.SaveOptions{Version: r.a.Version, Encoding: enc, Stores: r.a.Stores},
			Recorder: pitr.Recorder{Flush: c.Flush, MaxBytes: int(c.segmentSize), Encoding: enc, Log: r.log,
				Stored: func(h *pitr.Header, n int) {
					m.pitrStored.with(r.name).Set(float64(h.Last))
					m.pitrSegments.with(r.name).Inc()
					m.pitrSegmentBytes.with(r.name).Add(float64(n))
					r.setHealth(source, "")
				},
				Covered: func(rev int64, at time.Time) { m.pitrCovered.with(r.name).Set(unix(at)) },
				StoreError: func(err error) {
					m.pitrErrors.with(r.name).Inc()
					r.setHealth(source, "continuous backup: a segment was not stored: "+err.Error())
				},
			},
			NewBase: func(sc *snapshot.Sidecar) {
				m.pitrBases.with(r.name).Inc()
				r.pruneContinuous(ctx, store, c)
			},
			Gap: func(g pitr.Gap, why string) {
				m.pitrGaps.with(r.name).Inc()
				m.pitrGapRevisions.with(r.name).Add(float64(g.To - g.From + 1))
				r.log.Error("continuous backup: revisions {from} to {to} were not recorded: {reason}", "from", g.From, "to", g.To, "reason", why)
			},
		}
		if c.spool > 0 && r.a.StateDir != "" {
			f.Recorder.Spool = &pitr.Spool{Dir: pitr.SpoolDir(r.a.StateDir, c.Store), Max: c.spool}
			f.Recorder.Held = func(n int, bytes int64) {
				m.pitrSpoolSegments.with(r.name).Set(float64(n))
				m.pitrSpoolBytes.with(r.name).Set(float64(bytes))
			}
		}
		r.log.Info("continuous backup into {store}", "store", c.Store)
		if err := f.Run(ctx); err != nil {
			r.setHealth(source, "continuous backup: "+err.Error())
			r.log.Error("continuous backup: {error}", "error", err)
			poll.Sleep(ctx, 5*time.Second)
		}
		cancel()
		// Another agent records now, or the agent stops: this one's RPO
		// series would only grow stale.
		m.pitrCovered.reset(r.name)
		m.pitrStored.reset(r.name)
	}
}

// pruneContinuous applies the job's retention after a new base.
func (r *run) pruneContinuous(ctx context.Context, store snapshot.Store, c *Continuous) {
	p := snapshot.Policy{KeepLast: c.Keep.Last, KeepHourly: c.Keep.Hourly, KeepDaily: c.Keep.Daily}
	if p == (snapshot.Policy{}) {
		return
	}
	if _, err := snapshot.Prune(ctx, store, p, false); err != nil {
		r.log.Error("continuous backup: prune: {error}", "error", err)
	}
}

func withSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}
