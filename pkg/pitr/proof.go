package pitr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
)

// SourceHash is a live member's HashKV at a revision: what a rebuild at
// that revision, compacted where the member is, must hash to.
type SourceHash struct {
	Member          string `json:"member"`
	Revision        int64  `json:"revision"`
	Hash            uint32 `json:"hash"`
	CompactRevision int64  `json:"compactRevision"`
}

// ErrSourceCompacted means the source no longer holds the revision: no
// proof is possible there.
var ErrSourceCompacted = errors.New("the source cluster has compacted that revision away")

// HashAt asks the cluster's members, in turn, for their HashKV at rev;
// the first to answer is the source's.
func HashAt(ctx context.Context, s *cluster.Session, rev int64) (*SourceHash, error) {
	cl, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range cl.Members {
		if m.Endpoint == "" || m.IsLearner {
			continue
		}
		c, err := s.Pool().Client(ctx, m.Endpoint)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, time.Minute)
		resp, err := c.HashKV(hctx, m.Endpoint, rev)
		cancel()
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil, fmt.Errorf("%w (revision %d, member %s)", ErrSourceCompacted, rev, m.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			continue
		}
		return &SourceHash{Member: m.Name, Revision: rev, Hash: resp.Hash, CompactRevision: resp.CompactRevision}, nil
	}
	return nil, fmt.Errorf("no member answered HashKV at %d: %w", rev, errors.Join(errs...))
}
