package snapshot

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Comparison is what a running cluster says about a snapshot's revision.
type Comparison struct {
	Member   string `json:"member"`
	Revision int64  `json:"revision"`
	KeyCount int64  `json:"keyCount"`
	HashKV   uint32 `json:"hashKV"`
}

// CompareCluster checks every member of a running cluster against the
// snapshot: it holds the snapshot's revision, the same number of keys at
// that revision, and the same HashKV there. A cluster restored with a
// revision bump is at or past the snapshot's revision plus the bump, with
// everything before it compacted: it holds the snapshot's number of keys
// at its latest revision.
func CompareCluster(ctx context.Context, p *conn.Pool, info *Info, bump uint64) ([]Comparison, error) {
	list, err := status.MemberList(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []Comparison
	var problems []string
	for _, m := range list.Members {
		if len(m.ClientURLs) == 0 {
			continue
		}
		ep := m.ClientURLs[0]
		c, err := compareMember(ctx, p, ep, info, int64(bump))
		c.Member = m.Name
		out = append(out, c)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", m.Name, err))
		}
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("the running cluster does not match the snapshot: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

func compareMember(ctx context.Context, p *conn.Pool, ep string, info *Info, bump int64) (Comparison, error) {
	var c Comparison
	cli, err := p.Client(ctx, ep)
	if err != nil {
		return c, err
	}
	cctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	st, err := cli.Status(cctx, ep)
	if err != nil {
		return c, err
	}
	c.Revision = st.Header.Revision
	if c.Revision < info.BumpedRevision(bump) {
		if bump > 0 {
			return c, fmt.Errorf("revision %d is behind the snapshot's %d plus the bump of %d", c.Revision, info.Revision, bump)
		}
		return c, fmt.Errorf("revision %d is behind the snapshot's %d", c.Revision, info.Revision)
	}
	if bump > 0 {
		resp, err := cli.Get(cctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithSerializable())
		if err != nil {
			return c, err
		}
		if c.KeyCount = resp.Count; c.KeyCount != info.KeyCount {
			return c, fmt.Errorf("%d keys at revision %d, the snapshot has %d", c.KeyCount, resp.Header.Revision, info.KeyCount)
		}
		return c, nil
	}
	// Read from this member only: a serializable read at the revision.
	resp, err := cli.Get(cctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithRev(info.Revision), clientv3.WithSerializable())
	if err != nil {
		return c, err
	}
	c.KeyCount = resp.Count
	hctx, hcancel := p.WithScanTimeout(ctx, info.Size)
	defer hcancel()
	hk, err := cli.HashKV(hctx, ep, info.Revision)
	if err != nil {
		return c, err
	}
	c.HashKV = hk.Hash
	switch {
	case c.KeyCount != info.KeyCount:
		return c, fmt.Errorf("%d keys at revision %d, the snapshot has %d", c.KeyCount, info.Revision, info.KeyCount)
	case hk.CompactRevision == info.CompactRevision && c.HashKV != info.HashKV:
		return c, fmt.Errorf("HashKV at revision %d is %d, the snapshot's is %d", info.Revision, c.HashKV, info.HashKV)
	}
	return c, nil
}
