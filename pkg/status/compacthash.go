package status

import (
	"context"
	"errors"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// compactionHashSince is the first etcd that keeps the hash it computes
// while it compacts (mvcc's hashStorage: the last ten compactions) and
// answers HashKV at a compaction's revision from it, without a scan. Its
// leader's compaction hash check (--experimental-compact-hash-check-
// enabled) compares the same hashes between members.
const compactionHashSince = "3.5.5"

// atCompaction compares the members' hashes at the cluster's last
// compaction revision, which etcd answers from the hash it kept while
// compacting: no scan of the database. It reports false (compare at the
// head instead) when a member is older than 3.5.5, nothing was ever
// compacted, or the members' answers cannot be compared: a member started
// since the compaction holds no hash of it, hashes its database instead
// and reports another compact revision, or does not answer within the
// command timeout.
func atCompaction(ctx context.Context, p *conn.Pool, members []Member, idx []int, head int64) (Hash, bool) {
	for _, i := range idx {
		if members[i].ServerVersion == "" || version.Compare(members[i].ServerVersion, compactionHashSince) < 0 {
			return Hash{}, false
		}
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	c, err := p.Client(cctx, asked(members, idx).Endpoint)
	if err != nil {
		return Hash{}, false
	}
	rev, err := compactRevision(cctx, c, head)
	if err != nil || rev <= 1 {
		return Hash{}, false
	}
	out := make([]hashResult, len(idx))
	inParallel(len(idx), func(k int) {
		m := &members[idx[k]]
		c, err := p.Client(cctx, m.Endpoint)
		if err != nil {
			out[k].err = err
			return
		}
		r, err := c.HashKV(cctx, m.Endpoint, rev)
		if err != nil {
			out[k].err = err
			return
		}
		out[k] = hashResult{hash: r.Hash, compact: r.CompactRevision}
	})
	h := judge(members, idx, out, rev)
	if h.Result == HashUnknown {
		return Hash{}, false
	}
	h.Compaction = true
	h.Detail = strings.Replace(h.Detail, "at revision", "at compaction revision", 1)
	return h, true
}

// asked is the member whose view of the compaction is taken: the leader
// where it answers (a frozen follower would hold a search to the timeout).
func asked(members []Member, idx []int) Member {
	m := members[idx[0]]
	for _, i := range idx {
		if members[i].IsLeader {
			m = members[i]
		}
	}
	return m
}

// compactedHead tells whether the members' common revision is the last
// compaction's: etcd refuses the revision before it as compacted. One read.
func compactedHead(ctx context.Context, p *conn.Pool, members []Member) bool {
	idx, rev := reachable(members)
	if len(idx) < 2 || rev <= 1 {
		return false
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	c, err := p.Client(cctx, asked(members, idx).Endpoint)
	if err != nil {
		return false
	}
	ok, err := compacted(cctx, c, rev-1)
	return err == nil && ok
}

// compacted tells whether the member refuses rev as compacted: a
// serializable read of one key at that revision.
func compacted(ctx context.Context, c *clientv3.Client, rev int64) (bool, error) {
	_, err := c.Get(ctx, "\x00", clientv3.WithRev(rev), clientv3.WithSerializable(), clientv3.WithCountOnly())
	if errors.Is(err, rpctypes.ErrCompacted) {
		return true, nil
	}
	return false, err
}

// compactRevision is the member's compact revision, found by asking for a
// key at revisions at or below head (etcd refuses a revision below it as
// compacted): a serializable read of one key per step, about 30 steps for
// a billion revisions. 0 or 1: nothing was compacted.
func compactRevision(ctx context.Context, c *clientv3.Client, head int64) (int64, error) {
	lo, hi := int64(1), head // the answer lies in [lo, hi]
	if ok, err := compacted(ctx, c, lo); err != nil || !ok {
		return lo, err
	}
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		ok, err := compacted(ctx, c, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}
