package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

// defragRun plans a rolling defragmentation with the job's thresholds and
// runs it when a member meets them, journaled where etcdpilot defrag
// journals (<state dir>/upgrades/<cluster-id>.json) and under the same
// cluster lock, so it never runs beside an upgrade or a defrag started by
// hand; an unfinished change in that journal fails the run until someone
// finishes it.
//
// The plan is bounded by the job's timeout; the run by one timeout per
// member chosen, plus one for the compaction and the hand-off and one
// for the checks around them.
func (r *run) defragRun(ctx context.Context, d *Defrag) {
	a, m := r.a, r.a.m
	if !r.leads() {
		return // another agent runs them
	}
	opts := defrag.Options{Session: r.sess, Catalog: a.Catalog, IfFree: d.free, IfFragmented: d.fragmented,
		Compact: d.Compact, Keep: d.CompactKeep, Leader: defrag.LeaderHandOff}
	pctx, cancel := context.WithTimeout(ctx, d.Timeout)
	p, err := defrag.MakePlan(pctx, opts)
	cancel()
	if err == nil && p.Refusal != "" {
		err = fmt.Errorf("%s", p.Refusal)
	}
	if err != nil {
		m.defragRuns.with(r.name, "failure").Inc()
		r.log.Error("defrag: {error}", "error", err)
		return
	}
	if len(p.Chosen()) == 0 {
		m.defragRuns.with(r.name, "skipped").Inc()
		r.log.Info("defrag: no member meets the thresholds; nothing to do")
		return
	}
	ctx, cancel = context.WithTimeout(ctx, time.Duration(len(p.Chosen())+2)*d.Timeout)
	defer cancel()
	rep, err := defrag.Apply(ctx, defrag.ApplyOptions{Options: opts, Timeout: d.Timeout, Log: r.log,
		JournalPath: target.ClusterJournal(a.StateDir, p.ClusterID), LockDir: a.LockDir})
	if err != nil {
		m.defragRuns.with(r.name, "failure").Inc()
		r.log.Error("defrag failed: {error}", "error", err)
		return
	}
	m.defragRuns.with(r.name, "success").Inc()
	m.defragMembers.with(r.name).Add(float64(len(rep.Plan.Chosen())))
	var before, after int64
	for _, m := range rep.Before {
		before += m.DBSize
	}
	for _, m := range rep.After {
		after += m.DBSize
	}
	r.log.Info("defrag: {members} members in {took}, databases {before} → {after} in all", "members", len(rep.Plan.Chosen()), "took", rep.Took.Round(1e6), "before", defrag.Bytes(before), "after", defrag.Bytes(after))
}
