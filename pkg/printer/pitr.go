package printer

import (
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/pitr"
)

func pointsView(p *pitr.Points) *view {
	vw := &view{cols: []string{"CLUSTER", "BASE", "REVISIONS", "FROM", "THROUGH", "SEGMENTS", "PROBLEMS"}}
	for _, ch := range p.Chains {
		base, from := "MISSING", "-"
		if ch.Base != nil {
			base, from = ch.Base.Name, ch.Base.Time.Format(time.RFC3339)
		}
		through := "-"
		if !ch.ThroughTime.IsZero() {
			through = ch.ThroughTime.Format(time.RFC3339Nano)
		}
		problems := ""
		for _, h := range ch.Holes {
			problems += fmt.Sprintf("hole %d..%d (%d segments after it unusable) ", h.From, h.To, len(ch.Stranded))
		}
		vw.rows = append(vw.rows, []string{ch.Cluster, base, fmt.Sprintf("%d..%d", ch.BaseRevision, ch.Through), from, through, fmt.Sprint(len(ch.Segments)), dash(problems)})
	}
	for _, g := range p.Gaps {
		vw.tail = append(vw.tail, fmt.Sprintf("GAP: revisions %d..%d were not recorded: no point in them can be restored", g.From, g.To))
	}
	return vw
}

// pointLine says what a rebuild did.
func pointLine(pt *pitr.Point) string {
	s := fmt.Sprintf("rebuilt revision %d (seen %s) from base %s and %d segments (%d revisions replayed), HashKV %d",
		pt.Revision, pt.Seen.Format(time.RFC3339Nano), pt.Base, pt.Segments, pt.Revisions, pt.Hash)
	if pt.Broken != "" {
		asked := "the time asked"
		if pt.Asked != 0 {
			asked = fmt.Sprint(pt.Asked)
		}
		s += fmt.Sprintf("; STOPPED at revision %d, before %s: %s", pt.Revision, asked, pt.Broken)
	}
	if p := pt.Proof; p != nil {
		s += "; proof: " + p.State
		if p.Source != nil && p.State == "proven" {
			s += fmt.Sprintf(" (member %s's HashKV at %d is the same)", p.Source.Member, p.Source.Revision)
		}
		if p.Reason != "" {
			s += " (" + p.Reason + ")"
		}
	}
	return s
}

func verifiedView(v *pitr.Verified) *view {
	vw := verifyView(v.Report)
	vw.head = append([]string{pointLine(v.Point)}, vw.head...)
	if !v.OK() && v.Report.OK() {
		vw.head = vw.head[:len(vw.head)-1] // not "verified"
		vw.head = append(vw.head, "NOT VERIFIED: the point is not the one asked for, or not the source's")
	}
	return vw
}

func restoredView(r *pitr.Restored) *view {
	vw := restoreView(r.Restore)
	vw.head = append([]string{pointLine(r.Point)}, vw.head...)
	return vw
}
