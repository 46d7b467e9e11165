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
	// Why a figure is shown but not judged; empty for a target.
	Unjudged string `json:"unjudged,omitempty"`
}

// streamBytes is why the bytes of a plan through --endpoints are shown
// and not judged: the 1% is for a plan that reads the members'
// files (its figures are of --sandbox), and no client API reads less of a
// member's backend than its snapshot stream up to the root page.
const streamBytes = "no client API reads less than the stream up to the root page, which lies where bbolt last wrote it"

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
// the gates and hand-off cost the same; the gates' HashKV of the
// restarted member is in it), within 1.2x of etcdctl snapshot save of one
// member plus what the restarts (each until its member serves: etcd loads
// its database first) took longer than there; every etcdpilot command under 150 MiB of RSS.
func (r *ScaleResult) Targets() []ScaleTarget {
	var sizes []int64
	seen := map[int64]bool{}
	for _, x := range r.Rows {
		if !seen[x.Size] && !failed(x) { // a size skipped for the disk has no figures
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
			if x.Size == size && x.Command == cmd && !failed(x) {
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
			out = append(out, target(s, fmt.Sprintf("upgrade plan within 2x its time at %s", progress.Bytes(small)),
				fmt.Sprintf("%s against %s (%.1fx)", sec(plan.Wall), sec(plan0.Wall), ratio), ratio <= 2))
		}
		st, okS := find(s, rowStatus)
		hk, okH := find(s, rowHashKV)
		if okP && okS && okH {
			budget := st.Wall + hk.Wall + 2*time.Second
			out = append(out, target(s, "upgrade plan within 2 s of etcdctl endpoint status + hashkv --cluster",
				fmt.Sprintf("%s against %s", sec(plan.Wall), sec(budget)), plan.Wall <= budget))
		}
		for _, how := range []struct{ row, label string }{{rowPlan, ""}, {rowStream, " through --endpoints"}} {
			p, ok := find(s, how.row)
			if !ok {
				continue
			}
			sent := target(s, "members send under 1% of the database for a plan"+how.label,
				fmt.Sprintf("%s of %s", progress.Bytes(p.Sent), progress.Bytes(p.DBSize)), p.Sent*100 < p.DBSize)
			if how.row == rowStream {
				sent.Unjudged = streamBytes
			}
			out = append(out, sent)
			out = append(out, target(s, "plan scratch under 64 MiB"+how.label, progress.Bytes(p.PeakTmp), p.PeakTmp < maxScratch))
		}
		save, okV := find(s, rowSave)
		if snap, ok := find(s, "  snapshot"); ok && okV {
			budget := save.Wall * 6 / 5
			out = append(out, target(s, "upgrade apply's pre-upgrade snapshot within 1.2x etcdctl snapshot save",
				fmt.Sprintf("%s against %s", sec(snap.Wall), sec(budget)), snap.Wall <= budget))
		}
		apply, okA := find(s, rowApply)
		apply0, okA0 := find(small, rowApply)
		if okA && okA0 && okV {
			work := apply.Wall - apply0.Wall
			grown := r.restarts(s) - r.restarts(small)
			budget := save.Wall*6/5 + max(grown, 0)
			out = append(out, target(s, fmt.Sprintf("upgrade apply's size-dependent work (less its time at %s) within 1.2x etcdctl snapshot save, plus the restarts' growth", progress.Bytes(small)),
				fmt.Sprintf("%s against %s (restarts %s longer)", sec(work), sec(budget), sec(grown)), work <= budget))
		}
		var peak int64
		for _, x := range r.Rows {
			if x.Size == s && strings.HasPrefix(x.Command, "etcdpilot ") {
				peak = max(peak, x.MaxRSS)
			}
		}
		out = append(out, target(s, "every etcdpilot command under 150 MiB of RSS", progress.Bytes(peak), peak < maxRSS))
	}
	return out
}

// failed tells a row that ran to no figure (failed or skipped) from one
// that measured: a note such as "hashes at the compaction" still counts.
func failed(x ScaleRow) bool {
	return strings.HasPrefix(x.Note, "failed: ") || strings.HasPrefix(x.Note, "skipped: ")
}

// restarts is the time apply's member restarts took at size, each until
// its member served again.
func (r *ScaleResult) restarts(size int64) time.Duration {
	var d time.Duration
	for _, x := range r.Rows {
		if x.Size == size && strings.HasPrefix(x.Command, "  restart of ") {
			d += x.Wall
		}
	}
	return d
}

// target is a judged figure.
func target(size int64, what, got string, met bool) ScaleTarget {
	return ScaleTarget{Size: size, What: what, Got: got, Met: met}
}

// printTargets writes the targets under the table.
func printTargets(w io.Writer, ts []ScaleTarget) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range ts {
		verdict := "met"
		switch {
		case t.Unjudged != "":
			verdict = "shown, not judged: " + t.Unjudged
		case !t.Met:
			verdict = "NOT MET"
		}
		fmt.Fprintf(w, "  %-8s %s: %s: %s\n", progress.Bytes(t.Size), t.What, t.Got, verdict)
	}
}
