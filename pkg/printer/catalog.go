package printer

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func catalogView(cat *catalog.Catalog) *view {
	vw := &view{cols: []string{"MINOR", "RELEASED", "EOL", "LATEST", "UPGRADE FROM", "RELEASES"}}
	vw.head = append(vw.head, "catalog: "+cat.Fresh.Describe(time.Now()))
	if cat.Fresh.Warning != "" {
		vw.head = append(vw.head, "WARNING: "+cat.Fresh.Warning)
	}
	for _, o := range cat.Outdated {
		vw.head = append(vw.head, fmt.Sprintf("WARNING: %s (%s) is not the newest %s patch: %s is", o.Version, o.Where, version.Minor(o.Version), o.Latest))
	}
	for _, m := range cat.Minors {
		from := "-"
		if h, ok := cat.HopInto(m.Minor); ok {
			from = h.From + " >= " + h.Minimum
		} else if m.Unknown {
			from = "no rules"
		}
		n := 0
		for _, r := range cat.Releases {
			if version.Minor(r.Version) == m.Minor {
				n++
			}
		}
		vw.rows = append(vw.rows, []string{m.Minor, dash(m.Released), dash(m.EOL), dash(m.Latest), from, fmt.Sprint(n)})
	}
	return vw
}

func releaseView(info *catalog.ReleaseInfo) *view {
	v, mi := info.Version, info.Minor
	vw := lines(fmt.Sprintf("etcd %s, released %s; minor %s (latest %s, end of life %s)", v, dash(info.Date), mi.Minor, dash(mi.Latest), dash(mi.EOL)))
	if info.NotesUnknown {
		vw.head = append(vw.head, fmt.Sprintf("its notes are unknown to this etcdpilot (published after the notes of %s): read %s", info.NotesReviewed, catalog.ChangelogLink(mi.Minor)))
	}
	if h := info.NextHop; h != nil {
		met := "met"
		if version.Compare(v, h.Minimum) < 0 {
			met = "NOT met: upgrade to " + mi.Latest + " first"
		}
		vw.head = append(vw.head, fmt.Sprintf("upgrading to %s needs every member on %s or later (%s)", h.To, h.Minimum, met))
		for _, c := range h.Checks {
			vw.head = append(vw.head, "  before it: "+c)
		}
	}
	vw.head = append(vw.head, fmt.Sprintf("known issues affecting it: %d", len(info.Issues)))
	for _, is := range info.Issues {
		vw.head = append(vw.head, fmt.Sprintf("  %s [%s] %s (fixed in %s) %s", is.ID, is.Severity, is.Title, dash(catalog.FixedIn(is.Affected, v)), is.Link))
	}
	vw.head = append(vw.head, fmt.Sprintf("CVEs affecting it: %d", len(info.CVEs)))
	for _, c := range info.CVEs {
		var when []string
		if c.AuthOnly {
			when = append(when, "auth on only")
		}
		if c.Condition != "" {
			when = append(when, "with "+c.Condition)
		}
		extra := ""
		if len(when) > 0 {
			extra = " (" + strings.Join(when, "; ") + ")"
		}
		vw.head = append(vw.head, fmt.Sprintf("  %s [%s, %s] %s%s (fixed in %s) %s", c.ID, c.Severity, strings.Join(c.Parts(), ", "), c.Title, extra, dash(catalog.FixedIn(c.Affected, v)), c.Link))
	}
	return vw
}
