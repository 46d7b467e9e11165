package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
)

// ScaleTarget is one target of the scale benchmark judged on its rows.
type ScaleTarget struct {
	Size int64  `json:"size"`
	What string `json:"what"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// The rows the targets read.
const (
	rowPlan    = "etcdpilot upgrade plan (sandbox: pages)"
	rowStream  = "etcdpilot upgrade plan (--endpoints: streams)"
	rowApply   = "etcdpilot upgrade apply"
	rowStatus  = "etcdctl endpoint status --cluster"
	rowHashKV  = "etcdctl endpoint hashkv --cluster"
	rowSave    = "etcdctl snapshot save (one member)"
	maxRSS     = 150 << 20
	maxScratch = 64 << 20
)

// Targets judges each size above the smallest: upgrade plan within 2x its
// time at the smallest size and within 2 s of etcdctl endpoint status
// plus hashkv; members sending under 1% of the database and scratch under
// 64 MiB for a plan, through the sandbox (pages) and through --endpoints
// (streams); apply's pre-upgrade snapshot, and its whole
// size-dependent work (its time less its time at the smallest size, where
// the restarts, gates and hand-off cost the same; the gates' HashKV of
// the restarted member is in it), within 1.2x of etcdctl snapshot save of
// one member; every etcdpilot command under 150 MiB of RSS.
func (r *ScaleResult) Targets() []ScaleTarget {
	var sizes []int64
	seen := map[int64]bool{}
	for _, x := range r.Rows {
		if !seen[x.Size] {
			seen[x.Size] = true
			sizes = append(sizes, x.Size)
		}
	}
	if len(sizes) == 0 {
		return nil
	}
	small := sizes[0]
	for _, s := range sizes {
		small = min(small, s)
	}
	find := func(size int64, cmd string) (ScaleRow, bool) {
		for _, x := range r.Rows {
			if x.Size == size && x.Command == cmd && x.Note == "" {
				return x, true
			}
		}
		return ScaleRow{}, false
	}
	sec := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	var out []ScaleTarget
	for _, s := range sizes {
		if s == small {
			continue
		}
		plan, okP := find(s, rowPlan)
		plan0, okP0 := find(small, rowPlan)
		if okP && okP0 && plan0.Wall > 0 {
			ratio := float64(plan.Wall) / float64(plan0.Wall)
			out = append(out, ScaleTarget{s, fmt.Sprintf("upgrade plan within 2x its time at %s", progress.Bytes(small)),
				fmt.Sprintf("%s against %s (%.1fx)", sec(plan.Wall), sec(plan0.Wall), ratio), ratio <= 2})
		}
		st, okS := find(s, rowStatus)
		hk, okH := find(s, rowHashKV)
		if okP && okS && okH {
			budget := st.Wall + hk.Wall + 2*time.Second
			out = append(out, ScaleTarget{s, "upgrade plan within 2 s of etcdctl endpoint status + hashkv --cluster",
				fmt.Sprintf("%s against %s", sec(plan.Wall), sec(budget)), plan.Wall <= budget})
		}
		for _, how := range []struct{ row, label string }{{rowPlan, ""}, {rowStream, " through --endpoints"}} {
			p, ok := find(s, how.row)
			if !ok {
				continue
			}
			out = append(out, ScaleTarget{s, "members send under 1% of the database for a plan" + how.label,
				fmt.Sprintf("%s of %s", progress.Bytes(p.Sent), progress.Bytes(p.DBSize)), p.Sent*100 < p.DBSize})
			out = append(out, ScaleTarget{s, "plan scratch under 64 MiB" + how.label, progress.Bytes(p.PeakTmp), p.PeakTmp < maxScratch})
		}
		save, okV := find(s, rowSave)
		if snap, ok := find(s, "  snapshot"); ok && okV {
			budget := save.Wall * 6 / 5
			out = append(out, ScaleTarget{s, "upgrade apply's pre-upgrade snapshot within 1.2x etcdctl snapshot save",
				fmt.Sprintf("%s against %s", sec(snap.Wall), sec(budget)), snap.Wall <= budget})
		}
		apply, okA := find(s, rowApply)
		apply0, okA0 := find(small, rowApply)
		if okA && okA0 && okV {
			work := apply.Wall - apply0.Wall
			budget := save.Wall * 6 / 5
			out = append(out, ScaleTarget{s, fmt.Sprintf("upgrade apply's size-dependent work (less its time at %s) within 1.2x etcdctl snapshot save", progress.Bytes(small)),
				fmt.Sprintf("%s against %s", sec(work), sec(budget)), work <= budget})
		}
		var peak int64
		for _, x := range r.Rows {
			if x.Size == s && strings.HasPrefix(x.Command, "etcdpilot ") {
				peak = max(peak, x.MaxRSS)
			}
		}
		out = append(out, ScaleTarget{s, "every etcdpilot command under 150 MiB of RSS", progress.Bytes(peak), peak < maxRSS})
	}
	return out
}

// printTargets writes the targets under the table.
func printTargets(w io.Writer, ts []ScaleTarget) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range ts {
		verdict := "met"
		if !t.Met {
			verdict = "NOT MET"
		}
		fmt.Fprintf(w, "  %-8s %s: %s: %s\n", progress.Bytes(t.Size), t.What, t.Got, verdict)
	}
}
