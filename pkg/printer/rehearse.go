package printer

import (
	"fmt"
	"io"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/rehearse"
)

func rehearsalView(r *rehearse.Result) *view {
	return &view{layout: func(w io.Writer) error {
		verdict := "PASSED"
		if !r.Passed {
			verdict = "FAILED: " + r.Error
		}
		fmt.Fprintf(w, "Rehearsal of the upgrade to %s on a shadow of cluster %s (%d members, made from %s): %s\n", r.Target, r.ClusterID, len(r.Versions), r.Seed, verdict)
		fmt.Fprintf(w, "The cluster itself was only read; the shadow was removed. Took %s.\n\n", r.Took.Round(time.Millisecond))
		if r.Report == nil {
			return nil
		}
		return reportTable(w, r.Report)
	}}
}
