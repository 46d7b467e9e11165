package printer

import (
	"fmt"
	"io"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func sandboxListView(l sandbox.Listing) *view {
	vw := &view{cols: []string{"NAME", "MEMBERS", "RUNNING", "VERSIONS", "TLS", "ENDPOINTS"}}
	for _, s := range l {
		if s.Error != "" {
			vw.rows = append(vw.rows, []string{s.Name, "?", "?", "-", "-", "ERROR: " + s.Error})
			continue
		}
		vw.rows = append(vw.rows, []string{s.Name, fmt.Sprint(s.Members), fmt.Sprint(s.Running), strings.Join(s.Versions, ","), fmt.Sprint(s.TLS), strings.Join(s.Endpoints, ",")})
	}
	return vw
}

// envView: export lines for eval in a shell (table), KEY=VALUE (simple).
func envView(env sandbox.EnvVars) *view {
	vw := &view{}
	for _, kv := range env {
		vw.rows = append(vw.rows, []string{kv[0] + "=" + kv[1]})
	}
	vw.layout = func(w io.Writer) error {
		for _, kv := range env {
			fmt.Fprintf(w, "export %s=%s\n", kv[0], hostexec.Quote(kv[1]))
		}
		return nil
	}
	return vw
}
