package printer

import (
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/walcheck"
)

func walView(r *walcheck.Result) *view {
	verdict := "no v2 entries: safe to replay on etcd 3.7"
	if r.V2 > 0 {
		verdict = fmt.Sprintf("%d v2 entries (indexes %d to %d): etcd 3.7 cannot replay them; take a raft snapshot on 3.6 first (restart once with --snapshot-count=1)", r.V2, r.FirstV2, r.LastV2)
	}
	return lines(fmt.Sprintf("newest raft snapshot at index %d; %d entries after it, up to index %d; %s", r.SnapshotIndex, r.Entries, r.LastIndex, verdict))
}
