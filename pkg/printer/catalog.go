package printer

import (
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func catalogView(cat *catalog.Catalog) *view {
	vw := &view{cols: []string{"MINOR", "RELEASED", "EOL", "LATEST", "UPGRADE FROM", "RELEASES"}}
	for _, m := range cat.Minors {
		from := "-"
		if h, ok := cat.HopInto(m.Minor); ok {
			from = h.From + " >= " + h.Minimum
		}
		n := 0
		for _, r := range cat.Releases {
			if version.Minor(r.Version) == m.Minor {
				n++
			}
		}
		vw.rows = append(vw.rows, []string{m.Minor, m.Released, dash(m.EOL), m.Latest, from, fmt.Sprint(n)})
	}
	return vw
}

func releaseView(info *catalog.ReleaseInfo) *view {
	v, mi := info.Version, info.Minor
	vw := lines(fmt.Sprintf("etcd %s, released %s; minor %s (latest %s, end of life %s)", v, dash(info.Date), mi.Minor, mi.Latest, dash(mi.EOL)))
	if h := info.NextHop; h != nil {
		met := "met"
		if version.Compare(v, h.Minimum) < 0 {
			met = "NOT met: upgrade to " + mi.Latest + " first"
		}
		vw.head = append(vw.head, fmt.Sprintf("upgrading to %s needs every member on %s or later (%s)", h.To, h.Minimum, met))
	}
	vw.head = append(vw.head, fmt.Sprintf("known issues affecting it: %d", len(info.Issues)))
	for _, is := range info.Issues {
		vw.head = append(vw.head, fmt.Sprintf("  %s [%s] %s (fixed in %s) %s", is.ID, is.Severity, is.Title, dash(catalog.FixedIn(is.Affected, v)), is.Link))
	}
	vw.head = append(vw.head, fmt.Sprintf("CVEs affecting it: %d", len(info.CVEs)))
	for _, c := range info.CVEs {
		vw.head = append(vw.head, fmt.Sprintf("  %s [%s, %s] %s (fixed in %s) %s", c.ID, c.Severity, c.Component, c.Title, dash(catalog.FixedIn(c.Affected, v)), c.Link))
	}
	return vw
}
