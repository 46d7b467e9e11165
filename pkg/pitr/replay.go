package pitr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/pkg/v3/traceutil"
	"go.etcd.io/etcd/server/v3/lease"
	"go.etcd.io/etcd/server/v3/storage/backend"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.uber.org/zap"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// UnknownLeaseTTL is the TTL a restore gives a lease whose TTL the
// recorder could not learn (it was revoked or expired as it was seen):
// short, as the lease was.
const UnknownLeaseTTL = 10

// Rebuild writes the snapshot of a chain at one revision.
type Rebuild struct {
	Store    snapshot.Store
	Identity string
	Chain    *Chain
	// Revision is the revision to rebuild (0: the chain's newest); when
	// Time is set instead, the newest revision seen at or before it.
	Revision int64
	Time     time.Time
	// CompactTo compacts the result at that revision (the source's
	// compaction, for its HashKV to be comparable); 0 keeps the base's.
	CompactTo int64
	// Strict refuses a chain with a broken segment before the revision
	// asked; otherwise the result stops at the last good revision.
	Strict bool
	// Out is the snapshot file to write (never replaced), 0600, with
	// etcd's SHA-256 trailer.
	Out string
	Log *slog.Logger
}

// Result is what a rebuild produced.
type Result struct {
	File     string `json:"file"`
	Base     string `json:"base"`
	Asked    int64  `json:"asked"`
	Revision int64  `json:"revision"`
	// Seen is when the recorder saw Revision.
	Seen      time.Time `json:"seen"`
	Segments  int       `json:"segments"`
	Revisions int       `json:"revisions"`
	Events    int       `json:"events"`
	// Broken names the segment the replay stopped at, and why.
	Broken          string `json:"broken,omitempty"`
	Hash            uint32 `json:"hash"`
	CompactRevision int64  `json:"compactRevision"`
	SHA256          string `json:"sha256"`
}

// Run replays the chain's base and segments into Out.
func (rb *Rebuild) Run(ctx context.Context) (*Result, error) {
	ch := rb.Chain
	if ch.Base == nil {
		return nil, fmt.Errorf("the base snapshot at revision %d is not in %s", ch.BaseRevision, rb.Store)
	}
	res := &Result{File: rb.Out, Base: ch.Base.Name, Asked: rb.Revision, Revision: ch.BaseRevision, Seen: ch.Base.Time}
	if res.Asked == 0 && rb.Time.IsZero() {
		res.Asked = ch.Through
	}
	raw, done, err := snapshot.FetchRaw(ctx, rb.Store, ch.Base.Name, rb.Identity)
	if err != nil {
		return nil, err
	}
	defer done()
	tmp, err := fsutil.CreateTemp(rb.Out, 0o600)
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	// The base's database part, its trailer checked on the way.
	if _, _, err := snapshot.CopyChecked(raw, tmp.File); err != nil {
		return nil, err
	}
	if err := rb.replay(ctx, tmp.Name(), res); err != nil {
		return nil, err
	}
	sum, err := appendTrailer(tmp.File)
	if err != nil {
		return nil, err
	}
	res.SHA256 = sum
	if err := tmp.Publish(); err != nil {
		return nil, err
	}
	return res, nil
}

// appendTrailer appends the SHA-256 of the file's content, as etcd ends a
// snapshot stream.
func appendTrailer(f *os.File) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := h.Sum(nil)
	if _, err := f.Write(sum); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum), nil
}

// replay opens the database with etcd's backend, lessor and mvcc store
// and applies each recorded revision as one write transaction.
func (rb *Rebuild) replay(ctx context.Context, db string, res *Result) error {
	lg := zap.NewNop()
	be := backend.NewDefaultBackend(lg, db)
	defer be.Close()
	le := lease.NewLessor(lg, be, nil, lease.LessorConfig{MinLeaseTTL: 1})
	defer le.Stop()
	s := mvcc.NewStore(lg, be, le, mvcc.StoreConfig{})
	defer s.Close()
	if s.Rev() != rb.Chain.BaseRevision {
		return fmt.Errorf("base snapshot %s is at revision %d, its chain says %d", rb.Chain.Base.Name, s.Rev(), rb.Chain.BaseRevision)
	}
	done := false
	for _, seg := range rb.Chain.Segments {
		if done || ctx.Err() != nil {
			break
		}
		h, revs, err := Read(ctx, rb.Store, seg.Name, rb.Identity)
		if err != nil {
			if rb.Strict {
				return fmt.Errorf("%w (the chain breaks after revision %d; without --strict the restore stops there)", err, s.Rev())
			}
			res.Broken = err.Error()
			break
		}
		res.Segments++
		grant(le, h.Leases)
		for _, r := range revs {
			if r.Rev <= s.Rev() {
				continue
			}
			if (rb.Time.IsZero() && r.Rev > res.Asked) || (!rb.Time.IsZero() && r.Seen.After(rb.Time)) {
				done = true
				break
			}
			if err := apply(s, le, r); err != nil {
				return fmt.Errorf("%s: %w", rb.Store.Location(seg.Name), err)
			}
			res.Revisions++
			res.Events += len(r.Events)
			res.Revision, res.Seen = r.Rev, r.Seen
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rb.CompactTo > 0 && rb.CompactTo <= s.Rev() {
		ch, err := s.Compact(traceutil.TODO(), rb.CompactTo)
		if err != nil && !errors.Is(err, mvcc.ErrCompacted) {
			return fmt.Errorf("compact at %d: %w", rb.CompactTo, err)
		}
		if ch != nil {
			<-ch
		}
	}
	kh, _, err := s.HashStorage().HashByRev(s.Rev())
	if err != nil {
		return err
	}
	res.Hash, res.CompactRevision = kh.Hash, kh.CompactRevision
	return nil
}

// grant adds the leases a segment names first, with their TTLs.
func grant(le lease.Lessor, leases map[string]int64) {
	for id, ttl := range leases {
		n, err := strconv.ParseInt(id, 16, 64)
		if err != nil {
			continue
		}
		if ttl <= 0 {
			ttl = UnknownLeaseTTL
		}
		if le.Lookup(lease.LeaseID(n)) == nil {
			le.Grant(lease.LeaseID(n), ttl)
		}
	}
}

// apply writes one revision as one transaction and checks that the store
// gave it the recorded revision.
func apply(s mvcc.KV, le lease.Lessor, r Revision) error {
	if s.Rev()+1 != r.Rev {
		return fmt.Errorf("revision %d follows %d: the chain is not contiguous", r.Rev, s.Rev())
	}
	txn := s.Write(traceutil.TODO())
	for _, ev := range r.Events {
		switch ev.Type {
		case mvccpb.PUT:
			id := lease.LeaseID(ev.Kv.Lease)
			if id != lease.NoLease && le.Lookup(id) == nil {
				le.Grant(id, UnknownLeaseTTL)
			}
			txn.Put(ev.Kv.Key, ev.Kv.Value, id)
		case mvccpb.DELETE:
			txn.DeleteRange(ev.Kv.Key, nil)
		}
	}
	txn.End()
	if s.Rev() != r.Rev {
		return fmt.Errorf("revision %d replayed as %d", r.Rev, s.Rev())
	}
	return nil
}
