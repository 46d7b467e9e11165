package pitr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Request asks for the cluster as it was at a revision, or at a time.
type Request struct {
	Store    snapshot.Store
	Identity string
	// Cluster picks one cluster's chains where the store holds several.
	Cluster  string
	Revision int64
	Time     time.Time
	Strict   bool
	Out      string
	// Source, when set, is asked for its HashKV at the revision: the
	// rebuild is compacted where the source is, and must hash the same.
	Source *cluster.Session
}

// Point is a rebuilt snapshot: what the replay did, the sidecar a
// restore reads (the base's cluster and version at the new revision), and
// the proof.
type Point struct {
	*Result
	Sidecar *snapshot.Sidecar `json:"sidecar"`
	Proof   *Proof            `json:"proof,omitempty"`
}

// Proof compares a rebuild with the source: State is "proven" (equal
// HashKV at the revision), "differs", or "unavailable" (Reason says why:
// the source is gone, or compacted past the revision).
type Proof struct {
	State  string      `json:"state"`
	Source *SourceHash `json:"source,omitempty"`
	Reason string      `json:"reason,omitempty"`
}

// Rebuilt writes the snapshot of a point: it picks the chain, resolves a
// time to the last revision seen at or before it, asks the source for its
// hash, and replays.
func Rebuilt(ctx context.Context, req Request) (*Point, error) {
	chains, err := Chains(ctx, req.Store, req.Cluster)
	if err != nil {
		return nil, err
	}
	if err := oneCluster(chains); err != nil {
		return nil, err
	}
	rev := req.Revision
	var ch *Chain
	if !req.Time.IsZero() {
		if ch, err = chainAt(req, chains); err != nil {
			return nil, err
		}
		// The replay stops at the time by itself; the revision is read
		// first only when the source is to be asked for its hash there.
		if req.Source != nil {
			if rev, err = revisionAt(ctx, req, ch); err != nil {
				return nil, err
			}
		}
	} else if ch, err = Pick(chains, rev); err != nil {
		return nil, err
	}
	pt := &Point{}
	rb := &Rebuild{Store: req.Store, Identity: req.Identity, Chain: ch, Revision: rev, Strict: req.Strict, Out: req.Out}
	if rev == 0 {
		rb.Time = req.Time
	}
	if req.Source != nil {
		sh, err := HashAt(ctx, req.Source, rev)
		if err != nil {
			pt.Proof = &Proof{State: "unavailable", Reason: err.Error()}
		} else {
			pt.Proof = &Proof{Source: sh}
			rb.CompactTo = sh.CompactRevision
		}
	}
	if pt.Result, err = rb.Run(ctx); err != nil {
		return nil, err
	}
	if p := pt.Proof; p != nil && p.Source != nil {
		switch {
		case pt.Revision != rev:
			p.State, p.Reason = "unavailable", fmt.Sprintf("the rebuild stopped at %d", pt.Revision)
		case p.Source.Hash == pt.Hash && p.Source.CompactRevision == pt.CompactRevision:
			p.State = "proven"
		default:
			p.State = "differs"
			p.Reason = fmt.Sprintf("the rebuild hashes to %d (compacted at %d), member %s to %d (compacted at %d)",
				pt.Hash, pt.CompactRevision, p.Source.Member, p.Source.Hash, p.Source.CompactRevision)
		}
	}
	info, err := snapshot.ReadInfo(req.Out, false)
	if err != nil {
		return nil, err
	}
	base := ch.Base.Sidecar
	pt.Sidecar = &snapshot.Sidecar{File: req.Out, ClusterID: ch.Cluster, Member: base.Member, MemberID: base.MemberID,
		EtcdVersion: base.EtcdVersion, CreatedAt: pt.Seen, Info: *info}
	return pt, nil
}

// oneCluster refuses a store whose chains are of several clusters: their
// revisions are not comparable.
func oneCluster(chains []*Chain) error {
	ids := map[string]bool{}
	for _, ch := range chains {
		if len(ch.Segments) > 0 {
			ids[ch.Cluster] = true
		}
	}
	if len(ids) > 1 {
		var list []string
		for id := range ids {
			list = append(list, id)
		}
		sort.Strings(list)
		return fmt.Errorf("the store holds the history of several clusters (%s): name one with --cluster-id", strings.Join(list, ", "))
	}
	return nil
}

// chainAt is the newest chain whose base is not after the request's time.
func chainAt(req Request, chains []*Chain) (*Chain, error) {
	var ch *Chain
	for _, c := range chains {
		if c.Base != nil && !c.Base.Time.After(req.Time) {
			ch = c
		}
	}
	if ch == nil {
		return nil, fmt.Errorf("nothing in %s is as old as %s", req.Store, req.Time.Format(time.RFC3339))
	}
	return ch, nil
}

// revisionAt is the newest revision of the chain seen at or before the
// request's time, read from its segments in order.
func revisionAt(ctx context.Context, req Request, ch *Chain) (int64, error) {
	rev := ch.BaseRevision
	for _, s := range ch.Segments {
		_, revs, err := Read(ctx, req.Store, s.Name, req.Identity)
		if err != nil {
			if req.Strict {
				return 0, err
			}
			break
		}
		for _, r := range revs {
			if r.Seen.After(req.Time) {
				return rev, nil
			}
			rev = r.Rev
		}
	}
	return rev, nil
}

// Points lists what the store can rebuild: each chain's range and times,
// with the holes inside chains and the gaps between them.
type Points struct {
	Chains []*Chain `json:"chains"`
	Gaps   []Gap    `json:"gaps,omitempty"`
}

// List reads the chains and their newest times.
func List(ctx context.Context, store snapshot.Store, clusterID, identity string) (*Points, error) {
	chains, err := Chains(ctx, store, clusterID)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ch := range chains {
		if err := ch.ReadLastTime(ctx, store, identity); err != nil {
			errs = append(errs, err)
		}
	}
	return &Points{Chains: chains, Gaps: Gaps(chains)}, errors.Join(errs...)
}

// Verified is a verify of a rebuilt point.
type Verified struct {
	Point  *Point           `json:"point"`
	Report *snapshot.Report `json:"report"`
}

// OK is the report's verdict, and a proof that did not fail.
func (v *Verified) OK() bool {
	return v.Report.OK() && (v.Point.Proof == nil || v.Point.Proof.State != "differs") && v.Point.Broken == ""
}

// Restored is a restore of a rebuilt point.
type Restored struct {
	Point   *Point                  `json:"point"`
	Restore *snapshot.RestoreResult `json:"restore"`
}
