package status

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
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
	return CompareHashesCached(ctx, p, members, nil, "")
}

// HashCache keeps the members' hashes at one revision between the gates
// of one change: a member's HashKV at a revision is a function of its data
// up to that revision and of its compact revision, so while the cluster
// stays at that revision only the member a step touched needs hashing
// again. A change's own cache, never a long-lived one (the agent's checks
// hash every member every time).
type HashCache struct {
	mu  sync.Mutex
	rev int64
	got map[string]hashResult // member ID
}

type hashResult struct {
	hash    uint32
	compact int64
	err     error
}

func (c *HashCache) lookup(id string, rev int64) (hashResult, bool) {
	if c == nil {
		return hashResult{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.got[id]
	return r, ok && c.rev == rev
}

// Lookup is the member's (by ID) hash and compact revision at rev, when
// the cache holds them.
func (c *HashCache) Lookup(id string, rev int64) (hash uint32, compact int64, ok bool) {
	r, ok := c.lookup(id, rev)
	return r.hash, r.compact, ok
}

func (c *HashCache) store(id string, rev int64, r hashResult) {
	if c == nil || r.err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev != rev || c.got == nil {
		c.rev, c.got = rev, map[string]hashResult{}
	}
	c.got[id] = r
}

func (c *HashCache) clear() {
	if c != nil {
		c.mu.Lock()
		c.got = nil
		c.mu.Unlock()
	}
}

// CompareHashesCached is CompareHashes that takes the hashes of members
// other than fresh from cache when the cluster is still at the cached
// revision. When compact revisions then differ (a compaction since), the
// cache is dropped and every member hashed again.
func CompareHashesCached(ctx context.Context, p *conn.Pool, members []Member, cache *HashCache, fresh string) Hash {
	var h Hash
	for attempt := 0; attempt < 3; attempt++ {
		var cached bool
		h, cached = compareOnce(ctx, p, members, cache, fresh)
		if cached && h.Result != HashAgree {
			cache.clear()
			h, _ = compareOnce(ctx, p, members, cache, fresh)
		}
		if h.Result != HashUnknown || !strings.Contains(h.Detail, "compact") {
			return h
		}
		if poll.Sleep(ctx, 300*time.Millisecond) != nil {
			return h
		}
	}
	return h
}

func compareOnce(ctx context.Context, p *conn.Pool, members []Member, cache *HashCache, fresh string) (Hash, bool) {
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
		return Hash{Result: HashUnknown, Detail: "fewer than two reachable members"}, false
	}
	out := make([]hashResult, len(idx))
	done := make(chan struct{}, len(idx))
	cached := false
	for k, i := range idx {
		if r, ok := cache.lookup(members[i].ID, rev); ok && members[i].Name != fresh {
			out[k], cached = r, true
			done <- struct{}{}
			continue
		}
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
			out[k] = hashResult{hash: r.Hash, compact: r.CompactRevision}
			cache.store(m.ID, rev, out[k])
		}(k, &members[i])
	}
	for range idx {
		<-done
	}
	return judge(members, idx, out, rev), cached
}

// judge reads the members' hashes at rev.
func judge(members []Member, idx []int, out []hashResult, rev int64) Hash {
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
