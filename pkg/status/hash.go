package status

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
)

// Hash results.
const (
	HashAgree    = "agree"
	HashMismatch = "mismatch"
	HashUnknown  = "unknown"
)

// CompareHashes compares HashKV of the reachable members at one revision:
// the last compaction's, where every member answers it from the hash etcd
// kept while compacting (3.5.5 and later: no scan, what etcd's own
// compaction hash check compares), else the head, as CompareHashesCached
// does. A look at the cluster (status, plan, the agent) compares this way;
// a change's gates compare at the head, since a member they check must
// hash its data as it is now.
func CompareHashes(ctx context.Context, p *conn.Pool, members []Member) Hash {
	if idx, head := reachable(members); len(idx) >= 2 {
		if h, ok := atCompaction(ctx, p, members, idx, head); ok {
			return h
		}
	}
	return CompareHashesCached(ctx, p, members, nil, "")
}

// reachable is the indexes of the reachable members and their lowest
// current revision, which every one of them has.
func reachable(members []Member) (idx []int, rev int64) {
	for i, m := range members {
		if !m.Reachable {
			continue
		}
		idx = append(idx, i)
		if rev == 0 || m.Revision < rev {
			rev = m.Revision
		}
	}
	return idx, rev
}

// HashCache keeps the members' hashes at one revision between the gates
// of one change: a member's HashKV at a revision is a function of its data
// up to that revision and of its compact revision, so while the cluster
// stays at that revision only the member a step touched needs hashing
// again. A change's own cache, never a long-lived one.
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

// drop forgets a member whose hashing failed, so that no older answer of
// it is taken for the one that failed.
func (c *HashCache) drop(id string) {
	if c != nil {
		c.mu.Lock()
		delete(c.got, id)
		c.mu.Unlock()
	}
}

func (c *HashCache) clear() {
	if c != nil {
		c.mu.Lock()
		c.got = nil
		c.mu.Unlock()
	}
}

// CompareHashesCached compares HashKV of the reachable members at the
// head: the lowest current revision among them, so every member has it,
// each member scanning its database. The hashes are comparable only when
// every member reports the same compact revision (a compaction applied on
// some members but not yet on others changes the hash), so a differing
// compact revision is retried and then reported as unknown, never as a
// mismatch. It takes the hashes of members other than fresh from cache
// (nil: none) when the cluster is still at the cached revision; when
// compact revisions then differ (a compaction since), the cache is dropped
// and every member hashed again.
func CompareHashesCached(ctx context.Context, p *conn.Pool, members []Member, cache *HashCache, fresh string) Hash {
	var h Hash
	for attempt := 0; attempt < 3; attempt++ {
		// At a head that is the last compaction's revision (an idle
		// cluster compacted at its head), a member answers HashKV of that
		// revision with the hash it kept while compacting, unless it
		// started since and hashes its data: the two differ by design.
		// HashKV of revision 0, the head, is always hashed.
		head := compactedHead(ctx, p, members)
		var cached, kept bool
		h, cached, kept = compareOnce(ctx, p, members, cache, fresh, head)
		if cached && h.Result != HashAgree && !kept {
			cache.clear()
			h, _, kept = compareOnce(ctx, p, members, cache, fresh, head)
		}
		if kept {
			// Found only now (the compaction came after the look): the
			// members that hashed their data at this revision, the fresh
			// one among them, are not asked again.
			h, _, _ = compareOnce(ctx, p, members, cache, "", true)
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

// compareOnce hashes the members at their lowest current revision, or
// with head, asks each for revision 0 (its head, which etcd always
// hashes) and takes the answer only when the member is still at that
// revision; with head, only answers hashed at that revision (compact
// revision equal to it) are taken from cache.
// kept: the revision is a compaction's, and some members
// answered it with the hash etcd kept while compacting, others not.
func compareOnce(ctx context.Context, p *conn.Pool, members []Member, cache *HashCache, fresh string, head bool) (h Hash, cached, kept bool) {
	idx, rev := reachable(members)
	if len(idx) < 2 {
		return Hash{Result: HashUnknown, Detail: "fewer than two reachable members"}, false, false
	}
	out := make([]hashResult, len(idx))
	var misses []int // positions in idx not taken from cache
	for k, i := range idx {
		if r, ok := cache.lookup(members[i].ID, rev); ok && members[i].Name != fresh && (!head || r.compact == rev) {
			out[k], cached = r, true
			continue
		}
		misses = append(misses, k)
	}
	inParallel(len(misses), func(j int) {
		k := misses[j]
		m := &members[idx[k]]
		cctx, cancel := p.WithScanTimeout(ctx, m.DBSize)
		defer cancel()
		var r *clientv3.HashKVResponse
		c, err := p.Client(ctx, m.Endpoint)
		if err == nil && head {
			var still bool
			if r, still, err = HeadHash(cctx, c, m.Endpoint, rev); err == nil && !still {
				err = fmt.Errorf("its head moved from revision %d to %d while it was hashed", rev, r.Header.Revision)
			}
		} else if err == nil {
			r, err = c.HashKV(cctx, m.Endpoint, rev)
		}
		if err != nil {
			out[k].err = err
			cache.drop(m.ID)
			return
		}
		out[k] = hashResult{hash: r.Hash, compact: r.CompactRevision}
		cache.store(m.ID, rev, out[k])
	})
	compacts := map[int64]bool{}
	for _, r := range out {
		if r.err == nil {
			compacts[r.compact] = true
		}
	}
	return judge(members, idx, out, rev), cached, compacts[rev] && len(compacts) > 1
}

// HeadHash is the member's HashKV of its head: revision 0, which etcd
// always hashes, never answering it with the hash it kept while
// compacting (as it answers the revision of its last compaction). still
// says whether the head was rev, the revision the caller compares at.
func HeadHash(ctx context.Context, c *clientv3.Client, ep string, rev int64) (r *clientv3.HashKVResponse, still bool, err error) {
	if r, err = c.HashKV(ctx, ep, 0); err != nil {
		return nil, false, err
	}
	return r, r.Header.Revision == rev, nil
}

// inParallel runs fn(0) … fn(n-1) at once and waits for them all.
func inParallel(n int, fn func(int)) {
	var wg sync.WaitGroup
	for j := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(j)
		}()
	}
	wg.Wait()
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
