package status

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
)

// Hash results.
const (
	HashAgree    = "agree"
	HashMismatch = "mismatch"
	HashUnknown  = "unknown"
)

// CompareHashes compares HashKV of the reachable members at one revision R:
// R is the lowest current revision among them, so every member has it; the
// hashes are comparable only when every member reports the same compact
// revision (a compaction applied on some members but not yet on others
// changes the hash), so a differing compact revision is retried once and
// then reported as unknown, never as a mismatch.
func CompareHashes(ctx context.Context, p *conn.Pool, members []Member) Hash {
	var h Hash
	for attempt := 0; attempt < 3; attempt++ {
		h = compareOnce(ctx, p, members)
		if h.Result != HashUnknown || !strings.Contains(h.Detail, "compact") {
			return h
		}
		if poll.Sleep(ctx, 300*time.Millisecond) != nil {
			return h
		}
	}
	return h
}

func compareOnce(ctx context.Context, p *conn.Pool, members []Member) Hash {
	var idx []int
	var rev int64
	for i, m := range members {
		if !m.Reachable {
			continue
		}
		idx = append(idx, i)
		if rev == 0 || m.Revision < rev {
			rev = m.Revision
		}
	}
	if len(idx) < 2 {
		return Hash{Result: HashUnknown, Detail: "fewer than two reachable members"}
	}
	type res struct {
		hash    uint32
		compact int64
		err     error
	}
	out := make([]res, len(idx))
	done := make(chan struct{}, len(idx))
	for k, i := range idx {
		go func(k int, m *Member) {
			defer func() { done <- struct{}{} }()
			c, err := p.Client(ctx, m.Endpoint)
			if err != nil {
				out[k].err = err
				return
			}
			cctx, cancel := p.WithScanTimeout(ctx, m.DBSize)
			defer cancel()
			r, err := c.HashKV(cctx, m.Endpoint, rev)
			if err != nil {
				out[k].err = err
				return
			}
			out[k] = res{hash: r.Hash, compact: r.CompactRevision}
		}(k, &members[i])
	}
	for range idx {
		<-done
	}
	compacts := map[int64]bool{}
	hashes := map[uint32][]string{}
	for k, i := range idx {
		m := &members[i]
		if out[k].err != nil {
			if strings.Contains(out[k].err.Error(), "compacted") {
				return Hash{Result: HashUnknown, Revision: rev, Detail: fmt.Sprintf("revision %d is compacted on %s", rev, nameOr(*m))}
			}
			return Hash{Result: HashUnknown, Revision: rev, Detail: fmt.Sprintf("HashKV on %s: %s", nameOr(*m), shortError(out[k].err))}
		}
		m.Hash, m.CompactRev = out[k].hash, out[k].compact
		compacts[out[k].compact] = true
		hashes[out[k].hash] = append(hashes[out[k].hash], nameOr(*m))
	}
	if len(compacts) > 1 {
		return Hash{Result: HashUnknown, Revision: rev, Detail: "members report different compact revisions (compaction in progress)"}
	}
	if len(hashes) == 1 {
		return Hash{Result: HashAgree, Revision: rev}
	}
	var groups []string
	for hv, names := range hashes {
		sort.Strings(names)
		groups = append(groups, fmt.Sprintf("%s=%d", strings.Join(names, ","), hv))
	}
	sort.Strings(groups)
	return Hash{Result: HashMismatch, Revision: rev, Detail: fmt.Sprintf("at revision %d: %s", rev, strings.Join(groups, " "))}
}
