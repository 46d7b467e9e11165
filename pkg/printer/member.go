package printer

import (
	"io"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/member"
)

func init() {
	renderers["*member.List"] = func(w io.Writer, v any) error { return memberTable(w, v.(*member.List)) }
}

func memberTable(w io.Writer, l *member.List) error {
	rows := [][]string{{"ID", "NAME", "ROLE", "STATUS", "PEER URLS", "CLIENT URLS"}}
	for _, m := range l.Members {
		role, st := "voter", "started"
		if m.IsLearner {
			role = "LEARNER"
		}
		if !m.Started {
			st = "unstarted"
		}
		rows = append(rows, []string{m.ID, dash(m.Name), role, st, strings.Join(m.PeerURLs, ","), dash(strings.Join(m.ClientURLs, ","))})
	}
	return Table(w, rows)
}
